"""The "tuples" re-ranker: relevance = (1 − w)·cosine + w·F1 of ordered fact tuples (SPICE / FACTUAL-style).

A caption and its relation-swapped twin embed almost alike (MiniLM cosine 0.994), but their tuples differ:
("circle", "left of", "square") is not ("square", "left of", "circle"). The query's tuples are extracted
once per call; a gallery caption's tuples are extracted the first time a shortlist holds its row and
memoised for the scorer's life (a 1M-row gallery is never parsed whole).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import torch

from cim.gallery.store import Gallery
from cim.reward.extractors import FactExtractor, FactTuple, load_extractor, tuple_f1
from cim.reward.options import ScorerOptions


class TupleReranker:
    """Blend of the embedding cosine and the tuple F1 between a caption and each shortlisted gallery caption."""

    def __init__(self, gallery: Gallery, extractor: FactExtractor, weight: float) -> None:
        self.gallery = gallery
        self.extractor = extractor
        self.weight = weight
        self._tuples: dict[int, frozenset[FactTuple]] = {}  # gallery row → its caption's tuples
        self._lock = threading.Lock()

    def gallery_tuples(self, rows: Sequence[int]) -> dict[int, frozenset[FactTuple]]:
        """Tuples of these gallery rows; rows seen for the first time are extracted in one call."""
        with self._lock:
            missing = sorted({r for r in rows if r not in self._tuples})
            if missing:
                captions = self.gallery.captions
                self._tuples.update(zip(missing, self.extractor.extract([captions[r] for r in missing])))
            return {r: self._tuples[r] for r in rows}

    def relevance(self, captions: Sequence[str], cosines: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        valid = (rows >= 0) & (rows < len(self.gallery)) & torch.isfinite(cosines)  # (b, K')
        found = self.gallery_tuples(rows[valid].tolist())
        queries = self.extractor.extract(list(captions))
        f1 = torch.zeros(rows.shape, dtype=torch.float64)
        for i, query in enumerate(queries):
            for j in valid[i].nonzero().squeeze(1).tolist():
                f1[i, j] = tuple_f1(query, found[int(rows[i, j])])
        relevance = (1 - self.weight) * cosines.double() + self.weight * f1
        return relevance.masked_fill(~valid, float("-inf"))


def make(
    options: ScorerOptions, gallery: Gallery, device: str | None = None, extractor: FactExtractor | None = None
) -> TupleReranker:
    """The re-ranker over `gallery` with `options.extractor` (or the given extractor) and `options.rerank_weight`."""
    return TupleReranker(gallery, extractor or load_extractor(options.extractor, device=device), options.rerank_weight)
