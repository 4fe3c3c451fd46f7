"""The search index protocol shared by all backends."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch


class SearchIndex(Protocol):
    """Inner-product top-k over a fixed matrix of L2-normalised rows."""

    name: str
    size: int

    def search(self, queries: torch.Tensor, k: int, exclude: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """queries (q, d) float32 → (scores (q, k) float32, rows (q, k) int64), ordered by (-score, row).

        `exclude` (q,) int64 holds a row each query must not return, or -1 for none.
        """
        ...


def no_exclusions(n: int) -> torch.Tensor:
    return torch.full((n,), -1, dtype=torch.int64)


def as_float32(matrix: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(matrix, dtype=np.float32)
