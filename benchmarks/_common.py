"""Shared by the benchmark scripts: print the headline JSON last and write it beside the results."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).parent / "results"


def cpu_model() -> dict[str, Any]:
    """The CPU's model name and whether it has AVX-512 (Linux /proc/cpuinfo; None elsewhere): figures differ by CPU."""
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return {"cpu": platform.processor() or None, "avx512": None}
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    return {"cpu": fields.get("model name"), "avx512": "avx512f" in fields.get("flags", "").split()}


def machine() -> dict[str, Any]:
    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None, **cpu_model()}


def report(name: str, headline: dict[str, Any], out: Path | None = None) -> None:
    """Write results/<name>.json (or `out`) and print the same JSON as the last line."""
    path = out or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(headline, sort_keys=True)
    path.write_text(text + "\n")
    print(text)
