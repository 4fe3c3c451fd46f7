"""Re-rankers: the relevance that orders a cosine shortlist before the top k are kept.

With `rerank` other than "none", the scorer takes the top K' gallery items by embedding cosine (K' =
`shortlist`, 10·k by default), asks the re-ranker for a relevance of each, and keeps the k most relevant
(ties: lower gallery row first); QIR and GRC are computed on those k as before.

Adding a re-ranker is one module with a `make(options, gallery, device, extractor)` function returning a
`Reranker`, plus one line in RERANKERS (`cim.reward.rerank.registry`). Entries name modules, so checking a
name does not import torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from cim.reward.rerank.registry import RERANKERS, SHORTLIST_FACTOR, check_reranker_name

if TYPE_CHECKING:
    import torch

    from cim.gallery.store import Gallery
    from cim.reward.extractors import FactExtractor
    from cim.reward.options import ScorerOptions


class Reranker(Protocol):
    """Relevance of shortlisted gallery rows to each caption."""

    def relevance(self, captions: Sequence[str], cosines: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """captions (b,), cosines and rows (b, K') → relevance (b, K') float64; higher is more relevant.
        Rows that are not valid gallery rows (a backend's padding) get -inf."""
        ...


def make_reranker(
    options: ScorerOptions, gallery: Gallery, device: str | None = None, extractor: FactExtractor | None = None
) -> Reranker | None:
    """The re-ranker `options.rerank` names over `gallery`, or None for "none"."""
    module = RERANKERS[check_reranker_name(options.rerank)]
    if module is None:
        return None
    return importlib.import_module(module).make(options, gallery, device=device, extractor=extractor)


def shortlist_size(options: ScorerOptions, limit: int) -> int:
    """K': `options.shortlist`, or 10·k when 0; never more than the `limit` rows a caption can retrieve."""
    wanted = options.shortlist or SHORTLIST_FACTOR * options.k
    return min(wanted, limit)


__all__ = ["RERANKERS", "SHORTLIST_FACTOR", "Reranker", "check_reranker_name", "make_reranker", "shortlist_size"]
