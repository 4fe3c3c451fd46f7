"""What the sentences of one caption share: the shapes named so far, for pronouns, and collective
values ("two small shapes", "all yellow") that bind to shapes named in other sentences.

Pronoun rules (heuristics that held on the paraphrase set, tests/data/paraphrases.jsonl):
- "it"/"its"/"that" as an object: the latest named shape other than the relation's subjects; a
  later object "it" in the same sentence repeats the earlier one's referent unless another object
  was named in between ("Above it is a circle, and to its left is a star": both the same shape);
- "it" as a subject: the latest clause subject ("The cross is large, and it is below the star");
- "they"/"them": the latest group of two or more shapes ("both of them": the two latest shapes);
- "the former"/"the latter": the first/last shape of the latest group of two or more.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cim.shapes.facts import Facts
from cim.shapes.phrases import Attribute, NounPhrase
from cim.shapes.vocab import ATTRIBUTE_KINDS


def shapes_of(group: list[NounPhrase]) -> set[str]:
    """The shapes a group of noun phrases names (negated ones excluded)."""
    return {p.shape for p in group if p.shape and not p.negated}


def _named(shapes: object) -> list[NounPhrase]:
    return [NounPhrase("shape", s) for s in dict.fromkeys(shapes)]  # type: ignore[call-overload]


@dataclass
class Context:
    """The discourse state of one caption, shared by its sentence readers."""

    history: list[NounPhrase] = field(default_factory=list)  # named shapes in reading order
    subject: list[NounPhrase] | None = None  # the latest clause subject
    groups: list[list[NounPhrase]] = field(default_factory=list)  # every noun-phrase group so far
    collective: list[tuple[Attribute, int, bool]] = field(default_factory=list)
    """Values stated for all shapes: (value, shapes named before it, applies to later shapes?)."""

    def add_collective(self, attributes: list[Attribute], forward: bool) -> None:
        """ "two small shapes: ..." (forward: the shapes named next) or "both are small" (the ones before)."""
        self.collective += [(a, len(self.history), forward) for a in attributes]

    def latest_group(self, excluded: frozenset[str] | set[str] = frozenset()) -> list[NounPhrase] | None:
        """The latest group of two or more shapes, none of them excluded."""
        return next(
            (g for g in reversed(self.groups) if len(shapes_of(g)) >= 2 and not shapes_of(g) & excluded), None
        )

    def plural(self, as_object: bool, excluded: set[str]) -> list[NounPhrase]:
        """What "they"/"them" stand for."""
        subject = self.subject or []
        if not as_object and len(shapes_of(subject)) >= 2:
            return _named(p.shape for p in subject if p.shape)
        group = self.latest_group(excluded)
        if group is not None:
            return _named(p.shape for p in group if p.shape)
        latest = list(dict.fromkeys(p.shape for p in reversed(self.history) if p.shape not in excluded))
        return _named(latest[:2]) if len(latest) >= 2 else []  # "both of them"

    def antecedent(
        self, as_object: bool, excluded: set[str], parallel: NounPhrase | None
    ) -> NounPhrase | None:
        """What "it" stands for (see the module docstring); `parallel` is the sentence's earlier object "it"."""
        if not as_object:
            subject = [p for p in self.subject or [] if p.shape and not p.negated]
            return subject[-1] if subject else (self.history[-1] if self.history else None)
        if parallel is not None and parallel.shape not in excluded:
            return parallel
        return next((p for p in reversed(self.history) if p.shape not in excluded), None)

    def resolve(
        self, phrase: NounPhrase, as_object: bool, excluded: set[str], parallel: NounPhrase | None
    ) -> list[NounPhrase]:
        """The shapes a pronoun phrase stands for ([] if none)."""
        if phrase.pronoun in ("former", "latter"):
            pair = self.latest_group() or []
            named = list(dict.fromkeys(p.shape for p in pair if p.shape and not p.negated))
            return _named(named[:1] if phrase.pronoun == "former" else named[-1:])
        if phrase.pronoun == "they":
            return self.plural(as_object, excluded)
        antecedent = self.antecedent(as_object, excluded, parallel)
        return [NounPhrase("shape", antecedent.shape)] if antecedent else []

    def with_collective(self, facts: Facts) -> Facts:
        """Collective values for every named shape without a value of that kind of its own: the
        latest earlier forward one, else the first backward one stated after the shape was named."""
        first: dict[str, int] = {}
        for i, phrase in enumerate(self.history):
            first.setdefault(phrase.shape, i)  # type: ignore[arg-type]
        extra = set()
        for shape in facts.objects:
            own = facts.attributes_of(shape)
            at = first.get(shape, 0)
            for kind in ATTRIBUTE_KINDS:
                values = [
                    (v, pos, fwd) for (k, v), pos, fwd in self.collective if k == kind and not own[kind]
                ]
                back = [v for v, pos, fwd in values if not fwd and pos > at]
                ahead = [(pos, v) for v, pos, fwd in values if (fwd or pos == 0) and pos <= at]
                if back or ahead:
                    extra.add((shape, kind, back[0] if back else max(ahead)[1]))
        return Facts(facts.objects, facts.attributes | extra, facts.relations)
