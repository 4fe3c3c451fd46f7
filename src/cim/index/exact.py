"""Exact search: chunked matmul + stable top-k (the default backend)."""

from __future__ import annotations

import numpy as np
import torch

from cim.encoders.base import pick_device
from cim.index.base import no_exclusions
from cim.index.topk import order_by_score_then_row, stable_topk

# Below this many bytes as float32, the CPU keeps one float32 copy instead of converting chunks per search.
FLOAT32_CACHE_BYTES = 4 << 30


class ExactIndex:
    """Brute-force inner product. On CPU the matrix is float32; on CUDA it stays float16 on the device."""

    name = "exact"

    def __init__(self, matrix: np.ndarray, device: str | None = None, chunk_rows: int = 262_144) -> None:
        self.device = pick_device(device)
        self.size, self.dim = matrix.shape
        self.chunk_rows = chunk_rows
        if self.device.type == "cuda":
            self._matrix = torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float16)).to(self.device)
        elif self.size * self.dim * 4 <= FLOAT32_CACHE_BYTES:
            self._matrix = torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float32))
        else:
            self._matrix = matrix  # memory-mapped; chunks are converted per search

    def _chunk(self, start: int, stop: int) -> torch.Tensor:
        if isinstance(self._matrix, torch.Tensor):
            return self._matrix[start:stop]
        return torch.from_numpy(np.asarray(self._matrix[start:stop], dtype=np.float32))

    def search(self, queries: torch.Tensor, k: int, exclude: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if exclude is None:
            exclude = no_exclusions(len(queries))
        queries = queries.to(self.device, self._chunk(0, 1).dtype)
        exclude = exclude.to(self.device)
        best_scores, best_rows = [], []
        # One score buffer reused by every chunk: allocating a fresh (q, chunk) matrix per chunk costs page faults.
        buffer = torch.empty(len(queries) * min(self.chunk_rows, self.size), dtype=queries.dtype, device=self.device)
        for start in range(0, self.size, self.chunk_rows):
            stop = min(start + self.chunk_rows, self.size)
            scores = buffer[: len(queries) * (stop - start)].view(len(queries), stop - start)
            torch.matmul(queries, self._chunk(start, stop).T, out=scores)  # (q, rows in chunk)
            scores = scores.float()
            hit = (exclude >= start) & (exclude < stop)
            scores[hit.nonzero().squeeze(1), exclude[hit] - start] = float("-inf")
            values, columns = stable_topk(scores, min(k, stop - start))
            best_scores.append(values)
            best_rows.append(columns + start)
        scores, rows = order_by_score_then_row(torch.cat(best_scores, 1), torch.cat(best_rows, 1), k)
        return scores.cpu(), rows.cpu()
