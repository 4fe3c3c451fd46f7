"""Galleries by name: "shapes-<count>[-<pooling>]" is a cached shapes gallery built on first use.

Every `--gallery` (CLI, recipes, experiments) accepts a folder or such a name; none means DEFAULT_GALLERY.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from cim.gallery.build import BuildConfig, build_gallery
from cim.gallery.items import shapes_items
from cim.gallery.manifest import MANIFEST
from cim.paths import cache_dir

DEFAULT_GALLERY = "shapes-20000"
SHAPES_GALLERY_NAME = re.compile(r"shapes-(\d+)(?:-(\w+))?")
"""A cached shapes gallery by name: shapes-<count>[-<pooling>], e.g. shapes-20000 or shapes-5000-grid2."""
BuildProgress = Callable[[str, int, int], None]


def shapes_gallery_path(count: int = 20000, pooling: str = "global") -> Path:
    """Cached location of the shapes gallery of `count` scenes (bundled encoders, 128 px, given image pooling)."""
    return cache_dir() / "galleries" / f"shapes-{count}-minilm-efficientnet-lite0-{pooling}-128"


def ensure_shapes_gallery(count: int, progress: BuildProgress | None = None, pooling: str = "global") -> Path:
    """Build a shapes gallery once (resuming an interrupted build); reuse it afterwards."""
    path = shapes_gallery_path(count, pooling)
    if not (path / MANIFEST).is_file():
        report = (lambda done, total: progress("building gallery", done, total)) if progress else None
        source = {"kind": "shapes", "split": "gallery", "count": count}
        build_gallery(shapes_items(count), path, BuildConfig(pooling=pooling, image_size=128), source, report)
    return path


def resolve_gallery(name_or_path: str | Path | None = None, progress: BuildProgress | None = None) -> Path:
    """A gallery folder as given, or the cached shapes gallery a name like "shapes-5000" stands for (built once);
    None stands for DEFAULT_GALLERY."""
    name_or_path = DEFAULT_GALLERY if name_or_path is None else name_or_path
    match = SHAPES_GALLERY_NAME.fullmatch(str(name_or_path))
    if match and not Path(name_or_path).exists():
        return ensure_shapes_gallery(int(match[1]), progress, match[2] or "global")
    return Path(name_or_path)
