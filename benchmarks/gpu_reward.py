"""The CIM reward of one 1,280-caption GRPO step at the release's scale on one GPU: batched CIMScorer vs one caption
per call (the release's pattern) vs the encode-only floor.

Text encoder: a random-init MPNet of all-mpnet-base-v2's size (768 wide, 12 layers, 384 tokens); gallery: 1M rows of
random unit embeddings; captions: ~200 word pieces, five per source item (a GRPO group), clean mode. The per-caption
pattern runs the same scorer once per caption on `--loop-captions` captions and is extrapolated to the step; it has no
HTTP in it, so it is a lower bound of the release's server. Every timing ends with results on the CPU, so CUDA work
is finished when the clock stops.

    python benchmarks/gpu_reward.py                      # cuda when available, 1M rows, 1,280 captions
    python benchmarks/gpu_reward.py --rows 2000 --captions 64 --hidden 64 --encoder-layers 2 --out /tmp/r.json
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from _common import machine, report
from _release_scale import (
    caption_tokenizer,
    encoder_parameters,
    group_sources,
    long_captions,
    release_scorer,
    token_counts,
)
from reward_throughput import measure


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the random gallery")
    parser.add_argument("--captions", type=int, default=1280, help="captions of the step (256 prompts × 5)")
    parser.add_argument("--caption-tokens", type=int, default=200, help="word pieces per caption")
    parser.add_argument("--hidden", type=int, default=768, help="text encoder width (a multiple of 64)")
    parser.add_argument("--encoder-layers", type=int, default=12)
    parser.add_argument("--encode-batch", type=int, default=64, help="captions per encoder pass")
    parser.add_argument(
        "--loop-captions", type=int, default=256, help="captions timed one per call, then extrapolated"
    )
    parser.add_argument("--out", type=Path, help="results file (default benchmarks/results/gpu_reward.json)")
    args = parser.parse_args()
    if args.hidden % 64:
        parser.error(f"--hidden {args.hidden} must be a multiple of 64")
    if (
        min(
            args.rows,
            args.captions,
            args.caption_tokens,
            args.encoder_layers,
            args.encode_batch,
            args.loop_captions,
        )
        < 1
    ):
        parser.error("sizes must be positive")
    return args


def main() -> None:
    args = parse_args()
    tokenizer = caption_tokenizer()
    captions = long_captions(args.captions, args.caption_tokens, tokenizer)
    with tempfile.TemporaryDirectory() as tmp:
        scorer = release_scorer(
            Path(tmp), args.rows, args.hidden, args.encoder_layers, args.device, args.encode_batch
        )
        sources = group_sources(scorer.gallery.ids, len(captions))
        loop_captions = min(args.loop_captions, len(captions))
        result = measure(scorer, captions, sources, loop_captions)
    tokens = token_counts(captions, tokenizer)
    headline = {
        "device": args.device,
        "gallery_rows": args.rows,
        "loop_captions_timed": loop_captions,
        "encoder": {
            "arch": "mpnet, random init",
            "hidden": args.hidden,
            "layers": args.encoder_layers,
            "parameters": encoder_parameters(scorer),
            "max_tokens": scorer.text_encoder.max_tokens,
            "encode_batch": args.encode_batch,
        },
        "mean_caption_tokens": round(sum(tokens) / len(tokens), 1),
        **result,
        "machine": machine(),
    }
    report("gpu_reward", headline, args.out)


if __name__ == "__main__":
    main()
