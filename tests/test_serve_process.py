"""`cim serve` as its own process: equal to the in-process scorer, graceful SIGTERM with requests in flight,
and faults (killed clients, client timeouts, bursts of bad requests amid good load) that do not leak."""

import asyncio
import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

from tests.serving import process_server

CAPTIONS = ["a red circle on a grey background", "a blue square", "a yellow circle", "green", "a red square on grey"]


def expected_rewards(scorer, work):
    scores = scorer.score([c for c, _ in work], [scorer.gallery.ids[row] for _, row in work])
    return [s.reward for s in scores]


def test_cli_server_equals_the_scorer_and_finishes_in_flight_work_on_sigterm(built_gallery, built_scorer):
    with process_server(built_gallery, "--max-wait-ms", "5000") as (process, url):
        ids = ["red-circle-0", "blue-square-2", "yellow-circle-1"]
        answer = httpx.post(f"{url}/v1/score", json={"items": [{"caption": c, "source_id": i} for c, i in zip(CAPTIONS, ids)]},
                            timeout=30).json()
        for result, score in zip(answer["results"], built_scorer.score(CAPTIONS[:3], ids), strict=True):
            assert result["reward"] == pytest.approx(score.reward, abs=1e-6)
            assert result["qir"] == pytest.approx(score.qir, abs=1e-6)
            assert result["grc"] == pytest.approx(score.grc, abs=1e-6)
            assert result["retrieved_ids"] == score.retrieved_ids

        work = [(CAPTIONS[i % 5], (3 * i) % 24) for i in range(16)]
        with ThreadPoolExecutor(len(work)) as pool:
            futures = [pool.submit(httpx.post, f"{url}/cim", json={"response": c, "index": r, "k": 3}, timeout=60)
                       for c, r in work]
            deadline = time.monotonic() + 20
            while httpx.get(f"{url}/healthz").json()["queue_items"] < len(work):  # all waiting in the batcher
                assert time.monotonic() < deadline
                time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            responses = [future.result() for future in futures]
        assert [r.status_code for r in responses] == [200] * len(work)
        assert [r.json() for r in responses] == pytest.approx(expected_rewards(built_scorer, work), abs=1e-6)
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has drained
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/healthz", timeout=2)


BAD = [
    (b'{"response": ', 400),
    (b'{"response": "caf\xe9", "index": 1, "k": 3}', 400),
    (b'{"response": "a", "index": 99, "k": 3}', 422),
    (b'{"response": "", "index": 1, "k": 3}', 422),
    (b'{"response": ["a"], "index": "1", "k": 3}', 422),
    (b'{"response": "a", "index": 1, "k": 3000}', 422),
    (b'{"response": "' + b"a" * 30_000 + b'", "index": 1}', 422),
]


async def killed_clients(port: int) -> None:
    """Two clients that go away: one mid-body, one right after sending a whole request."""
    body = json.dumps({"response": "a red circle", "index": 1, "k": 3}).encode()
    head = f"POST /cim HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n".encode()
    for data in (head + body[:10], head + body):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        await writer.drain()
        writer.close()


async def one_round(url: str, work, expected) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        good = [(http.post("/cim", json={"response": c, "index": r, "k": 3}), (200, reward))
                for (c, r), reward in zip(work, expected)]
        bad = [(http.post("/cim", content=body, headers={"content-type": "application/json"}), (status, None))
               for body, status in BAD]
        mixed = [good[i // 2] if i % 2 == 0 or i // 2 >= len(bad) else bad[i // 2] for i in range(2 * len(good))]
        mixed += bad[len(good):]
        timed_out = http.post("/cim", json={"response": CAPTIONS[0], "index": 2, "k": 3}, timeout=httpx.Timeout(5, read=0.001))
        answers = await asyncio.gather(*(task for task, _ in mixed), killed_clients(int(url.rsplit(":", 1)[1])), timed_out,
                                       return_exceptions=True)
    *responses, killed, timeout = answers
    assert killed is None
    assert isinstance(timeout, httpx.ReadTimeout)
    for response, (_, (status, reward)) in zip(responses, mixed, strict=True):
        assert response.status_code == status, response.text
        if reward is not None:
            assert response.json() == pytest.approx(reward, abs=1e-6)


def test_faults_do_not_reach_other_callers_and_memory_stays_flat(built_gallery, built_scorer):
    work = [(f"{CAPTIONS[i % 5]} number {i}", (5 * i) % 24) for i in range(24)]
    expected = expected_rewards(built_scorer, work)
    with process_server(built_gallery, "--max-wait-ms", "2") as (process, url):
        server = psutil.Process(process.pid)
        asyncio.run(one_round(url, work, expected))  # warm-up: lazy set-up, first allocations
        start = server.memory_info().rss
        for _ in range(5):
            asyncio.run(one_round(url, work, expected))
        growth_mb = (server.memory_info().rss - start) / 2**20
        metrics = httpx.get(f"{url}/metrics").text
        assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
    print(f"server RSS growth over 5 fault rounds: {growth_mb:.1f} MB")  # noqa: T201 - shown with -s
    assert growth_mb < 20
    assert 'status="500"' not in metrics
