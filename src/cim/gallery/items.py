"""Gallery items from a JSONL file or from the embedded shapes world, and how their images load."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from cim import images
from cim.errors import InputError
from cim.io import read_jsonl

SHAPES_PREFIX = "shapes:"


@dataclass(frozen=True)
class GalleryItem:
    """One image–caption pair; `image` is a file path or a "shapes:<scene id>" reference."""

    id: str
    caption: str
    image: str


def read_items(path: Path) -> list[GalleryItem]:
    """Items from JSONL lines {"id", "caption", "image"}; image paths resolve against the file's folder."""
    path = Path(path)
    items, seen = [], {}
    for line, row in read_jsonl(path):
        for field in ("id", "caption", "image"):
            if not isinstance(row.get(field), str) or not row[field].strip():
                raise InputError(f"field {field!r} must be a non-empty string", source=str(path), line=line)
        if row["id"] in seen:
            raise InputError(f"duplicate id {row['id']!r} (first on line {seen[row['id']]})", source=str(path), line=line)
        seen[row["id"]] = line
        image = (path.parent / row["image"]).resolve()
        if not image.is_file():
            raise InputError(f"image not found for id {row['id']!r}: {image}", source=str(path), line=line)
        items.append(GalleryItem(row["id"], row["caption"], str(image)))
    if not items:
        raise InputError("no items", source=str(path))
    return items


def shapes_items(n: int) -> list[GalleryItem]:
    """The first n scenes of the shapes gallery split, with complete captions."""
    from cim.shapes import caption_for_level, split_scenes

    return [
        GalleryItem(scene.id, caption_for_level(scene, "complete", None), SHAPES_PREFIX + scene.id)
        for scene in split_scenes("gallery", n)
    ]


def open_image(reference: str, render_size: int = 128) -> Image.Image:
    """Load an item's image as RGB: decode a file (see cim.images), or render a shapes scene."""
    if reference.startswith(SHAPES_PREFIX):
        from cim.shapes import render_scene, scene_from_id

        return render_scene(scene_from_id(reference.removeprefix(SHAPES_PREFIX)), size=render_size)
    return images.open_image(reference)


def find_bad_images(items: Sequence[GalleryItem]) -> list[tuple[GalleryItem, str]]:
    """Items whose image file fails the header check (format, pixel limit), with the reason; nothing is decoded."""
    bad = []
    for item in items:
        if item.image.startswith(SHAPES_PREFIX):
            continue
        try:
            images.read_header(item.image)
        except InputError as error:
            bad.append((item, str(error)))
    return bad
