"""What the retrieval query is made of: optionally, a caption with its repeated sentences dropped.

Repeating a sentence shifts a mean-pooled embedding towards that sentence, so a policy can steer the reward
by padding. With `ScorerOptions.dedupe_sentences`, a sentence equal to an earlier one after normalising
case, punctuation and spacing is dropped before encoding, so repetition cannot move the query at all.
`repeated_share` measures the same repeats (the GRPO guard `sentence_repeat_penalty` makes them cost);
`cim.reward.redundancy` asks the same of facts rather than wording.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\s*\n+\s*")
_NOT_WORD = re.compile(r"[^\w\s]+")


def sentence_key(sentence: str) -> str:
    """A sentence normalised for comparison: lower case, no punctuation, single spaces."""
    return " ".join(_NOT_WORD.sub(" ", sentence.lower()).split())


def sentences(caption: str) -> list[str]:
    """The caption's sentences (split after . ! ? ; and at line breaks), stripped, without the empty ones."""
    return [sentence.strip() for sentence in _SENTENCE_END.split(caption.strip()) if sentence_key(sentence)]


def _sentences(caption: str) -> list[tuple[str, bool]]:
    """The caption's sentences, each with whether it repeats an earlier one (after `sentence_key`)."""
    out, seen = [], set()
    for sentence in sentences(caption):
        key = sentence_key(sentence)
        out.append((sentence, key in seen))
        seen.add(key)
    return out


def without_repeats(caption: str) -> str:
    """The caption's sentences, each kept once (its first occurrence), joined by single spaces."""
    return " ".join(sentence for sentence, repeated in _sentences(caption) if not repeated)


def repeated_share(caption: str) -> float:
    """Share of the caption's sentences that repeat an earlier one (0 for an empty caption)."""
    flags = [repeated for _, repeated in _sentences(caption)]
    return sum(flags) / len(flags) if flags else 0.0
