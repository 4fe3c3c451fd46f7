"""cim: Cross-modal Identity Mapping rewards for captioning models.

Heavy modules load on first use, so `import cim` (and `cim --help`) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Gallery": "cim.gallery.store",
    "CIMScorer": "cim.reward.scorer",
    "CaptionScore": "cim.wire.schemas",
    "ScorerOptions": "cim.reward.options",
    "load_text_encoder": "cim.encoders.registry",
    "load_image_encoder": "cim.encoders.registry",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cim' has no attribute {name!r}")
