"""Time building the default shapes gallery against the raw encoders' throughput.

Raw encoders: items/s of MiniLM on the gallery captions plus EfficientNet-Lite0 on pre-rendered
128 px scenes, timed alone (no rendering, no I/O). Build: `cim gallery build --shapes N` through the
library (render in a worker, encode, save chunks, merge, hash). Goal: N=20000 in at most 6 minutes.

    python benchmarks/gallery_build.py [--n 20000] [--sample 1024]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from _common import machine, report

from cim.encoders import load_image_encoder, load_text_encoder
from cim.gallery.build import BuildConfig, build_gallery
from cim.gallery.items import open_image, shapes_items


def raw_encoder_rate(sample: int, config: BuildConfig) -> dict[str, float]:
    items = shapes_items(sample)
    text_encoder = load_text_encoder(config.text_encoder, device="cpu")
    image_encoder = load_image_encoder(config.image_encoder, config.pooling, config.image_size, device="cpu")
    pixels = torch.stack([image_encoder.preprocess(open_image(item.image, config.image_size)) for item in items])
    captions = [item.caption for item in items]
    text_encoder.encode(captions[:32], config.text_batch_size)  # warm-up
    image_encoder.embed(pixels[:32])
    start = time.perf_counter()
    text_encoder.encode(captions, config.text_batch_size)
    text_s = time.perf_counter() - start
    start = time.perf_counter()
    for part in pixels.split(config.image_batch_size):
        image_encoder.embed(part)
    image_s = time.perf_counter() - start
    return {"text_items_per_s": sample / text_s, "image_items_per_s": sample / image_s,
            "raw_items_per_s": sample / (text_s + image_s)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--sample", type=int, default=1024)
    args = parser.parse_args()
    config = BuildConfig(image_size=128)
    raw = raw_encoder_rate(args.sample, config)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        build_gallery(shapes_items(args.n), Path(tmp) / "gallery", config)
        build_s = time.perf_counter() - start
    headline = {
        "n": args.n,
        "build_seconds": round(build_s, 1),
        "build_items_per_s": round(args.n / build_s, 1),
        **{key: round(value, 1) for key, value in raw.items()},
        "build_vs_raw": round(args.n / build_s / raw["raw_items_per_s"], 3),
        "goal_seconds": 360,
        "meets_goal": build_s <= 360,
        "machine": machine(),
    }
    report("gallery_build", headline)


if __name__ == "__main__":
    main()
