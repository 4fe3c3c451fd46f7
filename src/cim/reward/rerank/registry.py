"""Re-ranker names: the registry that option validation checks (imports nothing heavy, nor the options)."""

from __future__ import annotations

from cim.errors import check_choice

# name → module holding make(options, gallery, device, extractor); "none" keeps the cosine order
RERANKERS: dict[str, str | None] = {
    "none": None,
    "tuples": "cim.reward.rerank.tuples",
}
SHORTLIST_FACTOR = 10
"""K' ≥ SHORTLIST_FACTOR · k: a re-ranker can only reorder what the cosine shortlist holds."""


def check_reranker_name(name: str) -> str:
    """Return `name` if it is a re-ranker, else raise UnknownNameError listing them."""
    return check_choice("re-ranker", name, RERANKERS)
