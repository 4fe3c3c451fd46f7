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
