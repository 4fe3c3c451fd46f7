"""`cim serve` under load: 64 concurrent clients sending single /cim requests, micro-batching vs max batch 1.

Two servers run side by side on loopback (`cim serve` subprocesses on one gallery): one with micro-batching
(--max-batch 256), one with --max-batch 1, which scores each request alone as the release's server does.
The same load — CLIENTS async clients, each sending one /cim request ({"response", "index", "k": 3}) at a
time, captions and gallery rows as in reward_throughput.py — hits them in alternating windows, so that
other load on the machine falls on both alike. Reported: requests per second, p50 / p99 latency, errors,
the servers' RSS, and how many requests both servers answered alike (to 1e-6): a caption whose top-k holds
two gallery items tied to within float noise can swap them when encoded in another batch composition.

    python benchmarks/serve_load.py                         # default 20k shapes gallery
    python benchmarks/serve_load.py --random-rows 1000000   # a release-scale gallery (random embeddings)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import numpy as np
import psutil
from _common import machine, report
from reward_throughput import bench_gallery, step_captions

from cim.gallery.store import Gallery
from cim.reward.scorer import DEFAULT_ENCODE_BATCH


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(stack: ExitStack, gallery: Path, max_batch: int, max_wait_ms: float, extra: list[str]) -> tuple[str, psutil.Process]:
    """`cim serve` in a subprocess, stopped (SIGTERM) when the stack closes; returns its URL once healthy."""
    port = free_port()
    command = [sys.executable, "-m", "cim.cli", "serve", "--gallery", str(gallery), "--port", str(port), "--device",
               "cpu", "--max-batch", str(max_batch), "--max-wait-ms", str(max_wait_ms), "--log-level", "warning"]
    command += extra
    process = subprocess.Popen(command, env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    stack.callback(process.wait, 60)
    stack.callback(process.terminate)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return url, psutil.Process(process.pid)
        except httpx.TransportError:
            time.sleep(0.5)
    raise RuntimeError(f"the server with --max-batch {max_batch} did not start")


async def load(url: str, work: list[tuple[str, int]], clients: int, seconds: float, offset: int) -> dict:
    """CLIENTS clients, one request in flight each, for `seconds`; latencies and errors of the window."""
    latencies: list[float] = []
    errors: list[str] = []
    answers: dict[int, float] = {}
    counter = iter(range(offset, 10**9))
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:

        async def client() -> None:
            while time.perf_counter() < deadline:
                n = next(counter)
                caption, index = work[n % len(work)]
                start = time.perf_counter()
                try:
                    response = await http.post("/cim", json={"response": caption, "index": index, "k": 3})
                except httpx.HTTPError as error:
                    errors.append(type(error).__name__)
                    continue
                if response.status_code != 200:
                    errors.append(f"HTTP {response.status_code}")
                    continue
                latencies.append(time.perf_counter() - start)
                answers[n % len(work)] = float(response.json())

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - start
    return {"requests": len(latencies), "seconds": elapsed, "latencies": latencies, "errors": errors, "answers": answers}


def summarise(windows: list[dict], rss: int) -> dict:
    latencies = np.array([x for w in windows for x in w["latencies"]])
    requests = sum(w["requests"] for w in windows)
    seconds = sum(w["seconds"] for w in windows)
    return {
        "requests": requests,
        "throughput_rps": round(requests / seconds, 1),
        "p50_ms": round(1000 * float(np.percentile(latencies, 50)), 1),
        "p99_ms": round(1000 * float(np.percentile(latencies, 99)), 1),
        "errors": sum(len(w["errors"]) for w in windows),
        "server_rss_mb": round(rss / 2**20),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gallery", type=Path, help="gallery folder (default: the cached 20k shapes gallery)")
    parser.add_argument("--random-rows", type=int, help="use a random-embedding gallery of this many rows instead")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20.0, help="load time per setting, split into windows")
    parser.add_argument("--windows", type=int, default=2, help="alternating windows per setting")
    parser.add_argument("--max-batch", type=int, default=256)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads of both servers (default: torch's)")
    parser.add_argument("--encode-batch", type=int, default=DEFAULT_ENCODE_BATCH, help="captions per text-encoder pass (both servers)")
    parser.add_argument("--name", default=None, help="results file name")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]  # other work on the machine falls on both settings, but slows both
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        gallery = bench_gallery(args.gallery, args.random_rows, Path(tmp))
        rows = len(Gallery.load(gallery))
        captions, _ = step_captions([str(i) for i in range(rows)])
        work = [(caption, (17 * i) % rows) for i, caption in enumerate(captions)]
        settings = {"batched": (args.max_batch, args.max_wait_ms), "batch1": (1, 0.0)}
        extra = ["--encode-batch", str(args.encode_batch)] + (["--threads", str(args.threads)] if args.threads else [])
        servers = {name: start_server(stack, gallery, *options, extra) for name, options in settings.items()}
        for url, _ in servers.values():  # warm-up: first requests pay for lazy set-up
            asyncio.run(load(url, work, 8, 2.0, 0))
        windows: dict[str, list[dict]] = {name: [] for name in settings}
        for w in range(args.windows):
            for name, (url, _) in servers.items():
                windows[name].append(asyncio.run(load(url, work, args.clients, args.seconds / args.windows, w * 100_000)))
        results = {name: summarise(windows[name], servers[name][1].memory_info().rss) for name in settings}
    answers = [{k: v for w in windows[name] for k, v in w["answers"].items()} for name in settings]
    common = sorted(set(answers[0]) & set(answers[1]))
    diffs = [abs(answers[0][i] - answers[1][i]) for i in common]
    headline = {
        "gallery_rows": rows,
        "gallery": "random" if args.random_rows else str(gallery),
        "clients": args.clients,
        "seconds_per_setting": args.seconds,
        "max_batch": args.max_batch,
        "max_wait_ms": args.max_wait_ms,
        "torch_threads": args.threads or "default",
        "encode_batch": args.encode_batch,
        **{f"{name}_{key}": value for name, result in results.items() for key, value in result.items()},
        "throughput_ratio": round(results["batched"]["throughput_rps"] / results["batch1"]["throughput_rps"], 2),
        "answers_compared": len(common),  # the same request answered by both servers
        "answers_differing": sum(d > 1e-6 for d in diffs),  # near-tied neighbours flipped by batch-composition noise
        "max_answer_diff": max(diffs, default=float("nan")),
        "goal_ratio": 5,
        "load_average_1m_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "machine": machine(),
    }
    report(args.name or ("serve_load" if not args.random_rows else f"serve_load_random{args.random_rows}"), headline)


if __name__ == "__main__":
    main()
