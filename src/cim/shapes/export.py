"""Export of a split as PNG images plus a captions.jsonl file, written atomically."""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path

from cim.errors import InputError, check_choice
from cim.images import read_header
from cim.shapes.grammar import LEVELS, caption_for_level
from cim.shapes.render import render_scene
from cim.shapes.scene import Scene, split_scenes, stable_seed


def _write_atomic(path: Path, write) -> None:
    """Call write(temp_path) on a temporary file next to `path`, then move it into place."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(temp))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _has_size(path: Path, size: int) -> bool:
    try:
        return read_header(path)[1] == (size, size)
    except InputError:  # missing, unreadable or refused: render it again
        return False


def export_images(scenes: list[Scene], out_dir: Path, size: int = 128) -> list[str]:
    """Write out_dir/images/<id>.png for each scene (existing PNGs of the same size are kept).

    Returns each image's path relative to out_dir, as caption files beside the folder name them.
    """
    images = Path(out_dir) / "images"
    images.mkdir(parents=True, exist_ok=True)
    for scene in scenes:
        image_path = images / f"{scene.id}.png"
        if not _has_size(image_path, size):
            image = render_scene(scene, size)
            _write_atomic(image_path, lambda p, image=image: image.save(p, format="PNG"))
    return [f"images/{scene.id}.png" for scene in scenes]


def export_split(
    split: str, level: str, out_dir: Path, size: int = 128, n: int | None = None, seed: int = 0
) -> Path:
    """Write out_dir/images/<id>.png and out_dir/captions.jsonl for the first n scenes of `split`.

    Each JSONL line: {"id", "caption", "image" (relative to the JSONL's folder), "level"}. Captions
    use a per-scene rng seeded from (seed, level, id). Existing PNGs of the same size are kept.
    Returns the JSONL path.
    """
    check_choice("caption level", level, LEVELS)
    scenes = split_scenes(split, n)
    out_dir = Path(out_dir)
    lines = []
    for scene, image in zip(scenes, export_images(scenes, out_dir, size)):
        rng = random.Random(stable_seed("cim.shapes.export", seed, level, scene.id))
        caption = caption_for_level(scene, level, rng)
        record = {"id": scene.id, "caption": caption, "image": image, "level": level}
        lines.append(json.dumps(record, ensure_ascii=False))
    jsonl = out_dir / "captions.jsonl"
    _write_atomic(jsonl, lambda p: p.write_text("".join(line + "\n" for line in lines), encoding="utf-8"))
    return jsonl
