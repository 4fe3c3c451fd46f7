"""What the retrieval query is made of: optionally, a caption with its repeated sentences dropped.

Repeating a sentence shifts a mean-pooled embedding towards that sentence, so a policy can steer the reward
by padding. With `ScorerOptions.dedupe_sentences`, a sentence equal to an earlier one after normalising
case, punctuation and spacing is dropped before encoding, so repetition cannot move the query at all.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\s*\n+\s*")
_NOT_WORD = re.compile(r"[^\w\s]+")


def sentence_key(sentence: str) -> str:
    """A sentence normalised for comparison: lower case, no punctuation, single spaces."""
    return " ".join(_NOT_WORD.sub(" ", sentence.lower()).split())


def without_repeats(caption: str) -> str:
    """The caption's sentences, each kept once (its first occurrence), joined by single spaces."""
    kept, seen = [], set()
    for sentence in _SENTENCE_END.split(caption.strip()):
        key = sentence_key(sentence)
        if key and key not in seen:
            seen.add(key)
            kept.append(sentence.strip())
    return " ".join(kept)
