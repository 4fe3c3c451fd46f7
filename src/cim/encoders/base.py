"""The two encoder protocols and the small helpers every encoder shares."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from cim.errors import UnknownNameError
from cim.images import to_rgb

T = TypeVar("T")

POOLINGS = ("global", "grid2", "grid3")


@dataclass(frozen=True)
class TextEmbedding:
    """Row-aligned output of a text encoder."""

    vectors: torch.Tensor  # (n, dim) float32, L2-normalised, on CPU
    n_tokens: np.ndarray  # (n,) int: tokens the encoder's tokenizer makes, before truncation
    max_tokens: int

    @property
    def truncated(self) -> np.ndarray:
        """(n,) bool: captions whose tail the encoder cut off."""
        return self.n_tokens > self.max_tokens


@runtime_checkable
class TextEncoder(Protocol):
    """Text → L2-normalised vectors; owns batching, no_grad and device."""

    spec: str
    dim: int
    max_tokens: int

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> TextEmbedding: ...

    def describe(self) -> dict[str, Any]: ...


@runtime_checkable
class ImageEncoder(Protocol):
    """Images → L2-normalised vectors.

    `preprocess` is picklable and runs in data-loader workers; `embed` runs the model.
    """

    spec: str
    dim: int
    pooling: str

    def preprocess(self, image: Image.Image) -> torch.Tensor: ...

    def embed(self, pixels: torch.Tensor) -> torch.Tensor: ...

    def describe(self) -> dict[str, Any]: ...


def encode_images(
    encoder: ImageEncoder, images: Sequence[T], batch_size: int = 32, load: Callable[[T], Image.Image] | None = None
) -> torch.Tensor:
    """Preprocess and embed images in batches: (n, dim) float32 on CPU. `load` turns each item into a PIL image
    (e.g. decodes a file), one batch at a time, so only a batch of decoded images is in memory at once."""
    chunks = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        pixels = torch.stack([encoder.preprocess(load(item) if load else item) for item in batch])
        chunks.append(encoder.embed(pixels))
    if not chunks:
        return torch.empty(0, encoder.dim)
    return torch.cat(chunks)


def count_tokens(tokenizer: Any, texts: Sequence[str]) -> np.ndarray:
    """Tokens per text a transformers tokenizer makes, special tokens included, without truncation."""
    ids = tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)
    return np.array([len(row) for row in ids["input_ids"]], dtype=np.int64)


def pick_device(device: str | None) -> torch.device:
    """The requested device, or CUDA when available, else CPU."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def check_pooling(pooling: str) -> str:
    """Validate an image pooling name."""
    if pooling not in POOLINGS:
        raise UnknownNameError("image pooling", pooling, POOLINGS, sort=False)
    return pooling


def pool_feature_map(features: torch.Tensor, pooling: str) -> torch.Tensor:
    """(n, c, h, w) feature map → (n, c) for global, (n, c·g·g) for a g×g grid, L2-normalised."""
    if pooling == "global":
        pooled = features.mean(dim=(2, 3))
    else:
        grid = int(pooling.removeprefix("grid"))
        pooled = F.adaptive_avg_pool2d(features, grid).flatten(1)  # (n, c, g, g) → (n, c·g·g)
    return F.normalize(pooled.float(), dim=-1)


def pool_patch_tokens(tokens: torch.Tensor, pooling: str) -> torch.Tensor:
    """ViT patch tokens (n, p, c) on a square grid → grid-pooled, L2-normalised vectors."""
    side = int(round(tokens.shape[1] ** 0.5))
    if side * side != tokens.shape[1]:
        raise ValueError(f"patch tokens do not form a square grid: {tokens.shape[1]} tokens")
    fmap = tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], side, side)
    return pool_feature_map(fmap, pooling)


def grid_dim(channels: int, pooling: str) -> int:
    """Output width of `pool_feature_map` for a feature map with `channels` channels."""
    if pooling == "global":
        return channels
    grid = int(pooling.removeprefix("grid"))
    return channels * grid * grid


class TransformImageEncoder:
    """Base of image encoders whose preprocessing is a picklable `self.transform` (PIL → tensor).

    Subclasses set `transform`, `dim` and the model, and implement `embed` and `describe`.
    """

    transform: Any
    dim: int

    def __init__(self, spec: str, pooling: str, device: str | None) -> None:
        self.spec = spec
        self.pooling = check_pooling(pooling)
        self.device = pick_device(device)

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        return self.transform(to_rgb(image))

    def _describe(self, preprocessing: dict[str, Any], features: str, **extra: Any) -> dict[str, Any]:
        """The manifest entry: identity, preprocessing, what the features are."""
        return {"spec": self.spec, "dim": self.dim, "pooling": self.pooling, **preprocessing,
                "features": features, **extra, "normalised": True}
