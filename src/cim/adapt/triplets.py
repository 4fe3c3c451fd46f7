"""(anchor, positive, negative) triplets from a gallery's own captions, for training and for held-out validation.

Training: anchor = a caption; positive = `paraphrase` of it (converse relations, shuffled sentences); negative =
one of NEGATIVES applied to the anchor or to the positive (so neither word order nor the anchor's surface is a
cue), the kind drawn by NEGATIVE_WEIGHTS among the kinds whose pattern occurs in the caption.

Validation: captions held out from training, every relation rewritten with HELDOUT_PHRASES (a phrasing no
training text contains). For each held-out caption c and kind k in VALIDATION_KINDS:
anchor = rephrase(c), positive = rephrase(shuffled c), negative = the same rephrasing (same phrase choices) of
the shuffled c after the kind's change; so positive and negative differ only in what the negative changed.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from cim.adapt.negatives import (
    NEGATIVES,
    paraphrase,
    rephrase_relations,
    shuffle_sentences,
    swap_attributes,
    swap_relations,
)

NEGATIVE_WEIGHTS: dict[str, float] = {"relation": 0.5, "attribute": 0.25, "object": 0.15, "words": 0.1}
"""How often each negative kind is drawn (renormalised over the kinds that apply to a caption)."""
VALIDATION_KINDS = ("relation", "attribute")


@dataclass(frozen=True)
class Triplet:
    anchor: str
    positive: str
    negative: str
    kind: str


@dataclass
class ValidationSet:
    """Held-out triplets by kind, and (caption, relation-swapped twin) pairs in both phrasings."""

    triplets: dict[str, list[Triplet]] = field(default_factory=dict)
    twins: list[tuple[str, str]] = field(default_factory=list)  # as in the gallery
    heldout_twins: list[tuple[str, str]] = field(default_factory=list)  # in HELDOUT_PHRASES

    def counts(self) -> dict[str, int]:
        return {**{f"triplets_{k}": len(v) for k, v in self.triplets.items()}, "twins": len(self.twins)}


def split_captions(captions: Sequence[str], fraction: float, limit: int, seed: int) -> tuple[list[str], list[str]]:
    """Distinct captions, split at random into (train, held out): round(fraction · n) held out, at most `limit`.
    A caption is in one part only."""
    distinct = sorted({c.strip() for c in captions if c.strip()})
    random.Random(seed).shuffle(distinct)
    n_held = min(limit, round(fraction * len(distinct)))
    return distinct[n_held:], distinct[:n_held]


def training_triplets(
    captions: Sequence[str], seed: int, per_caption: int = 1, weights: dict[str, float] | None = None
) -> tuple[list[Triplet], Counter]:
    """`per_caption` triplets for each caption that has at least one applicable negative, and the count by kind."""
    weights = weights or NEGATIVE_WEIGHTS
    rng = random.Random(seed)
    triplets: list[Triplet] = []
    for caption in captions:
        for _ in range(per_caption):
            positive = paraphrase(caption, rng)
            base = caption if rng.random() < 0.5 else positive
            options = {kind: neg for kind in weights if (neg := NEGATIVES[kind](base, rng)) not in (None, base)}
            if not options:
                continue
            kinds = sorted(options)
            kind = rng.choices(kinds, [weights[k] for k in kinds])[0]
            triplets.append(Triplet(caption, positive, options[kind], kind))
    return triplets, Counter(t.kind for t in triplets)


def _changed(kind: str, text: str, rng: random.Random) -> str | None:
    if kind == "relation":
        return swap_relations(text, every=True)
    return swap_attributes(text, rng)


def validation_set(captions: Sequence[str], seed: int) -> ValidationSet:
    """Held-out triplets of VALIDATION_KINDS in HELDOUT_PHRASES, and relation twins (see the module doc)."""
    rng = random.Random(seed)
    out = ValidationSet({kind: [] for kind in VALIDATION_KINDS})
    for caption in captions:
        twin = swap_relations(caption, every=True)
        if twin is None:
            continue
        out.twins.append((caption, twin))
        phrase_seed = rng.randrange(1 << 30)
        anchor = rephrase_relations(caption, rng)
        shuffled = shuffle_sentences(caption, rng) or caption
        positive = rephrase_relations(shuffled, random.Random(phrase_seed))
        out.heldout_twins.append((positive, rephrase_relations(swap_relations(shuffled, every=True), random.Random(phrase_seed))))
        for kind in VALIDATION_KINDS:
            changed = _changed(kind, shuffled, rng)
            if changed is None or changed == shuffled:
                continue
            negative = rephrase_relations(changed, random.Random(phrase_seed))
            if negative is not None and negative != positive:
                out.triplets[kind].append(Triplet(anchor, positive, negative, kind))
    return out
