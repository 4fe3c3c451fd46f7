"""Top-k with a stable order: higher score first, ties broken by lower row index."""

from __future__ import annotations

import torch


def order_by_score_then_row(scores: torch.Tensor, rows: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sort candidate (scores, rows), both (q, m), by (-score, row) and keep the first k."""
    by_row = rows.argsort(dim=1, stable=True)
    scores, rows = scores.gather(1, by_row), rows.gather(1, by_row)
    by_score = scores.argsort(dim=1, descending=True, stable=True)
    return scores.gather(1, by_score)[:, :k], rows.gather(1, by_score)[:, :k]


def stable_topk(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact top-k of each row of `scores` (q, m); among equal scores the lower column wins.

    torch.topk picks arbitrarily among ties at the k-th value; rows where such ties exist are
    redone exactly: all strictly greater columns, then the lowest-index ties.
    Needs k ≤ columns, or returns all columns ordered when there are at most k.
    """
    if scores.shape[1] <= k:
        return order_by_score_then_row(scores, torch.arange(scores.shape[1], device=scores.device).expand_as(scores), k)
    values, columns = scores.topk(k + 1, dim=1)
    # More than k scores reach the k-th value exactly when the (k+1)-th largest equals it.
    tied = values[:, k] == values[:, k - 1]
    values, columns = values[:, :k], columns[:, :k]
    kth = values[:, -1:]
    if tied.any():
        sub, sub_kth = scores[tied], kth[tied]
        greater = sub > sub_kth
        need = k - greater.sum(dim=1, keepdim=True)
        equal = sub == sub_kth
        take = greater | (equal & (equal.cumsum(dim=1) <= need))
        sub_columns = take.nonzero()[:, 1].view(-1, k)  # k per row, in column order
        columns[tied] = sub_columns
        values[tied] = sub.gather(1, sub_columns)
    return order_by_score_then_row(values, columns, k)
