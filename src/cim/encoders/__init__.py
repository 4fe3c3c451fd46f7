"""Text and image encoders behind two protocols, loaded by spec string."""

from cim.encoders.registry import (
    DEFAULT_IMAGE_ENCODER,
    DEFAULT_TEXT_ENCODER,
    IMAGE_ENCODERS,
    TEXT_ENCODERS,
    load_image_encoder,
    load_text_encoder,
    split_spec,
)

__all__ = [
    "DEFAULT_IMAGE_ENCODER",
    "DEFAULT_TEXT_ENCODER",
    "IMAGE_ENCODERS",
    "TEXT_ENCODERS",
    "load_image_encoder",
    "load_text_encoder",
    "split_spec",
]
