"""Rendering of scenes to RGB PIL images: flat shapes centred in their grid cells."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

from cim.errors import OptionError
from cim.shapes.scene import Scene, ShapeObject
from cim.shapes.vocab import BACKGROUND, COLOURS, GRID, SIZE_FRACTIONS

_SUPERSAMPLE = 4


def _polygon(obj: ShapeObject, cx: float, cy: float, r: float) -> list[tuple[float, float]] | None:
    """Vertices of the object's outline (None for a circle), r = half the object's extent."""
    if obj.shape == "square":
        h = 0.82 * r
        return [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    if obj.shape == "triangle":
        return [(cx, cy - r), (cx + r, cy + 0.8 * r), (cx - r, cy + 0.8 * r)]
    if obj.shape == "diamond":
        return [(cx, cy - r), (cx + 0.7 * r, cy), (cx, cy + r), (cx - 0.7 * r, cy)]
    if obj.shape == "star":
        points = []
        for k in range(10):
            radius = r if k % 2 == 0 else 0.45 * r
            angle = -math.pi / 2 + k * math.pi / 5
            points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
        return points
    if obj.shape == "cross":
        t = 0.33 * r
        return [
            (cx - t, cy - r), (cx + t, cy - r), (cx + t, cy - t), (cx + r, cy - t),
            (cx + r, cy + t), (cx + t, cy + t), (cx + t, cy + r), (cx - t, cy + r),
            (cx - t, cy + t), (cx - r, cy + t), (cx - r, cy - t), (cx - t, cy - t),
        ]  # fmt: skip
    return None


def render_scene(scene: Scene, size: int = 128, antialias: bool = True) -> Image.Image:
    """Draw `scene` on a size×size light-grey RGB image; each object centred in its cell (size/3).

    With `antialias`, the scene is drawn at 4× and box-downsampled, so interiors keep exact colours.
    """
    if not isinstance(size, int) or size < GRID * 4:
        raise OptionError(f"size must be an int >= {GRID * 4} pixels, got {size!r}")
    scale = _SUPERSAMPLE if antialias else 1
    canvas = size * scale
    image = Image.new("RGB", (canvas, canvas), BACKGROUND)
    draw = ImageDraw.Draw(image)
    cell = canvas / GRID
    for obj in scene.objects:
        cx, cy = (obj.col + 0.5) * cell, (obj.row + 0.5) * cell
        r = SIZE_FRACTIONS[obj.size] * cell / 2
        colour = COLOURS[obj.colour]
        points = _polygon(obj, cx, cy, r)
        if points is None:
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
        else:
            draw.polygon(points, fill=colour)
    return image.reduce(scale) if scale > 1 else image
