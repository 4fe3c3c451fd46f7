"""The CIM reward (Jia et al., CVPR 2026) as pure tensor functions; the only copy of the formula.

All vectors are L2-normalised image embeddings ṽ(·); r = 1..K indexes the retrieved items by rank.
"""

from __future__ import annotations

import torch


def rank_weights(k: int) -> torch.Tensor:
    """λ(r) = 1 / 2^(r-1): 1, 0.5, 0.25, ... (not normalised)."""
    return 0.5 ** torch.arange(k, dtype=torch.float32)


def grc(retrieved: torch.Tensor) -> torch.Tensor:
    """Gallery Representation Consistency ‖(1/K) Σ_r ṽ(x_r)‖₂ for retrieved (b, K, d) → (b,)."""
    return retrieved.mean(dim=1).norm(dim=-1)


def image_similarities(source: torch.Tensor, retrieved: torch.Tensor) -> torch.Tensor:
    """cos(ṽ(v), ṽ(x_r)) for source (b, d) and retrieved (b, K, d) → (b, K)."""
    return torch.einsum("bd,bkd->bk", source, retrieved)


def qir(source: torch.Tensor, retrieved: torch.Tensor) -> torch.Tensor:
    """Query-gallery Image Relevance Σ_r λ(r)·cos(ṽ(v), ṽ(x_r)) → (b,)."""
    return image_similarities(source, retrieved) @ rank_weights(retrieved.shape[1]).to(source)


def cim_reward(qir_value: torch.Tensor, grc_value: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Υ = GRC + β·QIR."""
    return grc_value + beta * qir_value
