"""Facts of a scene or a caption: sets of object, attribute and relation facts.

A fact set can be true or false for a scene (a caption can state wrong things). Relation facts are
always canonical: (a, "left of", b) or (a, "above", b); a "right of"/"below" input is stored swapped.
A fact set is *closed* when every shape named by an attribute or a relation is also an object fact;
`read_facts` always returns closed facts, because naming a shape states that it is present.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cim.shapes.vocab import (
    ATTRIBUTE_KINDS,
    ATTRIBUTE_VALUES,
    SHAPES,
    canonical_relation,
    check_choice,
)

Attribute = tuple[str, str, str]
Relation = tuple[str, str, str]
FACT_KINDS: tuple[str, ...] = ("objects", "attributes", "relations")


@dataclass(frozen=True)
class Facts:
    """Three frozensets of facts over the shapes vocabulary (any iterables are accepted and frozen).

    objects: {shape}; attributes: {(shape, "colour"|"size", value)};
    relations: {(shape_a, "left of"|"above", shape_b)} (other relation words are canonicalised).
    Values outside the vocabulary raise ValueError.
    """

    objects: frozenset[str] = field(default_factory=frozenset)
    attributes: frozenset[Attribute] = field(default_factory=frozenset)
    relations: frozenset[Relation] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        objects = frozenset(check_choice("shape", s, SHAPES) for s in self.objects)
        attributes = set()
        for fact in self.attributes:
            shape, kind, value = fact
            check_choice("shape", shape, SHAPES)
            check_choice("attribute kind", kind, ATTRIBUTE_KINDS)
            check_choice(kind, value, ATTRIBUTE_VALUES[kind])
            attributes.add((shape, kind, value))
        relations = frozenset(canonical_relation(*fact) for fact in self.relations)
        object.__setattr__(self, "objects", objects)
        object.__setattr__(self, "attributes", frozenset(attributes))
        object.__setattr__(self, "relations", relations)

    def union(self, *others: Facts) -> Facts:
        """All facts of this set and of `others`."""
        return Facts(
            self.objects.union(*(o.objects for o in others)),
            self.attributes.union(*(o.attributes for o in others)),
            self.relations.union(*(o.relations for o in others)),
        )

    __or__ = union

    def count(self, kind: str = "all") -> int:
        """Number of facts of one kind ("objects", "attributes", "relations") or of "all" kinds."""
        check_choice("fact kind", kind, (*FACT_KINDS, "all"))
        if kind == "all":
            return len(self.objects) + len(self.attributes) + len(self.relations)
        return len(getattr(self, kind))

    def counts(self) -> dict[str, int]:
        """Number of facts per kind plus "all"."""
        return {kind: self.count(kind) for kind in (*FACT_KINDS, "all")}

    def __len__(self) -> int:
        return self.count("all")

    def tagged(self) -> frozenset[tuple]:
        """All facts pooled into one set, each tagged by its kind (for pooled scores)."""
        return frozenset(
            [("object", s) for s in self.objects]
            + [("attribute", *a) for a in self.attributes]
            + [("relation", *r) for r in self.relations]
        )

    def mentioned_shapes(self) -> frozenset[str]:
        """Every shape named by any fact."""
        named = (
            {a[0] for a in self.attributes} | {r[0] for r in self.relations} | {r[2] for r in self.relations}
        )
        return self.objects | named

    def closed(self) -> Facts:
        """The same facts plus an object fact for every shape named by an attribute or relation."""
        return Facts(self.mentioned_shapes(), self.attributes, self.relations)

    def is_closed(self) -> bool:
        """True when every shape named by an attribute or relation is an object fact."""
        return self.mentioned_shapes() == self.objects

    def attributes_of(self, shape: str) -> dict[str, tuple[str, ...]]:
        """Values stated for `shape`, per attribute kind, in vocabulary order."""
        return {
            kind: tuple(v for v in ATTRIBUTE_VALUES[kind] if (shape, kind, v) in self.attributes)
            for kind in ATTRIBUTE_KINDS
        }

    @classmethod
    def build(
        cls,
        objects: Iterable[str] = (),
        attributes: Iterable[Attribute] = (),
        relations: Iterable[Relation] = (),
    ) -> Facts:
        """Closed facts from any iterables (relations in any direction word)."""
        return cls(frozenset(objects), frozenset(attributes), frozenset(relations)).closed()
