"""Caption text statistics: length and repetition."""

from __future__ import annotations

import re

WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def repetition_rate(text: str, n: int = 4) -> float:
    """Share of word n-grams repeating an earlier n-gram of the caption (rep-n; 0 below n words).

    Templated captions repeat some phrases legitimately ("the square is above"), so compare rates
    between captioners rather than read them in absolute terms.
    """
    tokens = words(text)
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)
