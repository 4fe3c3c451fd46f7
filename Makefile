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

# verl 0.9 and OpenRLHF 0.11 in a venv beside $(VENV) that reuses its packages through a .pth file: both go in
# with --no-deps (they pin other transformers than ours and each other's), then cim[trainers], what their reward
# code imports. $(VENV) itself is left untouched.
TVENV ?= .venv-trainers
TPY := $(TVENV)/bin/python
TRAINERS := verl==0.9.1 openrlhf==0.11.2
SITE := import sysconfig; print(sysconfig.get_paths()["purelib"])

$(TVENV)/.installed: $(VENV)/.installed pyproject.toml
	$(PY) -m venv $(TVENV)
	$(PY) -c '$(SITE)' > "$$($(TPY) -c '$(SITE)')/cim-base-venv.pth"
	$(TPY) -m pip install -q --no-deps $(TRAINERS)
	$(TPY) -m pip install -q -e '.[trainers]'
	touch $@

.PHONY: install demo test test-trainers lint
install: $(VENV)/.installed

demo: install
	$(VENV)/bin/cim demo

# The report's browser test drives Debian's chromium (headless, through Playwright).
$(VENV)/.chromium:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
	@mkdir -p $(VENV) && touch $@

test: install $(VENV)/.chromium
	$(PY) -m pytest

# Our adapters inside the real trainers' reward code (pytest marker `trainers`; `make test` skips them).
test-trainers: $(TVENV)/.installed
	$(TPY) -m pytest -m trainers

lint: install
	$(VENV)/bin/ruff check src tests benchmarks experiments
