"""The offline fact extractor "shapes": the shapes world's rule-based reader (`cim.shapes.read_facts`).

Tuples: ("object", shape), ("attribute", shape, "colour"|"size", value) and canonical relations
("relation", a, "left of"|"above", b) ("right of"/"below" statements are stored swapped, so the two ways
of saying one fact give the same tuple). Free English outside our grammar is read too (see the reader).
"""

from __future__ import annotations

from collections.abc import Sequence

from cim.reward.extractors import FactTuple


class ShapesExtractor:
    """Facts over the shapes vocabulary read from free English; anything else states nothing."""

    spec = "shapes"

    def extract(self, texts: Sequence[str]) -> list[frozenset[FactTuple]]:
        from cim.shapes import read_facts

        return [read_facts(text).tagged() for text in texts]


def load(spec: str, device: str | None = None) -> ShapesExtractor:
    """The shapes reader (it runs on the CPU; `device` is ignored)."""
    return ShapesExtractor()
