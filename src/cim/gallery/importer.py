"""Import the research release's embedding files (.pt tensors + caption list) as a gallery."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cim.encoders.backends import split_backend
from cim.errors import InputError
from cim.gallery.manifest import GalleryManifest
from cim.gallery.store import write_gallery

RELEASE_TEXT_ENCODER = "sbert:sentence-transformers/all-mpnet-base-v2"
RELEASE_IMAGE_ENCODER = "openclip:ViT-H-14/laion2b_s32b_b79k"


def load_tensor_file(path: Path) -> np.ndarray:
    """A 2-D float tensor from a .pt file (a tensor, or a dict holding exactly one tensor); no pickle code runs."""
    path = Path(path)
    if not path.is_file():
        raise InputError("embedding file not found", source=str(path))
    try:
        value = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many types for bad files; we name the file
        raise InputError(f"not a readable tensor file: {error}", source=str(path)) from error
    if isinstance(value, dict):
        tensors = [v for v in value.values() if isinstance(v, torch.Tensor)]
        if len(tensors) != 1:
            raise InputError(f"expected one tensor in the file's dict, found {len(tensors)}", source=str(path))
        value = tensors[0]
    if not isinstance(value, torch.Tensor) or value.ndim != 2:
        raise InputError("expected a 2-D tensor (rows × dim)", source=str(path))
    array = value.float().numpy()
    if not np.isfinite(array).all():
        row = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
        raise InputError(f"contains NaN or infinite values (first at row {row})", source=str(path))
    return array


def read_caption_list(path: Path) -> list[str]:
    """Captions from a JSON list, JSONL lines ({"caption": ...} or strings), or a text file (one per line)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("captions file not found", source=str(path))
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        captions = json.loads(text)
    elif path.suffix == ".jsonl":
        captions = [json.loads(line) for line in text.splitlines() if line.strip()]
        captions = [c["caption"] if isinstance(c, dict) else c for c in captions]
    else:
        captions = text.splitlines()
    if not isinstance(captions, list) or not all(isinstance(c, str) for c in captions):
        raise InputError("expected a list of caption strings", source=str(path))
    return captions


def _normalised(array: np.ndarray, name: str) -> np.ndarray:
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    if (norms == 0).any():
        raise InputError(f"{name} has all-zero rows (first at row {int(np.flatnonzero(norms == 0)[0])})")
    return array / norms


def import_release(
    text_emb: Path,
    image_emb: Path,
    captions: Path,
    out: Path,
    text_encoder: str = RELEASE_TEXT_ENCODER,
    image_encoder: str = RELEASE_IMAGE_ENCODER,
    image_size: int = 224,
    text_max_tokens: int = 384,
) -> GalleryManifest:
    """Write a gallery from the release's files; ids are gallery rows ("0", "1", ...) as the release indexes them.

    The manifest records the encoders' identities (defaults: the release's mpnet, 384 tokens, and ViT-H-14 at
    224 px), so scoring with other encoders is refused."""
    text, image, caption_list = load_tensor_file(text_emb), load_tensor_file(image_emb), read_caption_list(captions)
    if not (len(text) == len(image) == len(caption_list)):
        raise InputError(
            f"mismatched row counts: {len(text)} text embeddings ({text_emb}), "
            f"{len(image)} image embeddings ({image_emb}), {len(caption_list)} captions ({captions})"
        )
    text_spec, backend = split_backend(text_encoder)
    source: dict[str, Any] = {"kind": "release-import", "files": [str(text_emb), str(image_emb), str(captions)]}
    return write_gallery(
        out,
        [str(row) for row in range(len(text))],
        caption_list,
        [""] * len(text),
        _normalised(text, str(text_emb)),
        _normalised(image, str(image_emb)),
        {"spec": text_spec, "dim": int(text.shape[1]), "max_tokens": text_max_tokens, "normalised": True,
         "backend": backend.name, "precision": backend.precision},  # fmt: skip
        {"spec": image_encoder, "dim": int(image.shape[1]), "pooling": "global", "image_size": image_size, "normalised": True},
        source,
    )
