"""RewardClient against a real server: sync and async results equal the scorer, batching into requests,
no retry on a refusal, retries with backoff on transport errors and timeouts, recovery when a server appears."""

import asyncio
import threading
import time

import pytest
from PIL import Image

from cim.errors import InputError
from cim.integrations.client import RewardClient, RewardServerError
from cim.server.settings import ServeSettings
from tests.serving import free_port, thread_server
from tests.test_serve import CAPTIONS, metric

SOURCES = ["red-circle-0", 5, "green-square-1", 23, "yellow-circle-2"]


@pytest.fixture(scope="module")
def server(built_gallery, built_scorer):
    with thread_server(ServeSettings(gallery=built_gallery, max_wait_ms=10), built_scorer) as url:
        yield url


def expected(scorer, sources=SOURCES, captions=CAPTIONS):
    ids = [s if isinstance(s, str) else scorer.gallery.ids[s] for s in sources]
    return scorer.score(captions, ids)


def test_sync_and_async_equal_the_scorer_and_batch_into_requests(server, built_scorer):
    truth = expected(built_scorer)
    with RewardClient(server, batch_size=2) as client:
        before = metric(server, "cim_requests_total", endpoint="/v1/score", status="200")
        results = client.score(CAPTIONS, SOURCES)
        assert metric(server, "cim_requests_total", endpoint="/v1/score", status="200") - before == 3  # 2 + 2 + 1
        assert client.cim(CAPTIONS[0], 5, k=3) == pytest.approx(expected(built_scorer, [5], CAPTIONS[:1])[0].reward, abs=1e-6)
        assert client.health()["gallery_rows"] == 24

    async def main():
        async with RewardClient(server, batch_size=2) as client:
            return await client.ascore(CAPTIONS, SOURCES), await client.acim(CAPTIONS[1], 0)

    async_results, reward = asyncio.run(main())
    for got in (results, async_results):
        assert [r.reward for r in got] == pytest.approx([s.reward for s in truth], abs=1e-6)
        assert [r.retrieved_ids for r in got] == [s.retrieved_ids for s in truth]
    assert reward == pytest.approx(expected(built_scorer, [0], CAPTIONS[1:2])[0].reward, abs=1e-6)


def test_images_go_inline(server, built_scorer, items_file):
    path = items_file.parent / "img" / "blue-square-1.png"
    picture = Image.open(path).convert("RGB")
    with RewardClient(server) as client:
        by_bytes, by_image = client.score([CAPTIONS[1]] * 2, [path.read_bytes(), picture])
    truth = built_scorer.score([CAPTIONS[1]], [picture])[0]
    assert by_bytes.reward == pytest.approx(truth.reward, abs=1e-6) and by_image.reward == pytest.approx(truth.reward, abs=1e-6)
    with pytest.raises(InputError, match="gallery id"):
        RewardClient(server).score(["a"], [1.5])


def test_a_refusal_is_raised_at_once_with_the_servers_message(server):
    before = metric(server, "cim_requests_total", endpoint="/v1/score", status="422")
    with RewardClient(server, retries=3, backoff=1.0) as client:
        start = time.monotonic()
        with pytest.raises(RewardServerError, match="unknown source_id 'nope'") as caught:
            client.score(["a red circle"], ["nope"])
    assert caught.value.status == 422 and time.monotonic() - start < 1.0
    assert metric(server, "cim_requests_total", endpoint="/v1/score", status="422") - before == 1  # not retried


def test_unreachable_server_is_retried_with_backoff_then_raises():
    client = RewardClient(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0.2)
    start = time.monotonic()
    with pytest.raises(RewardServerError, match="ConnectError.*after 2 retries"):
        client.cim("a", 1)
    assert 0.6 <= time.monotonic() - start < 3.0  # pauses of 0.2 and 0.4 s (+ up to 25 % jitter)


def test_a_timeout_is_retried_then_raised(built_gallery, built_scorer):
    with thread_server(ServeSettings(gallery=built_gallery, max_wait_ms=1500), built_scorer) as url:  # batches wait 1.5 s
        client = RewardClient(url, timeout=0.3, retries=1, backoff=0.1)
        start = time.monotonic()
        with pytest.raises(RewardServerError, match="ReadTimeout"):
            client.cim("a red circle", 1)
        assert time.monotonic() - start < 2.0


def test_a_client_rides_out_a_server_that_starts_late(built_gallery, built_scorer):
    port = free_port()
    results = []

    def call():
        results.append(RewardClient(f"http://127.0.0.1:{port}", retries=6, backoff=0.25).cim(CAPTIONS[0], 3))

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.5)
    with thread_server(ServeSettings(gallery=built_gallery), built_scorer, port=port):
        caller.join(timeout=30)
    assert results == [pytest.approx(expected(built_scorer, [3], CAPTIONS[:1])[0].reward, abs=1e-6)]
