"""FAISS backends described by a factory string ("Flat", "IVF1024,Flat", "HNSW32", ...)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cim.errors import MissingDependencyError
from cim.index.base import as_float32, no_exclusions
from cim.index.topk import order_by_score_then_row


def _faiss():
    try:
        import faiss
    except ImportError as error:
        raise MissingDependencyError("the FAISS backend needs faiss-cpu: pip install 'cim[faiss]'") from error
    return faiss


class FaissIndex:
    """Inner-product FAISS index; trained (IVF) on a seeded sample and cached beside the gallery."""

    def __init__(
        self,
        matrix: np.ndarray,
        factory: str,
        nprobe: int = 32,
        ef_search: int = 128,
        cache: Path | None = None,
        train_rows: int = 262_144,
        seed: int = 0,
    ) -> None:
        faiss = _faiss()
        self.name = f"faiss:{factory}"
        self.size, self.dim = matrix.shape
        if cache is not None and cache.is_file():
            self.index = faiss.read_index(str(cache))
        else:
            self.index = faiss.index_factory(self.dim, factory, faiss.METRIC_INNER_PRODUCT)
            data = as_float32(matrix)
            if not self.index.is_trained:
                sample = np.random.default_rng(seed).permutation(self.size)[:train_rows]
                self.index.train(data[np.sort(sample)])
            self.index.add(data)
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache.with_suffix(".tmp")
                faiss.write_index(self.index, str(tmp))
                tmp.replace(cache)
        if self.index.ntotal != self.size:
            raise ValueError(f"cached FAISS index {cache} has {self.index.ntotal} rows, gallery has {self.size}")
        params = faiss.extract_index_ivf(self.index) if "IVF" in factory else None
        if params is not None:
            params.nprobe = nprobe
        if hasattr(self.index, "hnsw"):
            self.index.hnsw.efSearch = ef_search

    def search(self, queries: torch.Tensor, k: int, exclude: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if exclude is None:
            exclude = no_exclusions(len(queries))
        # One extra neighbour per query covers the excluded row; ties beyond it are resolved by row.
        scores, rows = self.index.search(as_float32(queries.cpu().numpy()), k + 1)
        scores, rows = torch.from_numpy(scores), torch.from_numpy(rows)
        dropped = (rows == exclude.unsqueeze(1)) | (rows < 0)
        scores = scores.masked_fill(dropped, float("-inf"))
        rows = rows.masked_fill(dropped, torch.iinfo(torch.int64).max)
        return order_by_score_then_row(scores, rows, k)
