"""The options of the CIM reward, declared once: the scorer, the server, recipes and every CLI command use them.

Importing this module does not import torch (the CLI builds its flags from these fields).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

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

    @model_validator(mode="after")
    def _known_index(self) -> ScorerOptions:
        from cim.index.registry import check_index_name

        check_index_name(self.index)
        return self


REWARD_OPTION_NAMES: tuple[str, ...] = tuple(ScorerOptions.model_fields)
