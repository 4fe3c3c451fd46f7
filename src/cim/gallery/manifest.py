"""The self-describing gallery manifest (manifest.json) and file checksums."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cim import __version__
from cim.errors import EncoderMismatchError, InputError
from cim.options import explain

FORMAT = "cim-gallery"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ITEMS = "items.parquet"
TEXT_EMB = "text_emb.npy"
IMAGE_EMB = "image_emb.npy"
DATA_FILES = (ITEMS, TEXT_EMB, IMAGE_EMB)


class EncoderInfo(BaseModel):
    """An encoder's manifest entry: the identity keys every entry must have, plus free-form details
    (preprocessing, what the features are). Two encoders are interchangeable when their identities agree."""

    model_config = ConfigDict(extra="allow", frozen=True)
    IDENTITY: ClassVar[tuple[str, ...]] = ("spec", "dim")
    BACKEND_KEYS: ClassVar[tuple[str, ...]] = ()
    """Identity keys that name how the model ran rather than which model it is (see `check_encoder`)."""

    spec: str
    dim: int = Field(ge=1)
    normalised: bool = True

    def identity(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.IDENTITY}


class TextEncoderInfo(EncoderInfo):
    """A text encoder: its spec (without the "@backend" suffix), width, token limit (captions longer than
    max_tokens are truncated), and the backend and precision it ran on (manifests from before these keys: torch,
    fp32). Backends of one model give close but not equal vectors (see `check_encoder`)."""

    IDENTITY: ClassVar[tuple[str, ...]] = ("spec", "dim", "max_tokens", "backend", "precision")
    BACKEND_KEYS: ClassVar[tuple[str, ...]] = ("backend", "precision")
    max_tokens: int = Field(ge=1)
    backend: str = "torch"
    precision: str = "fp32"


class ImageEncoderInfo(EncoderInfo):
    """An image encoder: its spec, width, pooling and input size."""

    IDENTITY: ClassVar[tuple[str, ...]] = ("spec", "dim", "pooling", "image_size")
    pooling: str
    image_size: int = Field(ge=1)


class GalleryManifest(BaseModel):
    """Everything needed to load a gallery from its folder alone."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["cim-gallery"] = FORMAT
    format_version: int = FORMAT_VERSION
    count: int = Field(ge=1)
    dtype: Literal["float16"] = "float16"
    normalised: bool = True
    text_encoder: TextEncoderInfo
    image_encoder: ImageEncoderInfo
    source: dict[str, Any] = Field(default_factory=dict)
    sha256: dict[str, str]
    content_hash: str
    created: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    cim_version: str = __version__

    @classmethod
    def read(cls, folder: Path) -> GalleryManifest:
        """The manifest of a gallery folder; a missing or malformed key is an error naming it."""
        path = Path(folder) / MANIFEST
        try:
            return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as error:
            raise InputError(f"not valid JSON: {error}", source=str(path)) from None
        except ValidationError as error:
            raise InputError(f"{explain(error, cls, 'manifest key')} (rebuild the gallery with this version of cim)", source=str(path)) from None


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


def check_encoder(role: str, expected: EncoderInfo, actual: dict[str, Any], allow_backend_mismatch: bool = False) -> None:
    """Raise if an encoder differs from the one a gallery was built with, on every identity key; with
    `allow_backend_mismatch`, the same model on another backend or precision (`BACKEND_KEYS`) is accepted."""
    given = type(expected).model_validate(actual).identity()
    keys = [key for key in expected.IDENTITY if not (allow_backend_mismatch and key in expected.BACKEND_KEYS)]
    differing = [key for key in keys if given[key] != getattr(expected, key)]
    if not differing:
        return
    diffs = "; ".join(f"{key}: gallery {getattr(expected, key)!r} vs given {given[key]!r}" for key in differing)
    hint = ""
    if set(differing) <= set(expected.BACKEND_KEYS):
        hint = (" — the same model on another backend gives close but not equal vectors; allow it with "
                "allow_backend_mismatch=True (--allow-backend-mismatch)")  # fmt: skip
    raise EncoderMismatchError(f"{role} encoder does not match the gallery's manifest ({diffs}){hint}")
