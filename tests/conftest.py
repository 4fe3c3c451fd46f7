"""Shared fixtures: offline hubs, a random-embedding gallery and a small real gallery built from files."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cim.gallery.synthetic import write_random_gallery

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 30), "blue": (30, 30, 220), "yellow": (230, 210, 20)}
SHAPES = ("circle", "square")


def unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="session")
def random_gallery(tmp_path_factory) -> Path:
    """200 items with random unit embeddings: text 384-d (MiniLM's width), image 32-d."""
    out = tmp_path_factory.mktemp("random_gallery")
    write_random_gallery(
        out,
        200,
        {"spec": "minilm", "dim": 384, "max_tokens": 256, "normalised": True},
        {"spec": "efficientnet-lite0", "dim": 32, "pooling": "global", "image_size": 64, "normalised": True},
    )
    return out


def draw_item(colour: str, shape: str, size: int = 64) -> Image.Image:
    image = Image.new("RGB", (size, size), (240, 240, 240))
    draw = ImageDraw.Draw(image)
    box = (12, 12, size - 12, size - 12)
    (draw.ellipse if shape == "circle" else draw.rectangle)(box, fill=COLOURS[colour])
    return image


@pytest.fixture(scope="session")
def items_file(tmp_path_factory) -> Path:
    """24 drawn images (colour × shape × 3 copies) with captions, as an items JSONL."""
    folder = tmp_path_factory.mktemp("items")
    (folder / "img").mkdir()
    lines = []
    for copy in range(3):
        for colour in COLOURS:
            for shape in SHAPES:
                item_id = f"{colour}-{shape}-{copy}"
                draw_item(colour, shape).save(folder / "img" / f"{item_id}.png")
                lines.append({"id": item_id, "caption": f"a {colour} {shape} on a grey background", "image": f"img/{item_id}.png"})
    path = folder / "items.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.fixture(scope="session")
def built_gallery(items_file, tmp_path_factory) -> Path:
    """A real gallery of the drawn items, embedded with the bundled encoders at 64 px."""
    from cim.gallery.build import BuildConfig, build_gallery
    from cim.gallery.items import read_items

    out = tmp_path_factory.mktemp("built") / "gallery"
    build_gallery(read_items(items_file), out, BuildConfig(image_size=64, chunk_size=8, num_workers=0))
    return out


@pytest.fixture(scope="session")
def shapes_gallery(tmp_path_factory) -> Path:
    """The first 300 scenes of the shapes gallery split, bundled encoders, 128 px."""
    from cim.gallery.build import BuildConfig, build_gallery
    from cim.gallery.items import shapes_items

    out = tmp_path_factory.mktemp("shapes") / "gallery"
    build_gallery(shapes_items(300), out, BuildConfig(image_size=128, num_workers=0))
    return out


@pytest.fixture(scope="session")
def built_scorer(built_gallery):
    """A clean-mode CIMScorer over built_gallery (shared by the server, client and adapter tests)."""
    from cim.reward.scorer import CIMScorer

    return CIMScorer(built_gallery, device="cpu")
