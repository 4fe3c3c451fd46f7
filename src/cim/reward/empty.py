"""Empty captions are not scored: every face (TRL, the adapters, the server) gives them a fixed reward.

These helpers score the non-empty captions of a batch in one call and put None back for the empty ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def nonempty_rows(captions: Sequence[str]) -> list[int]:
    """Positions of the captions with text other than whitespace."""
    return [i for i, caption in enumerate(captions) if caption.strip()]


def place(results: Sequence[T], rows: Sequence[int], n: int) -> list[T | None]:
    """A list of n with results[j] at rows[j] and None elsewhere."""
    placed: list[T | None] = [None] * n
    for row, result in zip(rows, results, strict=True):
        placed[row] = result
    return placed


def score_nonempty(captions: Sequence[str], score_rows: Callable[[list[int]], Sequence[T]]) -> list[T | None]:
    """`score_rows(rows)` once for the non-empty captions' positions (not at all when there are none)."""
    rows = nonempty_rows(captions)
    return place(score_rows(rows) if rows else [], rows, len(captions))
