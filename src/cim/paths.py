"""Where cim keeps reusable artefacts (default galleries, base models)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$CIM_HOME, else ~/.cache/cim."""
    return Path(os.environ.get("CIM_HOME") or Path.home() / ".cache" / "cim")


def default_shapes_gallery(count: int = 20000, pooling: str = "global") -> Path:
    """Cached location of the shapes gallery of `count` scenes (bundled encoders, 128 px, given image pooling)."""
    return cache_dir() / "galleries" / f"shapes-{count}-minilm-efficientnet-lite0-{pooling}-128"
