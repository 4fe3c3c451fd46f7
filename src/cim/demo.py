"""The main job on the embedded default: shapes gallery, SHAPES-500 caption levels, CIM scores."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cim.gallery.build import BuildConfig, build_gallery
from cim.gallery.items import shapes_items
from cim.gallery.manifest import MANIFEST
from cim.io import write_json
from cim.paths import default_shapes_gallery
from cim.reward.score_file import score_file
from cim.reward.scorer import CIMScorer

LEVELS = ("complete", "no-attributes", "one-object", "wrong")
DemoProgress = Callable[[str, int, int], None]


def ensure_shapes_gallery(count: int, progress: DemoProgress | None = None, pooling: str = "global") -> Path:
    """Build a shapes gallery once (resuming an interrupted build); reuse it afterwards."""
    path = default_shapes_gallery(count, pooling)
    if not (path / MANIFEST).is_file():
        report = (lambda done, total: progress("building gallery", done, total)) if progress else None
        source = {"kind": "shapes", "split": "gallery", "count": count}
        build_gallery(shapes_items(count), path, BuildConfig(pooling=pooling, image_size=128), source, report)
    return path


def ordering_checks(summaries: dict[str, dict[str, Any]]) -> tuple[bool, list[str]]:
    """Is each level's mean reward above the next one's by more than 2 standard errors of the gap?"""
    lines, ordered = [], True
    for upper, lower in zip(LEVELS, LEVELS[1:]):
        a, b = summaries[upper], summaries[lower]
        gap = a["reward_mean"] - b["reward_mean"]
        se = math.hypot(a["reward_se"], b["reward_se"])
        passed = gap > 2 * se
        ordered &= passed
        lines.append(f"{upper} > {lower}: gap {gap:+.4f}, {gap / se:.1f} standard errors {'✓' if passed else '✗'}")
    return ordered, lines


def run_demo(
    workdir: Path, gallery_size: int = 20000, progress: DemoProgress | None = None, test_scenes: int | None = None
) -> dict[str, Any]:
    """Score the four SHAPES-500 caption levels (or the first `test_scenes`) against the shapes gallery, clean mode."""
    from cim.shapes import export_split

    workdir = Path(workdir)
    gallery = ensure_shapes_gallery(gallery_size, progress)
    scorer = CIMScorer(gallery)
    summaries = {}
    for i, level in enumerate(LEVELS):
        if progress:
            progress(f"scoring {level}", i, len(LEVELS))
        captions = export_split("test", level, workdir / "shapes-500" / level, size=128, n=test_scenes)
        summaries[level] = score_file(scorer, captions, workdir / "scores" / f"{level}.jsonl")
    ordered, checks = ordering_checks(summaries)
    result = {"gallery": str(gallery), "summaries": summaries, "checks": checks, "ordered": ordered}
    write_json(workdir / "results.json", result)
    return result
