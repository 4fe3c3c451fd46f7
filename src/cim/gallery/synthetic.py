"""Galleries of random unit embeddings, for tests and scale benchmarks (no encoder runs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cim.gallery.manifest import GalleryManifest
from cim.gallery.store import write_gallery


def random_unit_rows(rng: np.random.Generator, n: int, dim: int, chunk: int = 100_000) -> np.ndarray:
    """(n, dim) float16 rows drawn uniformly on the unit sphere."""
    out = np.empty((n, dim), dtype=np.float16)
    for start in range(0, n, chunk):
        x = rng.standard_normal((min(chunk, n - start), dim), dtype=np.float32)
        out[start : start + len(x)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def write_random_gallery(
    out: Path,
    n: int,
    text_encoder: dict,
    image_encoder: dict,
    seed: int = 0,
) -> GalleryManifest:
    """A gallery whose embeddings are random; the encoder descriptions say which encoders queries must use."""
    rng = np.random.default_rng(seed)
    return write_gallery(
        out,
        [f"item-{i}" for i in range(n)],
        [f"caption {i}" for i in range(n)],
        [""] * n,
        random_unit_rows(rng, n, text_encoder["dim"]),
        random_unit_rows(rng, n, image_encoder["dim"]),
        text_encoder,
        image_encoder,
        {"kind": "random", "seed": seed},
    )
