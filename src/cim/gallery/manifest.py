"""The self-describing gallery manifest (manifest.json) and file checksums."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cim.errors import EncoderMismatchError

FORMAT = "cim-gallery"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ITEMS = "items.parquet"
TEXT_EMB = "text_emb.npy"
IMAGE_EMB = "image_emb.npy"
DATA_FILES = (ITEMS, TEXT_EMB, IMAGE_EMB)
# Keys of an encoder description that must agree for two encoders to be interchangeable.
ENCODER_KEYS = ("spec", "dim", "pooling", "image_size", "max_tokens")


class GalleryManifest(BaseModel):
    """Everything needed to load a gallery from its folder alone."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["cim-gallery"] = FORMAT
    format_version: int = FORMAT_VERSION
    count: int = Field(ge=1)
    dtype: Literal["float16"] = "float16"
    normalised: bool = True
    text_encoder: dict[str, Any]
    image_encoder: dict[str, Any]
    source: dict[str, Any] = Field(default_factory=dict)
    sha256: dict[str, str]
    content_hash: str
    created: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    cim_version: str = "0.1.0"

    @classmethod
    def read(cls, folder: Path) -> GalleryManifest:
        return cls.model_validate(json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8")))


def file_sha256(path: Path, block: int = 1 << 22) -> str:
    """Streaming SHA-256 of a file."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def content_hash(file_hashes: dict[str, str]) -> str:
    """One hash over the data files' hashes, in a fixed order."""
    joined = "\n".join(f"{name}:{file_hashes[name]}" for name in DATA_FILES)
    return hashlib.sha256(joined.encode()).hexdigest()


def check_encoder(role: str, expected: dict[str, Any], actual: dict[str, Any]) -> None:
    """Raise if an encoder differs from the one a gallery was built with (on the keys the manifest records)."""
    diffs = [
        f"{key}: gallery {expected[key]!r} vs given {actual.get(key)!r}"
        for key in ENCODER_KEYS
        if expected.get(key) is not None and expected[key] != actual.get(key)
    ]
    if diffs:
        raise EncoderMismatchError(f"{role} encoder does not match the gallery's manifest ({'; '.join(diffs)})")
