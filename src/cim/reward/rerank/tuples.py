"""The "tuples" re-ranker: relevance = (1 − w)·cosine + w·F1 of ordered fact tuples (SPICE / FACTUAL-style).

A caption and its relation-swapped twin embed almost alike (MiniLM cosine 0.994), but their tuples differ:
("circle", "left of", "square") is not ("square", "left of", "circle"). The query's tuples are extracted
once per call; a gallery caption's tuples are extracted the first time a shortlist holds its row and
memoised for the scorer's life (`GalleryFacts`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from cim.gallery.store import Gallery
from cim.reward.extractors import FactExtractor, load_extractor, tuple_f1
from cim.reward.gallery_facts import GalleryFacts
from cim.reward.options import ScorerOptions


class TupleReranker:
    """Blend of the embedding cosine and the tuple F1 between a caption and each shortlisted gallery caption."""

    def __init__(self, gallery: Gallery, extractor: FactExtractor, weight: float) -> None:
        self.gallery = gallery
        self.extractor = extractor
        self.weight = weight
        self.facts = GalleryFacts(gallery, extractor)

    def relevance(self, captions: Sequence[str], cosines: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        valid = (rows >= 0) & (rows < len(self.gallery)) & torch.isfinite(cosines)  # (b, K')
        found = self.facts.rows(rows[valid].tolist())
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
