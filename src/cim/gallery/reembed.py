"""A copy of a gallery with its captions embedded by another text encoder; images, ids and image embeddings kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from cim.encoders.registry import load_text_encoder
from cim.errors import InputError
from cim.gallery.manifest import MANIFEST, GalleryManifest
from cim.gallery.store import Gallery, write_gallery


def reembed_gallery(
    gallery_dir: str | Path,
    out: str | Path,
    text_encoder: str,
    device: str | None = None,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> GalleryManifest:
    """Write the gallery at `gallery_dir` to `out` with caption embeddings from `text_encoder` (a spec); the
    manifest records the new encoder (spec, dim, max_tokens) and, under source, the gallery it came from."""
    out = Path(out)
    if (out / MANIFEST).is_file():
        raise InputError("a finished gallery is already here; choose another --out or delete it", source=str(out))
    gallery = Gallery.load(gallery_dir)
    if out.resolve() == gallery.path.resolve():
        raise InputError("the re-embedded copy must go to another folder than the gallery", source=str(out))
    encoder = load_text_encoder(text_encoder, device=device)
    chunks = []
    for start in range(0, len(gallery), batch_size):
        chunks.append(encoder.encode(gallery.captions[start : start + batch_size], batch_size).vectors.numpy())
        if progress:
            progress(min(start + batch_size, len(gallery)), len(gallery))
    source = {"kind": "reembed", "from": str(gallery.path.resolve()), "from_content_hash": gallery.manifest.content_hash,
              "from_text_encoder": gallery.manifest.text_encoder.spec, "from_source": gallery.manifest.source}  # fmt: skip
    return write_gallery(
        out, gallery.ids, gallery.captions, gallery.images, np.concatenate(chunks), np.asarray(gallery.image_emb),
        encoder.describe(), gallery.manifest.image_encoder.model_dump(), source,
    )  # fmt: skip
