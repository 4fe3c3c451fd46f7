"""Where cim keeps reusable artefacts (named galleries, base models)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$CIM_HOME, else ~/.cache/cim."""
    return Path(os.environ.get("CIM_HOME") or Path.home() / ".cache" / "cim")
