"""The options of the CIM reward, declared once: the scorer, the server, recipes and every CLI command use them.

Importing this module does not import torch (the CLI builds its flags from these fields).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from cim.options import Options

DEFAULT_ENCODE_BATCH = 16
"""Captions per text-encoder pass. A call's captions are sorted by length and padded per pass: on 2 CPU
cores MiniLM took 18 ms/caption in passes of 64 mixed-length captions and 9 ms in passes of 16."""


class ScorerOptions(Options):
    """How a caption is scored: Υ = GRC + β·QIR over the top-k items retrieved from the gallery."""

    k: int = Field(3, ge=1, description="Retrieved items per caption.")
    beta: float = Field(1.0, description="Weight of QIR in the reward GRC + β·QIR.")
    mode: Literal["clean", "official"] = Field(
        "clean", description="clean: never retrieve the source's own item; official: as the release."
    )
    retrieval: Literal["text", "image"] = Field(
        "text", description="text: caption→gallery captions (the paper's); image: caption→gallery images."
    )
    index: str = Field("exact", description="Search backend: exact, faiss-flat, faiss-ivf, faiss-hnsw or faiss:<factory>.")
    center_images: bool = Field(False, description="Centre image embeddings on the gallery mean before normalising.")
    dedupe_sentences: bool = Field(
        False, description="Drop repeated sentences (equal after normalising case and punctuation) before encoding the query."
    )
    encode_batch: int = Field(
        DEFAULT_ENCODE_BATCH, ge=1, description="Captions per text-encoder pass, sorted by length (16 is fastest for MiniLM on CPU)."
    )
    rerank: str = Field(
        "none", description="Re-rank a cosine shortlist before taking the top k: none (cosine order) or tuples (cosine + fact-tuple F1)."
    )
    shortlist: int = Field(
        0, ge=0, description="Candidates taken by cosine before re-ranking (K'); 0 means 10·k, else at least 10·k."
    )
    rerank_weight: float = Field(
        0.5, ge=0.0, le=1.0, description="Re-ranking relevance = (1 − w)·cosine + w·tuple F1; this is w, in [0, 1]."
    )
    extractor: str = Field(
        "shapes", description="Fact extractor of the tuples re-ranker: shapes (the shapes reader) or factual:<hf id or folder>."
    )
    support: float = Field(
        0.0, ge=0.0, description="Weight λ of visual support: reward += λ·(support − 1), support = how much of the caption's claims the source's image neighbours' captions state (0: off)."
    )
    support_neighbours: int = Field(10, ge=1, description="Image-space gallery neighbours of the source whose captions back up claims (m).")
    support_tau: float = Field(
        0.5, gt=0.0, le=1.0, description="A claim earns full credit when at least this share of the neighbours state it (τ; credit = min(1, share/τ))."
    )
    support_relation_tau: float | None = Field(
        None, gt=0.0, le=1.0, description="τ of relation claims and consensus relations (None: support_tau); a true relation is stated by fewer neighbours than a present object."
    )
    support_claims: Literal["objects", "objects+attributes", "objects+relations"] = Field(
        "objects", description="Which of the caption's fact tuples count as claims for visual support."
    )
    support_coverage: float = Field(
        0.0, ge=0.0, le=1.0, description="Weight c of coverage in visual support: support = (1 − c)·claim credit + c·share of the neighbours' consensus facts (stated by ≥ τ of them) the caption claims."
    )
    relation_votes: float = Field(
        0.0, ge=0.0, description="Weight ρ of relation votes: reward += ρ·Σ over the caption's relation claims of (n − n′)/(n + n′ + 1), n and n′ the source's image neighbours whose captions state the relation and its reverse (0: off)."
    )
    relation_votes_per: Literal["mentions", "neighbours"] = Field(
        "mentions", description="What each relation vote n − n′ is divided by: n + n′ + 1 (mentions) or the m neighbours (neighbours: the net share of the neighbours backing the relation, so one a single neighbour states earns 1/m, not 1/2)."
    )
    redundancy: float = Field(
        0.0, ge=0.0, description="Weight p of the redundancy penalty: reward −= p·(share of the caption's sentences that state no fact its earlier sentences had not, read by the fact extractor: repeats, rewordings, stutter, fragments) (0: off)."
    )
    text_backend: str | None = Field(
        None, description="Backend of the caption encoder: torch, onnx, onnx-int8 or openvino (CPU); default the gallery's (its manifest)."
    )
    allow_backend_mismatch: bool = Field(
        False, description="Accept a caption encoder on another backend or precision than the gallery's (close, not equal vectors)."
    )

    @field_validator("rerank")
    @classmethod
    def _known_reranker(cls, name: str) -> str:
        from cim.reward.rerank.registry import check_reranker_name

        return check_reranker_name(name)

    @field_validator("text_backend")
    @classmethod
    def _known_backend(cls, text: str | None) -> str | None:
        from cim.encoders.backends import parse_backend

        return None if text is None else str(parse_backend(text))

    @field_validator("extractor")
    @classmethod
    def _known_extractor(cls, spec: str) -> str:
        from cim.reward.extractors import check_extractor_spec

        return check_extractor_spec(spec)

    @model_validator(mode="after")
    def _known_index(self) -> ScorerOptions:
        from cim.index.registry import check_index_name
        from cim.reward.rerank.registry import SHORTLIST_FACTOR

        check_index_name(self.index)
        if self.shortlist and self.shortlist < SHORTLIST_FACTOR * self.k:
            raise ValueError(
                f"shortlist={self.shortlist} is below {SHORTLIST_FACTOR}·k={SHORTLIST_FACTOR * self.k} (k={self.k}); "
                f"re-ranking needs shortlist >= {SHORTLIST_FACTOR * self.k}, or 0 for {SHORTLIST_FACTOR}·k"
            )
        return self

    def uses_neighbours(self) -> bool:
        """Whether the reward reads the captions of the source's image neighbours (visual support or relation votes)."""
        return self.support > 0 or self.relation_votes > 0

    def uses_extractor(self) -> bool:
        """Whether the reward reads facts from the captions outside re-ranking (neighbours' evidence or redundancy)."""
        return self.uses_neighbours() or self.redundancy > 0

    def support_taus(self) -> dict[str, float]:
        """Visual support's τ per claim kind."""
        relation = self.support_tau if self.support_relation_tau is None else self.support_relation_tau
        return {"object": self.support_tau, "attribute": self.support_tau, "relation": relation}


REWARD_OPTION_NAMES: tuple[str, ...] = tuple(ScorerOptions.model_fields)
