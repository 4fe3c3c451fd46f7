"""Torch intra-op thread counts per workload.

On a few cores, torch's intra-op threads spin-wait between small ops. A tiny model's generation and update
(thousands of small ops per step) run about as fast on one thread as on all of them when the machine is
quiet, and many times faster on one thread when another process keeps a core busy; encoders (large matrix
products) gain from every core. Recipes therefore set the policy's threads and the reward's separately
(`benchmarks/busy_threads.py` measures both ways).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with `count` torch intra-op threads (None: as they are), then restore the previous count.

    OpenMP thread counts belong to the calling thread: enter this in the thread that runs the work.
    """
    if count is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat, or None where there is none (not Linux)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_cores(seconds: float = 1.0) -> float:
    """Cores kept busy over the next `seconds` (by everything, this process included), from /proc/stat; the
    1-minute load average where that is missing."""
    import os
    import time

    before = _cpu_times()
    if before is None:
        return os.getloadavg()[0]
    time.sleep(seconds)
    after = _cpu_times()
    total = after[1] - before[1]
    return (os.cpu_count() or 1) * (after[0] - before[0]) / total if total else 0.0


QUIET_POLICY_THREADS = 2
"""Policy threads on a quiet machine: 1.3× faster than one for a CIM+ GRPO step on 2 cores (6.0 → 4.6 s);
more threads were not measured and spin more on the tiny model's small ops."""


def policy_threads_for_now(threshold: float = 0.5) -> int:
    """Threads for a tiny policy's generation and update: QUIET_POLICY_THREADS (at most one per core) when less
    than `threshold` of a core is busy now, else 1 (robust beside other work: `benchmarks/busy_threads.py`)."""
    import os

    return min(QUIET_POLICY_THREADS, os.cpu_count() or 1) if busy_cores() < threshold else 1
