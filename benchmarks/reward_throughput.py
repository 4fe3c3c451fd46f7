"""Batched CIMScorer vs the release's one-caption-at-a-time pattern, on the same gallery, in one run.

Captions: 1,280 (one GRPO step: 256 prompts × 5 samples), five caption variants of each of 256 shapes
scenes, each scored against its scene's gallery item (clean mode). The loop baseline calls the same
scorer with one caption per call (one encode and one search per caption, as the release's server does).
Also reported: the encode-only floor (the text encoder alone on all captions, batched) and the share of
search + scoring in the batched time.

    python benchmarks/reward_throughput.py                      # default 20k shapes gallery
    python benchmarks/reward_throughput.py --random-rows 1000000 # a 1M-row random gallery, release scale
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from _common import machine, report

from cim.encoders import load_text_encoder
from cim.gallery.named import ensure_shapes_gallery
from cim.gallery.synthetic import write_random_gallery
from cim.reward.scorer import CIMScorer
from cim.shapes import LEVELS, caption_for_level, split_scenes


def step_captions(gallery_ids: list[str], n_scenes: int = 256) -> tuple[list[str], list[str]]:
    """Five variants per scene: the four levels plus a shuffled complete caption; sources cycle over gallery ids."""
    captions, sources = [], []
    for i, scene in enumerate(split_scenes("gallery", n_scenes)):
        rng = random.Random(i)
        variants = [caption_for_level(scene, level, rng) for level in LEVELS]
        variants.append(caption_for_level(scene, "complete", rng, shuffle=True))
        captions += variants
        sources += [gallery_ids[i % len(gallery_ids)]] * len(variants)
    return captions, sources


def measure(scorer: CIMScorer, captions: list[str], sources: list[str], loop_captions: int) -> dict[str, float]:
    scorer.score(captions[:64], sources[:64])  # warm-up
    start = time.perf_counter()
    scorer.score(captions, sources)
    batched = time.perf_counter() - start
    start = time.perf_counter()
    scorer.text_encoder.encode(captions, batch_size=scorer.options.encode_batch)
    encode = time.perf_counter() - start
    start = time.perf_counter()
    for caption, source in zip(captions[:loop_captions], sources[:loop_captions]):
        scorer.score([caption], [source])
    loop_per_caption = (time.perf_counter() - start) / loop_captions
    n = len(captions)
    return {
        "captions": n,
        "batched_ms_per_caption": round(1000 * batched / n, 3),
        "loop_ms_per_caption": round(1000 * loop_per_caption, 3),
        "encode_only_ms_per_caption": round(1000 * encode / n, 3),
        "speedup": round(loop_per_caption * n / batched, 2),
        "search_and_scoring_share": round(max(batched - encode, 0.0) / batched, 3),
        "step_seconds_batched": round(batched, 3),
        "step_seconds_loop": round(loop_per_caption * n, 3),
    }


def bench_gallery(gallery: Path | None, random_rows: int | None, tmp: Path) -> Path:
    """A random-embedding gallery of `random_rows` rows in tmp (real MiniLM queries), else `gallery`, else the 20k default."""
    if random_rows:
        text = load_text_encoder("minilm", device="cpu").describe()
        image = {"spec": "efficientnet-lite0", "dim": 1280, "pooling": "global", "image_size": 128, "normalised": True}
        write_random_gallery(tmp / "random", random_rows, text, image)
        return tmp / "random"
    return gallery or ensure_shapes_gallery(20000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gallery", type=Path, help="gallery folder (default: the cached 20k shapes gallery)")
    parser.add_argument("--random-rows", type=int, help="use a random-embedding gallery of this many rows instead")
    parser.add_argument("--loop-captions", type=int, default=256, help="captions timed one at a time")
    parser.add_argument("--name", default=None, help="results file name")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        gallery = bench_gallery(args.gallery, args.random_rows, Path(tmp))
        scorer = CIMScorer(gallery, device="cpu")
        captions, sources = step_captions(scorer.gallery.ids)
        result = measure(scorer, captions, sources, args.loop_captions)
    headline = {"gallery_rows": len(scorer.gallery), "gallery": "random" if args.random_rows else str(gallery), **result,
                "goal_speedup": 8, "goal_share": 0.15, "machine": machine()}
    report(args.name or ("reward_throughput" if not args.random_rows else f"reward_throughput_random{args.random_rows}"), headline)


if __name__ == "__main__":
    main()
