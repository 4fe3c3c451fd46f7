"""Encoders chosen by spec string ("name" or "name:argument") from two small registries.

Adding an encoder is one module with a `load_text` and/or `load_image` function plus one line here.
Entries name modules rather than import them, so listing specs does not import torch. A text spec may end
in "@<backend>[-<precision>]" (see `cim.encoders.backends`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from cim.encoders.backends import TORCH, check_exportable, split_backend
from cim.errors import UnknownNameError

if TYPE_CHECKING:
    from cim.encoders.base import ImageEncoder, TextEncoder

# name → module holding load_text(argument, device) / load_image(argument, pooling, image_size, device)
TEXT_ENCODERS: dict[str, str] = {
    "minilm": "cim.encoders.sbert",
    "sbert": "cim.encoders.sbert",
    "hf-clip": "cim.encoders.hf_clip",
    "openclip": "cim.encoders.openclip",
}
IMAGE_ENCODERS: dict[str, str] = {
    "efficientnet-lite0": "cim.encoders.efficientnet",
    "hf-clip": "cim.encoders.hf_clip",
    "openclip": "cim.encoders.openclip",
    "dinov2": "cim.encoders.dinov2",
}
DEFAULT_TEXT_ENCODER = "minilm"
DEFAULT_IMAGE_ENCODER = "efficientnet-lite0"


def split_spec(spec: str) -> tuple[str, str | None]:
    """"sbert:path/to/model" → ("sbert", "path/to/model"); "minilm" → ("minilm", None)."""
    name, sep, argument = spec.partition(":")
    return name, (argument if sep else None)


def _module(registry: dict[str, str], kind: str, spec: str):
    name, _ = split_spec(spec)
    if name not in registry:
        raise UnknownNameError(kind, spec, [*registry])
    return importlib.import_module(registry[name])


def load_text_encoder(spec: str = DEFAULT_TEXT_ENCODER, device: str | None = None) -> TextEncoder:
    """Load a text encoder from its spec, e.g. "minilm", "minilm@onnx-int8" or
    "sbert:sentence-transformers/all-mpnet-base-v2"."""
    model_spec, backend = split_backend(spec)
    module = _module(TEXT_ENCODERS, "text encoder", model_spec)
    if backend.name == TORCH:
        return module.load_text(model_spec, device=device)
    check_exportable(model_spec, backend)
    return module.load_text(model_spec, device=device, backend=backend)


def load_image_encoder(
    spec: str = DEFAULT_IMAGE_ENCODER,
    pooling: str = "global",
    image_size: int | None = None,
    device: str | None = None,
) -> ImageEncoder:
    """Load an image encoder from its spec, e.g. "efficientnet-lite0" or "dinov2:facebook/dinov2-small"."""
    module = _module(IMAGE_ENCODERS, "image encoder", spec)
    return module.load_image(spec, pooling=pooling, image_size=image_size, device=device)
