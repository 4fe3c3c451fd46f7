"""Where cim keeps reusable artefacts (default galleries, base models)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$CIM_HOME, else ~/.cache/cim."""
    return Path(os.environ.get("CIM_HOME") or Path.home() / ".cache" / "cim")


def default_shapes_gallery(count: int = 20000) -> Path:
    """Cached location of the default shapes gallery of `count` scenes."""
    return cache_dir() / "galleries" / f"shapes-{count}-minilm-efficientnet-lite0-global-128"
