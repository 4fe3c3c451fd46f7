# Two entry points for a fresh machine: `make demo` (the main job) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# Pinned: an unpinned torch would pull a multi-GB CUDA build from the registry.
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

.PHONY: install demo test lint
install: $(VENV)/.installed

demo: install
	$(VENV)/bin/cim demo

# The report's browser test drives Debian's chromium (headless, through Playwright).
$(VENV)/.chromium:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
	@mkdir -p $(VENV) && touch $@

test: install $(VENV)/.chromium
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check src tests benchmarks experiments
