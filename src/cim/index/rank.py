"""Rank of a given gallery row for each query, under the search order (-score, row)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

# Scores this close to the row's own score count as ties (matmuls of different shapes round differently).
TIE_TOLERANCE = 1e-6


def rank_of_rows(matrix: np.ndarray, queries: torch.Tensor, rows: Sequence[int], chunk_rows: int = 262_144) -> np.ndarray:
    """1-based rank of rows[i] among all rows of `matrix` for queries[i]."""
    rows_t = torch.as_tensor(list(rows), dtype=torch.int64)
    queries = queries.float()
    target = (queries * torch.from_numpy(np.asarray(matrix[rows_t.numpy()], dtype=np.float32))).sum(1, keepdim=True)
    better = torch.zeros(len(queries), dtype=torch.int64)
    for start in range(0, len(matrix), chunk_rows):
        chunk = torch.from_numpy(np.asarray(matrix[start : start + chunk_rows], dtype=np.float32))
        scores = queries @ chunk.T  # (q, rows in chunk)
        column = torch.arange(start, start + len(chunk)).unsqueeze(0)
        tied_before = ((scores - target).abs() <= TIE_TOLERANCE) & (column < rows_t.unsqueeze(1))
        better += ((scores > target + TIE_TOLERANCE) | tied_before).sum(1)
    return (better + 1).numpy()
