"""A gallery on disk: row-aligned ids, captions, image references and fp16 embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cim.errors import InputError
from cim.gallery.manifest import (
    IMAGE_EMB,
    ITEMS,
    MANIFEST,
    TEXT_EMB,
    GalleryManifest,
    content_hash,
    file_sha256,
)
from cim.io import write_json


class Gallery:
    """Load with `Gallery.load(path)`; embeddings are memory-mapped, rows L2-normalised."""

    def __init__(
        self,
        path: Path,
        manifest: GalleryManifest,
        ids: list[str],
        captions: list[str],
        images: list[str],
        text_emb: np.ndarray,
        image_emb: np.ndarray,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.ids = ids
        self.captions = captions
        self.images = images
        self.text_emb = text_emb
        self.image_emb = image_emb

    @classmethod
    def load(cls, path: str | Path, verify: bool = False) -> Gallery:
        """Open a gallery folder; `verify` re-checks every file's SHA-256 against the manifest."""
        path = Path(path)
        if not (path / MANIFEST).is_file():
            raise InputError(f"not a gallery folder (no {MANIFEST}); build one with `cim gallery build`", source=str(path))
        manifest = GalleryManifest.read(path)
        if verify:
            for name, expected in manifest.sha256.items():
                if file_sha256(path / name) != expected:
                    raise InputError(f"{name} does not match its checksum in {MANIFEST}", source=str(path))
        table = pq.read_table(path / ITEMS)
        text_emb = np.load(path / TEXT_EMB, mmap_mode="r")
        image_emb = np.load(path / IMAGE_EMB, mmap_mode="r")
        expected_shapes = {
            TEXT_EMB: (manifest.count, manifest.text_encoder.dim),
            IMAGE_EMB: (manifest.count, manifest.image_encoder.dim),
        }
        for name, array in ((TEXT_EMB, text_emb), (IMAGE_EMB, image_emb)):
            if array.shape != expected_shapes[name]:
                raise InputError(f"{name} has shape {array.shape}, manifest says {expected_shapes[name]}", source=str(path))
        if table.num_rows != manifest.count:
            raise InputError(f"{ITEMS} has {table.num_rows} rows, manifest says {manifest.count}", source=str(path))
        columns = table.to_pydict()
        return cls(path, manifest, columns["id"], columns["caption"], columns["image"], text_emb, image_emb)

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def row_of_id(self) -> dict[str, int]:
        return {item_id: row for row, item_id in enumerate(self.ids)}

    def row(self, item_id: str) -> int:
        """Gallery row of an id; an unknown id is an error naming it."""
        try:
            return self.row_of_id[item_id]
        except KeyError:
            raise InputError(f"unknown source id {item_id!r}: not in the gallery at {self.path}") from None

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.row_of_id


def write_gallery(
    out: Path,
    ids: Sequence[str],
    captions: Sequence[str],
    images: Sequence[str],
    text_emb: np.ndarray,
    image_emb: np.ndarray,
    text_encoder: dict[str, Any],
    image_encoder: dict[str, Any],
    source: dict[str, Any],
) -> GalleryManifest:
    """Validate and write a complete gallery; the manifest is written last, atomically."""
    out = Path(out)
    n = len(ids)
    for name, length in (("captions", len(captions)), ("images", len(images)), ("text embeddings", len(text_emb)), ("image embeddings", len(image_emb))):
        if length != n:
            raise InputError(f"mismatched row counts: {n} ids but {length} {name}")
    if len(set(ids)) != n:
        raise InputError("duplicate ids in gallery items")
    for name, array in (("text embeddings", text_emb), ("image embeddings", image_emb)):
        if not np.isfinite(array).all():
            bad = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
            raise InputError(f"{name} contain NaN or infinite values (first at row {bad}, id {ids[bad]!r})")
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)
    table = pa.table({"id": list(ids), "caption": list(captions), "image": list(images)})
    pq.write_table(table, out / ITEMS)
    np.save(out / TEXT_EMB, np.ascontiguousarray(text_emb, dtype=np.float16))
    np.save(out / IMAGE_EMB, np.ascontiguousarray(image_emb, dtype=np.float16))
    hashes = {name: file_sha256(out / name) for name in (ITEMS, TEXT_EMB, IMAGE_EMB)}
    manifest = GalleryManifest(
        count=n,
        text_encoder=text_encoder,
        image_encoder=image_encoder,
        source=source,
        sha256=hashes,
        content_hash=content_hash(hashes),
    )
    write_json(out / MANIFEST, manifest.model_dump(mode="json"))
    return manifest
