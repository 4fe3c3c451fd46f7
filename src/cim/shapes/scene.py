"""Seeded scenes of 2–5 objects on a 3×3 grid, and the fixed, deterministic splits."""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from cim.errors import InputError, OptionError, check_choice
from cim.shapes.facts import Facts
from cim.shapes.vocab import COLOUR_NAMES, GRID, SHAPES, SIZES

__all__ = [
    "SPLITS",
    "Facts",
    "Scene",
    "ShapeObject",
    "generate_scene",
    "scene_facts",
    "scene_from_id",
    "split_scenes",
    "stable_seed",
]

SPLITS: dict[str, int] = {"gallery": 20000, "train": 2000, "val": 200, "test": 500}
_ID_RE = re.compile(r"shapes-([a-z]+)-(\d{5})")


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from the parts' text (sha256; the same in every process, unlike hash())."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


@dataclass(frozen=True)
class ShapeObject:
    """One object: shape, colour and size names from the vocabulary, and its grid cell."""

    shape: str
    colour: str
    size: str
    row: int
    col: int

    def __post_init__(self) -> None:
        check_choice("shape", self.shape, SHAPES)
        check_choice("colour", self.colour, COLOUR_NAMES)
        check_choice("size", self.size, SIZES)
        for name, value in (("row", self.row), ("col", self.col)):
            if not isinstance(value, int) or not 0 <= value < GRID:
                raise ValueError(f"{name} must be an int in 0..{GRID - 1}, got {value!r}")

    @property
    def cell(self) -> int:
        """Cell index in reading order (row-major, 0..8)."""
        return self.row * GRID + self.col


@dataclass(frozen=True)
class Scene:
    """A scene: its id and its objects in reading order (unique shapes, distinct cells)."""

    id: str
    objects: tuple[ShapeObject, ...]

    def __post_init__(self) -> None:
        objects = tuple(sorted(self.objects, key=lambda o: o.cell))
        if len({o.shape for o in objects}) != len(objects):
            raise ValueError(f"scene {self.id}: shapes must be unique within a scene")
        if len({o.cell for o in objects}) != len(objects):
            raise ValueError(f"scene {self.id}: objects must sit in distinct cells")
        object.__setattr__(self, "objects", objects)

    @property
    def shapes(self) -> tuple[str, ...]:
        """Shape names in reading order."""
        return tuple(o.shape for o in self.objects)

    def object(self, shape: str) -> ShapeObject:
        """The object with this shape; ValueError if the scene has none."""
        for o in self.objects:
            if o.shape == shape:
                return o
        raise ValueError(f"scene {self.id} has no {shape!r}; it has: {', '.join(self.shapes)}")

    def facts(self) -> Facts:
        """All true facts of the scene (see `scene_facts`)."""
        return scene_facts(self)


def generate_scene(rng: random.Random, scene_id: str, min_objects: int = 2, max_objects: int = 5) -> Scene:
    """A random scene: min..max objects with distinct shapes in distinct cells, colour and size uniform."""
    if not 1 <= min_objects <= max_objects <= len(SHAPES):
        raise ValueError(
            f"need 1 <= min_objects <= max_objects <= {len(SHAPES)}, got {min_objects}, {max_objects}"
        )
    n = rng.randint(min_objects, max_objects)
    shapes = rng.sample(SHAPES, n)
    cells = rng.sample(range(GRID * GRID), n)
    objects = tuple(
        ShapeObject(shape, rng.choice(COLOUR_NAMES), rng.choice(SIZES), cell // GRID, cell % GRID)
        for shape, cell in zip(shapes, cells, strict=True)
    )
    return Scene(scene_id, objects)


def scene_id(split: str, index: int) -> str:
    """The id of scene `index` of `split`: "shapes-<split>-<index:05d>"."""
    return f"shapes-{split}-{index:05d}"


def _scene(split: str, index: int) -> Scene:
    return generate_scene(random.Random(stable_seed("cim.shapes", split, index)), scene_id(split, index))


def split_scenes(split: str, n: int | None = None, start: int = 0) -> list[Scene]:
    """Scenes start .. start+n-1 of a split (all remaining ones when n is None).

    Scene i of a split depends only on (split, i), never on n or start.
    """
    check_choice("split", split, SPLITS)
    size = SPLITS[split]
    if not isinstance(start, int) or not 0 <= start <= size:
        raise OptionError(f"start must be in 0..{size} for split {split!r}, got {start!r}")
    if n is None:
        n = size - start
    if not isinstance(n, int) or n < 0 or start + n > size:
        raise OptionError(f"split {split!r} has {size} scenes; cannot take n={n!r} from start={start}")
    return [_scene(split, i) for i in range(start, start + n)]


def scene_from_id(scene_id: str) -> Scene:
    """The scene with an id "shapes-<split>-<index:05d>"; InputError for any other id."""
    match = _ID_RE.fullmatch(scene_id)
    if match is None:
        raise InputError(
            f"bad scene id {scene_id!r}; expected 'shapes-<split>-<5 digits>' with split in "
            f"{', '.join(SPLITS)}"
        )
    split, index = match.group(1), int(match.group(2))
    check_choice("split", split, SPLITS)
    if index >= SPLITS[split]:
        raise InputError(f"scene id {scene_id!r}: split {split!r} has only {SPLITS[split]} scenes")
    return _scene(split, index)


def scene_facts(scene: Scene) -> Facts:
    """All true facts of a scene: its objects, their colour and size, and every defined relation."""
    objects = {o.shape for o in scene.objects}
    attributes = {(o.shape, "colour", o.colour) for o in scene.objects}
    attributes |= {(o.shape, "size", o.size) for o in scene.objects}
    relations = set()
    for i, a in enumerate(scene.objects):
        for b in scene.objects[i + 1 :]:
            if a.col != b.col:
                left, right = (a, b) if a.col < b.col else (b, a)
                relations.add((left.shape, "left of", right.shape))
            if a.row != b.row:
                top, bottom = (a, b) if a.row < b.row else (b, a)
                relations.add((top.shape, "above", bottom.shape))
    return Facts(frozenset(objects), frozenset(attributes), frozenset(relations))
