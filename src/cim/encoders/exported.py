"""A text encoder that runs an exported ONNX model (a folder made by `cim.encoders.onnx_export`) on the CPU."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from cim.encoders.backends import Backend
from cim.encoders.base import TextEmbedding, count_tokens
from cim.encoders.onnx_runtimes import RUNNERS

META = "export.json"
"""The export's description, written last: the folder is complete once it is there."""


def read_meta(folder: Path) -> dict[str, Any]:
    """The export.json of an export folder."""
    return json.loads((Path(folder) / META).read_text(encoding="utf-8"))


class ExportedTextEncoder:
    """The exported sentence-transformers pipeline with its own tokenizer; batches sorted by length, as
    sentence-transformers does, padded per batch, L2-normalised output."""

    def __init__(self, folder: Path, backend: Backend, threads: int | None = None) -> None:
        from transformers import AutoTokenizer

        self.folder = Path(folder)
        self.meta = read_meta(self.folder)
        self.spec = str(self.meta["spec"])
        self.backend = backend
        self.dim = int(self.meta["dim"])
        self.max_tokens = int(self.meta["max_tokens"])
        self.inputs = list(self.meta["inputs"])
        self.tokenizer = AutoTokenizer.from_pretrained(self.folder)
        self.run = RUNNERS[backend.name](self.folder / self.meta["file"], threads or torch.get_num_threads())

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> TextEmbedding:
        texts = list(texts)
        if not texts:
            return TextEmbedding(torch.empty(0, self.dim), np.empty(0, np.int64), self.max_tokens)
        order = np.argsort([-len(text) for text in texts], kind="stable")
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            batch = self.tokenizer(
                [texts[i] for i in rows], padding=True, truncation="longest_first", max_length=self.max_tokens,
                return_tensors="np",
            )  # fmt: skip
            vectors[rows] = self.run({name: batch[name].astype(np.int64) for name in self.inputs})
        normalised = F.normalize(torch.from_numpy(vectors), dim=-1)
        return TextEmbedding(normalised, count_tokens(self.tokenizer, texts), self.max_tokens)

    def describe(self) -> dict[str, Any]:
        details = {key: self.meta[key] for key in ("quantization", "check") if key in self.meta}
        return {"spec": self.spec, "dim": self.dim, "max_tokens": self.max_tokens, "normalised": True,
                "backend": self.backend.name, "precision": self.backend.precision, "export": self.folder.name,
                **details}  # fmt: skip
