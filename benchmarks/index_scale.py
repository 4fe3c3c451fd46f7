"""Exact search vs FAISS IVF on 1M random 384-d unit vectors: recall@3 and query speed.

Data: random unit vectors with the cluster structure of real caption embeddings (points scattered
around random centres, so every query has genuine near neighbours), and, as the worst case, queries
drawn uniformly on the sphere, which have no near neighbours at all. Both backends answer the same
1,280 queries (one GRPO step of 256 prompts × 5 samples) through cim's index registry.

    python benchmarks/index_scale.py [--rows 1000000] [--nlist 1024] [--nprobe 16]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import machine, report

from cim.index.registry import make_index


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def clustered(rng: np.random.Generator, centres: np.ndarray, n: int, spread: float) -> np.ndarray:
    """n unit vectors around randomly chosen centres; `spread` is the noise norm relative to the centre."""
    d = centres.shape[1]
    out = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(start + 100_000, n)
        picks = rng.integers(0, len(centres), stop - start)
        noise = rng.standard_normal((stop - start, d)).astype(np.float32) * (spread / np.sqrt(d))
        out[start:stop] = unit(centres[picks] + noise)
    return out


def timed_search(index, queries: torch.Tensor, k: int, repeats: int = 2) -> tuple[torch.Tensor, float]:
    index.search(queries[:64], k)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        _, rows = index.search(queries, k)
        best = min(best, time.perf_counter() - start)
    return rows, best


def recall(found: torch.Tensor, truth: torch.Tensor) -> float:
    hits = sum(len(set(f) & set(t)) for f, t in zip(found.tolist(), truth.tolist()))
    return hits / truth.numel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1280)
    parser.add_argument("--centres", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=0.8)
    parser.add_argument("--nlist", type=int, default=1024)
    parser.add_argument("--nprobe", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    centres = unit(rng.standard_normal((args.centres, args.dim)))
    matrix = clustered(rng, centres, args.rows, args.spread)
    near_queries = torch.from_numpy(clustered(rng, centres, args.queries, args.spread))
    uniform_queries = torch.from_numpy(unit(rng.standard_normal((args.queries, args.dim))))

    exact = make_index("exact", matrix, device="cpu")
    start = time.perf_counter()
    ivf = make_index(f"faiss:IVF{args.nlist},Flat", matrix, nprobe=args.nprobe)
    build_s = time.perf_counter() - start
    results = {}
    for name, queries in (("clustered", near_queries), ("uniform", uniform_queries)):
        truth, exact_s = timed_search(exact, queries, 3)
        found, ivf_s = timed_search(ivf, queries, 3)
        results[name] = {"recall_at_3": round(recall(found, truth), 4), "exact_ms_per_query": round(1000 * exact_s / len(queries), 3),
                         "ivf_ms_per_query": round(1000 * ivf_s / len(queries), 3), "speedup": round(exact_s / ivf_s, 1)}
    headline = {
        "rows": args.rows, "dim": args.dim, "queries": args.queries, "index": f"IVF{args.nlist},Flat", "nprobe": args.nprobe,
        "ivf_build_seconds": round(build_s, 1),
        "recall_at_3": results["clustered"]["recall_at_3"], "speedup": results["clustered"]["speedup"],
        "meets_goal": results["clustered"]["recall_at_3"] >= 0.95 and results["clustered"]["speedup"] >= 5,
        "clustered": results["clustered"], "uniform_worst_case": results["uniform"], "machine": machine(),
    }
    report("index_scale", headline)


if __name__ == "__main__":
    main()
