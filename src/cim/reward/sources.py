"""Source images for the reward: gallery ids, image files or PIL images, with an embedding cache."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from PIL import Image

from cim.encoders.base import ImageEncoder, encode_images
from cim.errors import InputError
from cim.images import open_image

# A gallery id (str), an image file (pathlib.Path) or a decoded image.
Source = str | Path | Image.Image


def source_key(source: Path | Image.Image) -> tuple:
    """Cache key of an image source: path + modification time, or a hash of the pixels."""
    if isinstance(source, Path):
        resolved = source.resolve()
        try:
            return ("path", str(resolved), resolved.stat().st_mtime_ns)
        except OSError as error:
            raise InputError(f"image not found or unreadable: {error}", source=str(source)) from error
    digest = hashlib.sha1(source.tobytes()).hexdigest()
    return ("pixels", source.mode, source.size, digest)


def _decoded(source: Path | Image.Image) -> Image.Image:
    return open_image(source) if isinstance(source, Path) else source


class SourceEmbeddingCache:
    """Embeds image sources once; keeps the most recent `capacity` embeddings."""

    def __init__(self, encoder_factory: Callable[[], ImageEncoder], capacity: int = 100_000) -> None:
        self._encoder_factory = encoder_factory
        self._encoder: ImageEncoder | None = None
        self._cache: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        self.capacity = capacity

    @property
    def encoder(self) -> ImageEncoder:
        if self._encoder is None:
            self._encoder = self._encoder_factory()
        return self._encoder

    def embed(self, sources: Sequence[Path | Image.Image], batch_size: int = 64) -> torch.Tensor:
        """(n, dim) float32 embeddings of image sources, computing only the ones not cached."""
        keys = [source_key(source) for source in sources]
        missing = {key: source for key, source in zip(keys, sources) if key not in self._cache}
        vectors = encode_images(self.encoder, list(missing.values()), batch_size, load=_decoded)
        self._cache.update(zip(missing, vectors))
        for key in keys:
            self._cache.move_to_end(key)
        result = torch.stack([self._cache[key] for key in keys])
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return result
