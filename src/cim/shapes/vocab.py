"""The closed vocabulary of the synthetic shapes world: shapes, colours, sizes and relation words."""

from __future__ import annotations

from cim.errors import OptionError, check_choice

GRID: int = 3
"""The scene is a GRID × GRID board of cells, one object per cell."""

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "star", "cross")

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 160, 60),
    "blue": (40, 90, 220),
    "yellow": (240, 200, 20),
    "purple": (140, 50, 180),
    "orange": (250, 130, 20),
}
COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)
BACKGROUND: tuple[int, int, int] = (235, 235, 235)

SIZES: tuple[str, ...] = ("small", "large")
SIZE_FRACTIONS: dict[str, float] = {"small": 0.45, "large": 0.85}
"""Extent of an object as a fraction of its cell's side."""

ATTRIBUTE_KINDS: tuple[str, ...] = ("colour", "size")
ATTRIBUTE_VALUES: dict[str, tuple[str, ...]] = {"colour": COLOUR_NAMES, "size": SIZES}

LEFT_OF, RIGHT_OF, ABOVE, BELOW = "left of", "right of", "above", "below"
RELATIONS: tuple[str, ...] = (LEFT_OF, RIGHT_OF, ABOVE, BELOW)
CANONICAL_RELATIONS: tuple[str, ...] = (LEFT_OF, ABOVE)
"""Relation facts are stored as (a, "left of", b) or (a, "above", b) only."""
OPPOSITE: dict[str, str] = {LEFT_OF: RIGHT_OF, RIGHT_OF: LEFT_OF, ABOVE: BELOW, BELOW: ABOVE}
CANONICAL_OF: dict[str, str] = {LEFT_OF: LEFT_OF, RIGHT_OF: LEFT_OF, ABOVE: ABOVE, BELOW: ABOVE}
AXIS: dict[str, str] = {LEFT_OF: "horizontal", RIGHT_OF: "horizontal", ABOVE: "vertical", BELOW: "vertical"}


def canonical_relation(a: str, relation: str, b: str) -> tuple[str, str, str]:
    """Canonical form of a relation statement: "right of"/"below" statements are stored swapped.

    >>> canonical_relation("circle", "right of", "square")
    ('square', 'left of', 'circle')
    """
    check_choice("shape", a, SHAPES)
    check_choice("shape", b, SHAPES)
    check_choice("relation", relation, RELATIONS)
    if a == b:
        raise OptionError(f"a relation needs two different shapes, got {a!r} twice")
    if relation in CANONICAL_RELATIONS:
        return (a, relation, b)
    return (b, OPPOSITE[relation], a)
