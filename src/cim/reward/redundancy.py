"""Redundancy: the share of a caption's sentences that state no fact its earlier sentences had not.

Dropping repeated sentences from the query (`dedupe_sentences`) and counting each relation vote once make a
repeat earn nothing, but nothing makes padding cost: a policy can repeat a sentence, reword it, stutter inside
it ("above and above and above") or leave fragments ("The square."). Each of those states no new fact. The
fact extractor reads every prefix of the caption (sentence 1, sentences 1–2, ...), so pronouns and other
references to earlier sentences resolve as in the whole caption; sentence i is redundant when the facts of
prefix i are a subset of those of prefix i − 1. A sentence that states no fact at all (an introduction such
as "Here is the picture.") counts as redundant too. Wording does not matter, only facts, so another writer's
rewording of an earlier sentence counts like an exact repeat. The reward option `redundancy` (weight p) adds
−p·(redundant sentences / sentences).

The extractor reads n prefixes of an n-sentence caption, in one `extract` call per batch: about twice the
reading of whole captions with the shapes reader; slower with a generative extractor (factual).
"""

from __future__ import annotations

from collections.abc import Sequence

from cim.reward.extractors import FactExtractor
from cim.reward.query import sentences


def redundant_shares(extractor: FactExtractor, captions: Sequence[str]) -> list[float]:
    """Per caption, redundant sentences / sentences (0.0 for a caption without sentences); see the module docstring."""
    split = [sentences(caption) for caption in captions]
    prefixes = [" ".join(parts[: i + 1]) for parts in split for i in range(len(parts))]
    facts = iter(extractor.extract(prefixes))
    shares = []
    for parts in split:
        stated: frozenset = frozenset()
        redundant = 0
        for _ in parts:
            now = next(facts)
            redundant += now <= stated
            stated = now
        shares.append(redundant / len(parts) if parts else 0.0)
    return shares
