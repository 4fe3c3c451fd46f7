"""Shared by the benchmark scripts: print the headline JSON last and write it beside the results."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None}


def report(name: str, headline: dict[str, Any], out: Path | None = None) -> None:
    """Write results/<name>.json (or `out`) and print the same JSON as the last line."""
    path = out or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(headline, sort_keys=True)
    path.write_text(text + "\n")
    print(text)
