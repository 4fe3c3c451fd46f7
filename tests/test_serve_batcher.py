"""MicroBatcher: coalescing, size and key limits, per-request fallback, cancelled callers, backpressure, drain."""

import asyncio
import threading

import pytest

from cim.server.batcher import BatcherClosed, MicroBatcher, QueueFull
from cim.server.metrics import ServerMetrics


class Recorder:
    """A scoring function that doubles numbers, fails on negative ones and records its calls and thread."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[tuple[object, list[int]]] = []
        self.threads: set[int] = set()
        self.delay = delay

    def __call__(self, key, items):
        self.calls.append((key, list(items)))
        self.threads.add(threading.get_ident())
        if self.delay:
            threading.Event().wait(self.delay)
        if any(x < 0 for x in items):
            raise ValueError(f"negative item in {list(items)}")
        return [(key, 2 * x) for x in items]


def run(coroutine):
    return asyncio.run(coroutine)


def test_concurrent_requests_become_one_call_and_each_caller_gets_its_own_results():
    async def main():
        score = Recorder()
        batcher = MicroBatcher(score, max_batch=100, max_wait=0.05, max_queue=1000, metrics=ServerMetrics())
        batcher.start()
        results = await asyncio.gather(*(batcher.submit(3, [i, 100 + i]) for i in range(10)))
        await batcher.close()
        return score, results, batcher

    score, results, batcher = run(main())
    assert len(score.calls) == 1 and len(score.calls[0][1]) == 20
    assert results == [[(3, 2 * i), (3, 200 + 2 * i)] for i in range(10)]
    assert threading.get_ident() not in score.threads and len(score.threads) == 1  # one worker thread, not the loop
    assert batcher.metrics.items._value.get() == 20


def test_batches_respect_max_batch_and_keys_and_never_split_a_request():
    async def main():
        score = Recorder()
        batcher = MicroBatcher(score, max_batch=8, max_wait=0.05, max_queue=1000)
        batcher.start()
        keys = [3] * 5 + [5] * 5
        work = [(key, [1000 * key + i] * 3) for i, key in enumerate(keys)] + [(3, [3000 + j for j in range(20)])]  # oversized
        results = await asyncio.gather(*(batcher.submit(key, items) for key, items in work))
        await batcher.close()
        return score, work, results

    score, work, results = run(main())
    for (key, items), result in zip(work, results):
        assert result == [(key, 2 * x) for x in items]
    assert all(x // 1000 == key for key, items in score.calls for x in items)  # one key per call
    sizes = sorted(len(items) for _, items in score.calls)
    assert sizes[-1] == 20 and all(size <= 8 for size in sizes[:-1])  # the oversized request alone, whole
    assert len(score.calls) < len(work)


def test_a_bad_request_fails_alone():
    async def main():
        score = Recorder()
        metrics = ServerMetrics()
        batcher = MicroBatcher(score, max_batch=100, max_wait=0.05, max_queue=1000, metrics=metrics)
        batcher.start()
        work = [[1, 2], [3, -4], [5]]
        results = await asyncio.gather(*(batcher.submit(0, items) for items in work), return_exceptions=True)
        await batcher.close()
        return results, metrics

    results, metrics = run(main())
    assert results[0] == [(0, 2), (0, 4)] and results[2] == [(0, 10)]
    assert isinstance(results[1], ValueError) and "[3, -4]" in str(results[1])
    assert metrics.fallbacks._value.get() == 1


def test_a_caller_that_went_away_is_not_scored_and_the_queue_has_a_limit():
    async def main():
        score = Recorder(delay=0.2)
        batcher = MicroBatcher(score, max_batch=1, max_wait=0.0, max_queue=3)
        batcher.start()
        first = asyncio.create_task(batcher.submit(0, [1]))  # occupies the worker for 0.2 s
        await asyncio.sleep(0.05)
        gone = asyncio.create_task(batcher.submit(0, [2]))
        waiting = asyncio.create_task(batcher.submit(0, [3, 4]))
        await asyncio.sleep(0.01)
        gone.cancel()
        with pytest.raises(QueueFull, match="max_queue=3"):
            await batcher.submit(0, [5])
        results = await asyncio.gather(first, waiting)
        await batcher.close()
        return score, results

    score, results = run(main())
    assert results == [[(0, 2)], [(0, 6), (0, 8)]]
    assert [items for _, items in score.calls] == [[1], [3, 4]]


def test_close_finishes_queued_work_without_waiting_and_then_refuses():
    async def main():
        score = Recorder()
        batcher = MicroBatcher(score, max_batch=100, max_wait=30.0, max_queue=1000)
        batcher.start()
        pending = [asyncio.create_task(batcher.submit(0, [i])) for i in range(5)]
        await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await batcher.close()
        elapsed = loop.time() - start
        with pytest.raises(BatcherClosed):
            await batcher.submit(0, [9])
        return [task.result() for task in pending], elapsed

    results, elapsed = run(main())
    assert results == [[(0, 2 * i)] for i in range(5)]
    assert elapsed < 5.0  # not the 30 s max_wait
