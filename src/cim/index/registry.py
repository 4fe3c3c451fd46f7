"""Search backends by name: "exact" (default), "faiss:<factory string>", and short aliases."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

from cim.errors import UnknownNameError

if TYPE_CHECKING:
    import numpy as np

    from cim.index.base import SearchIndex

ALIASES = {"faiss-flat": "Flat", "faiss-hnsw": "HNSW32"}
NAMES = ["exact", "faiss:<factory>", "faiss-flat", "faiss-ivf", "faiss-hnsw"]


def check_index_name(name: str) -> str:
    """Return `name` if it names a search backend, else raise UnknownNameError listing them."""
    if name in ("exact", "faiss-ivf") or name in ALIASES or (name.startswith("faiss:") and len(name) > len("faiss:")):
        return name
    raise UnknownNameError("search backend", name, NAMES)


def faiss_factory(name: str, size: int) -> str | None:
    """The FAISS factory string a backend name stands for, or None for exact search."""
    if name == "exact":
        return None
    if name in ALIASES:
        return ALIASES[name]
    if name == "faiss-ivf":
        nlist = max(1, int(4 * math.sqrt(size)))  # the usual 4·√N lists
        return f"IVF{nlist},Flat"
    return check_index_name(name).removeprefix("faiss:")


def make_index(
    name: str,
    matrix: np.ndarray,
    device: str | None = None,
    cache_dir: Path | None = None,
    cache_key: str = "",
    nprobe: int = 32,
) -> SearchIndex:
    """Build (or load from `cache_dir`) the named index over `matrix` rows."""
    factory = faiss_factory(name, len(matrix))
    if factory is None:
        from cim.index.exact import ExactIndex

        return ExactIndex(matrix, device=device)
    from cim.index.faiss_index import FaissIndex

    cache = None
    if cache_dir is not None and factory != "Flat":  # a flat index is as fast to rebuild as to read
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", factory)
        cache = Path(cache_dir) / f"{safe}-{cache_key}.faiss"
    return FaissIndex(matrix, factory, nprobe=nprobe, cache=cache)
