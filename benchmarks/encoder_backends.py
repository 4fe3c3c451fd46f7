"""The caption encoder on each CPU backend: captions per second against torch, and how closely rewards agree.

Captions: the SHAPES-500 complete captions (exactly as `cim shapes export --split test --level complete` writes
them) and the same captions cut or extended to ~60 tokens (the length GRPO completions reach). Each backend
encodes them in passes of `encode_batch` captions, as the scorer does; the median of --repeats passes counts.
Agreement: one CIMScorer over one gallery (default: the cached 20k shapes gallery) scores the SHAPES-500
captions against their rendered scenes with the torch and with each backend's caption embeddings; reported
are the share of captions whose top-3 is identical (same items, same order) and max / mean |Δ reward|.

    python benchmarks/encoder_backends.py
    python benchmarks/encoder_backends.py --captions 32 --gallery DIR --out /tmp/encoder_backends.json
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from _common import machine, report

from cim.encoders.backends import Backend, parse_backend, with_backend
from cim.encoders.base import TextEncoder, count_tokens
from cim.encoders.registry import load_text_encoder
from cim.gallery.manifest import GalleryManifest
from cim.gallery.named import ensure_shapes_gallery
from cim.io import read_jsonl
from cim.reward.options import DEFAULT_ENCODE_BATCH, ScorerOptions
from cim.reward.scorer import CIMScorer
from cim.shapes import export_split

BACKENDS = ("onnx", "onnx-int8", "openvino")


def cpu_info() -> dict[str, Any]:
    """The CPU's model name and the vector extensions int8 and fp32 kernels use, from /proc/cpuinfo."""
    model, flags = "unknown", set()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == "unknown":
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    return {"model": model, "avx2": "avx2" in flags, "avx512": "avx512f" in flags,
            "vnni": bool({"avx512_vnni", "avx_vnni"} & flags)}  # fmt: skip


def grpo_length(captions: list[str], tokenizer: Any, tokens: int) -> list[str]:
    """Each caption, extended with the next ones and cut to `tokens` word pieces including [CLS] and [SEP]."""
    out = []
    for i, caption in enumerate(captions):
        text, j = caption, i
        while len(tokenizer.tokenize(text)) < tokens - 2 and j < i + len(captions):
            j += 1
            text += " " + captions[j % len(captions)]
        out.append(tokenizer.convert_tokens_to_string(tokenizer.tokenize(text)[: tokens - 2]))
    return out


def captions_per_second(
    encoders: dict[str, TextEncoder], captions: list[str], batch: int, repeats: int
) -> dict[str, float]:
    """Median captions per second of each encoder over `repeats` passes, the encoders interleaved in each round."""
    seconds: dict[str, list[float]] = {name: [] for name in encoders}
    for encoder in encoders.values():
        encoder.encode(captions[:32], batch_size=batch)  # warm-up
    for _ in range(repeats):
        for name, encoder in encoders.items():
            start = time.perf_counter()
            encoder.encode(captions, batch_size=batch)
            seconds[name].append(time.perf_counter() - start)
    return {name: round(len(captions) / statistics.median(times), 1) for name, times in seconds.items()}


def agreement(
    scorer: CIMScorer, encoders: dict[str, TextEncoder], captions: list[str], sources: list[Path], batch: int
) -> dict[str, dict[str, float]]:
    """Per backend: top-3 identical to torch's (share), max / mean |Δ reward|, least caption cosine to torch."""
    torch_text = encoders["torch"].encode(captions, batch_size=batch)
    base = scorer.score_encoded(torch_text, sources, captions)
    result = {}
    for name, encoder in encoders.items():
        if name == "torch":
            continue
        text = encoder.encode(captions, batch_size=batch)
        scores = scorer.score_encoded(text, sources, captions)
        diffs = [abs(a.reward - b.reward) for a, b in zip(base, scores)]
        same = sum(a.retrieved_ids == b.retrieved_ids for a, b in zip(base, scores))
        cosines = torch.nn.functional.cosine_similarity(text.vectors, torch_text.vectors, dim=-1)
        result[name] = {"top3_identical": round(same / len(captions), 4), "reward_abs_diff_max": round(max(diffs), 6),
                        "reward_abs_diff_mean": round(sum(diffs) / len(diffs), 6), "min_cosine": round(float(cosines.min()), 6)}  # fmt: skip
    return result


