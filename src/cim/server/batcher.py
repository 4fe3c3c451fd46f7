"""Micro-batching: concurrent requests are coalesced into one call of a synchronous scoring function.

Requests wait in a queue until `max_batch` items are waiting or the oldest has waited `max_wait` seconds;
then their items are scored together (one call per key, e.g. per k) in a single worker thread, off the
event loop, and each caller's future gets exactly its own slice of the results. When a batched call
raises, the batch is scored again request by request, so only the request at fault fails.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cim.server.metrics import ServerMetrics

log = logging.getLogger(__name__)

ScoreFn = Callable[[Hashable, Sequence[Any]], list[Any]]


class BatcherClosed(RuntimeError):
    """The batcher is shutting down and takes no new work."""


class QueueFull(RuntimeError):
    """More items are waiting than the batcher's limit."""


@dataclass
class _Request:
    key: Hashable
    items: Sequence[Any]
    future: asyncio.Future
    arrived: float = field(default_factory=time.monotonic)


class MicroBatcher:
    """Coalesces `submit(key, items)` calls into `score(key, items)` calls of at most `max_batch` items.

    A request larger than `max_batch` is scored alone. `close()` stops taking work and finishes what
    is queued and in flight.
    """

    def __init__(
        self,
        score: ScoreFn,
        max_batch: int,
        max_wait: float,
        max_queue: int,
        metrics: ServerMetrics | None = None,
    ) -> None:
        self._score = score
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.max_queue = max_queue
        self.metrics = metrics
        self._pending: deque[_Request] = deque()
        self._queued_items = 0
        self._wakeup = asyncio.Event()
        self._closing = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cim-scorer")
        self._task: asyncio.Task | None = None

    @property
    def queued_items(self) -> int:
        return self._queued_items

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="cim-batcher")

    async def run_in_worker(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a synchronous call in the scorer's thread (e.g. a warm-up), in turn with the batches."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def submit(self, key: Hashable, items: Sequence[Any]) -> list[Any]:
        """The results of `items`, scored in some batch with others of the same key."""
        if self._closing:
            raise BatcherClosed("the server is shutting down")
        if self._queued_items + len(items) > self.max_queue and self._queued_items:
            raise QueueFull(f"{self._queued_items} captions are waiting (max_queue={self.max_queue}); retry later")
        request = _Request(key, items, asyncio.get_running_loop().create_future())
        self._pending.append(request)
        self._set_queued(self._queued_items + len(items))
        self._wakeup.set()
        return await request.future

    async def close(self) -> None:
        """Take no new work; score everything queued; stop the worker thread."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        self._executor.shutdown(wait=True)

    def _set_queued(self, n: int) -> None:
        self._queued_items = n
        if self.metrics is not None:
            self.metrics.queue_depth.set(n)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending or not self._closing:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            deadline = self._pending[0].arrived + self.max_wait
            while self._queued_items < self.max_batch and not self._closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
                except asyncio.TimeoutError:
                    break
            await self._score_batch(loop, self._take_batch())

    def _take_batch(self) -> list[_Request]:
        batch: list[_Request] = []
        size = 0
        while self._pending and (not batch or size + len(self._pending[0].items) <= self.max_batch):
            request = self._pending.popleft()
            self._set_queued(self._queued_items - len(request.items))
            if not request.future.done():  # a caller that went away is not scored
                batch.append(request)
                size += len(request.items)
        return batch

    async def _score_batch(self, loop: asyncio.AbstractEventLoop, batch: list[_Request]) -> None:
        groups: dict[Hashable, list[_Request]] = {}
        for request in batch:
            groups.setdefault(request.key, []).append(request)
        for key, requests in groups.items():
            items = [item for request in requests for item in request.items]
            start = time.perf_counter()
            try:
                results = await loop.run_in_executor(self._executor, self._score, key, items)
            except Exception:  # noqa: BLE001 - whatever broke the batch, find the request at fault
                log.info("a batch of %d items failed; scoring its %d requests one by one", len(items), len(requests))
                if self.metrics is not None:
                    self.metrics.fallbacks.inc()
                await self._score_one_by_one(loop, key, requests)
                continue
            if self.metrics is not None:
                self.metrics.observe_batch(len(items), time.perf_counter() - start)
            offset = 0
            for request in requests:
                _resolve(request.future, results[offset : offset + len(request.items)])
                offset += len(request.items)

    async def _score_one_by_one(self, loop: asyncio.AbstractEventLoop, key: Hashable, requests: list[_Request]) -> None:
        for request in requests:
            start = time.perf_counter()
            try:
                results = await loop.run_in_executor(self._executor, self._score, key, request.items)
            except Exception as error:  # noqa: BLE001 - the error goes to its own caller only
                if not request.future.done():
                    request.future.set_exception(error)
                continue
            if self.metrics is not None:
                self.metrics.observe_batch(len(request.items), time.perf_counter() - start)
            _resolve(request.future, results)


def _resolve(future: asyncio.Future, results: list[Any]) -> None:
    if not future.done():
        future.set_result(results)