def scoring_ms(scorer: CIMScorer, captions: list[str], repeats: int) -> float:
    """Median ms per caption of everything after the encoder (search, gather, QIR / GRC, records) for captions
    already embedded, each scored against a gallery item by id (as GRPO on gallery scenes does)."""
    text = scorer.encode(captions)
    ids = [scorer.gallery.ids[i % len(scorer.gallery)] for i in range(len(captions))]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        scorer.score_encoded(text, ids, captions)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times) / len(captions)


def load_encoders(spec: str, backends: list[str]) -> tuple[dict[str, TextEncoder], dict[str, float]]:
    """The gallery's caption encoder on torch and on each backend, with each one's load time (a cold cache's
    includes the one-time export)."""
    encoders: dict[str, TextEncoder] = {}
    seconds = {}
    for name in ["torch", *backends]:
        start = time.perf_counter()
        backend = Backend() if name == "torch" else parse_backend(name)
        encoders[name] = load_text_encoder(with_backend(spec, backend), device="cpu")
        seconds[name] = round(time.perf_counter() - start, 2)
    return encoders, seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captions", type=int, default=500, help="SHAPES test scenes (default: SHAPES-500)")
    parser.add_argument(
        "--gallery", type=Path, help="gallery folder (default: the cached 20k shapes gallery)"
    )
    parser.add_argument(
        "--backends", nargs="+", default=list(BACKENDS), help="backends to compare with torch"
    )
    parser.add_argument("--tokens", type=int, default=60, help="length of the GRPO-like captions, in tokens")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per encoder and caption set")
    parser.add_argument("--batch", type=int, default=DEFAULT_ENCODE_BATCH, help="captions per encoder pass")
    parser.add_argument(
        "--out", type=Path, help="results file (default: benchmarks/results/encoder_backends.json)"
    )
    args = parser.parse_args(argv)
    cpu = cpu_info()
    flags = f"AVX2 {cpu['avx2']}, AVX-512 {cpu['avx512']}, VNNI {cpu['vnni']}"
    print(f"cpu: {cpu['model']} ({flags}); torch threads {torch.get_num_threads()}")
    gallery = args.gallery or ensure_shapes_gallery(20000)
    manifest = GalleryManifest.read(gallery)
    encoders, load_seconds = load_encoders(manifest.text_encoder.spec, args.backends)
    with tempfile.TemporaryDirectory() as tmp:
        jsonl = export_split("test", "complete", Path(tmp), manifest.image_encoder.image_size, args.captions)
        rows = [row for _, row in read_jsonl(jsonl)]
        captions, sources = [row["caption"] for row in rows], [Path(tmp) / row["image"] for row in rows]
        tokenizer = encoders["torch"].model.tokenizer
        sets = {"complete": captions, "grpo": grpo_length(captions, tokenizer, args.tokens)}
        speed = {
            kind: captions_per_second(encoders, texts, args.batch, args.repeats)
            for kind, texts in sets.items()
        }
        options = ScorerOptions(encode_batch=args.batch, allow_backend_mismatch=True)
        scorer = CIMScorer(gallery, options, text_encoder=encoders["torch"], device="cpu")
        agree = agreement(scorer, encoders, captions, sources, args.batch)
        rest_ms = scoring_ms(scorer, sets["grpo"], args.repeats)
    tokens = {kind: round(float(count_tokens(tokenizer, texts).mean()), 1) for kind, texts in sets.items()}
    table: dict[str, dict[str, Any]] = {}
    for name in encoders:
        row: dict[str, Any] = {"load_seconds": load_seconds[name], **agree.get(name, {})}
        for kind in sets:
            row[f"{kind}_captions_per_s"] = speed[kind][name]
            row[f"{kind}_speedup"] = round(speed[kind][name] / speed[kind]["torch"], 2)
        table[name] = row
        print(f"{name:>10}: " + ", ".join(f"{key} {value}" for key, value in row.items()))
    fastest = max(table, key=lambda name: table[name]["grpo_captions_per_s"])
    after_encoder = {"ms_per_caption": round(rest_ms, 3), "fastest_encoder": fastest,
                     "share_of_fastest_encoder": round(rest_ms / (1000 / table[fastest]["grpo_captions_per_s"]), 3)}  # fmt: skip
    print(f"after the encoder: {rest_ms:.3f} ms per caption = {after_encoder['share_of_fastest_encoder']:.1%} of {fastest}'s encode time")
    headline = {"captions": len(captions), "gallery": str(gallery), "gallery_rows": len(scorer.gallery), "batch": args.batch,
                "search_gather_score": after_encoder,
                "repeats": args.repeats, "mean_tokens": tokens, "encoders": table, "cpu": cpu, "machine": machine()}  # fmt: skip
    report("encoder_backends", headline, args.out)


if __name__ == "__main__":
    main()
