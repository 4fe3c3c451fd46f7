"""The reward server over real sockets: equality with the scorer and the release's formula, micro-batching,
bad input (a clear 4xx, never a 500, and the server keeps serving), image paths, the token, metrics and docs."""

import asyncio
import base64
import io
import json

import httpx
import pytest
from PIL import Image
from typer.testing import CliRunner

from cim.cli import app
from cim.reward.options import ScorerOptions
from cim.reward.scorer import CIMScorer
from cim.server.settings import ServeSettings
from tests.serving import thread_server
from tests.test_scorer import release_reward

JSON = {"content-type": "application/json"}
CAPTIONS = ["a red circle on a grey background", "a blue square", "a yellow circle", "green", "a red square on grey"]


@pytest.fixture(scope="module")
def limits(built_gallery):
    return ServeSettings(gallery=built_gallery, max_k=5, max_wait_ms=20, max_items=16, max_caption_chars=300,
                         max_image_bytes=20_000, max_image_pixels=4_000_000, max_body_bytes=200_000)


@pytest.fixture(scope="module")
def server(limits, built_scorer):
    with thread_server(limits, built_scorer) as url:
        yield url


def close(result: dict, score, tolerance: float = 1e-6) -> None:
    for name in ("reward", "qir", "grc"):
        assert result[name] == pytest.approx(getattr(score, name), abs=tolerance)
    assert result["text_sims"] == pytest.approx(score.text_sims, abs=tolerance)
    assert result["image_sims"] == pytest.approx(score.image_sims, abs=tolerance)
    assert result["retrieved_ids"] == score.retrieved_ids
    assert (result["n_tokens"], result["truncated"]) == (score.n_tokens, score.truncated)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_score_equals_the_in_process_scorer(server, built_scorer, items_file):
    gallery = built_scorer.gallery
    picture = Image.open(items_file.parent / "img" / "blue-square-1.png").convert("RGB")
    items = [
        {"caption": CAPTIONS[0], "source_id": "red-circle-0"},
        {"caption": CAPTIONS[1], "index": gallery.row("blue-square-2")},
        {"caption": CAPTIONS[2], "image_b64": base64.b64encode(png(picture)).decode()},
        {"caption": CAPTIONS[3], "source_id": "green-square-1"},
    ]
    sources = ["red-circle-0", "blue-square-2", picture, "green-square-1"]
    for k in (None, 5):
        body = {"items": items} if k is None else {"items": items, "k": k}
        response = httpx.post(f"{server}/v1/score", json=body)
        assert response.status_code == 200, response.text
        expected = (built_scorer if k is None else built_scorer.with_k(k)).score(CAPTIONS[:4], sources)
        answer = response.json()
        assert (answer["k"], answer["mode"]) == (k or 3, "clean")
        for result, score in zip(answer["results"], expected, strict=True):
            close(result, score)
            assert len(result["retrieved_ids"]) == (k or 3)


def test_cim_endpoint_equals_the_release_formula(built_gallery, built_scorer):
    official = CIMScorer(built_gallery, ScorerOptions(mode="official"), text_encoder=built_scorer.text_encoder)
    settings = ServeSettings(gallery=built_gallery, reward=ScorerOptions(mode="official"), max_k=5, empty_reward=-1.0)
    with thread_server(settings, official) as url:
        for caption, row, k in [(CAPTIONS[0], 0, 3), (CAPTIONS[1], 5, 3), (CAPTIONS[4], 23, 5)]:
            response = httpx.post(f"{url}/cim", json={"response": caption, "index": row, "k": k})
            assert response.status_code == 200
            reward, *_ = release_reward(caption, row, official.gallery, k=k)
            assert isinstance(response.json(), float)
            assert response.json() == pytest.approx(reward, abs=1e-6)
        assert httpx.post(f"{url}/cim", json={"response": "  ", "index": 1, "k": 3}).json() == -1.0
        refused = httpx.post(f"{url}/v1/score", json={"items": [{"caption": "a", "image_b64": "AAAA"}]})
        assert refused.status_code == 422 and "official mode" in refused.json()["detail"]


def test_concurrent_requests_are_batched_and_each_caller_gets_its_own_answer(server, built_scorer):
    gallery = built_scorer.gallery
    work = [(CAPTIONS[i % len(CAPTIONS)], (7 * i) % len(gallery)) for i in range(24)]
    expected = built_scorer.score([c for c, _ in work], [gallery.ids[row] for _, row in work])

    async def main():
        async with httpx.AsyncClient(base_url=server) as http:
            return await asyncio.gather(*(http.post("/cim", json={"response": c, "index": row, "k": 3}) for c, row in work))

    before = batches(server)
    responses = asyncio.run(main())
    assert [r.status_code for r in responses] == [200] * len(work)
    for response, score in zip(responses, expected):
        assert response.json() == pytest.approx(score.reward, abs=1e-6)
    assert batches(server) - before < len(work) / 2  # coalesced, not one scorer call per request


def batches(url: str) -> float:
    return metric(url, "cim_batch_size_count")


def metric(url: str, name: str, **labels: str) -> float:
    wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    return 0.0


BAD = [
    ("/cim", b'{"response": ', JSON, 400, "malformed JSON"),
    ("/cim", b'{"response": "caf\xe9", "index": 1, "k": 3}', JSON, 400, "not UTF-8"),
    ("/cim", b'{"response": "a"}', {"content-type": "text/plain"}, 415, "Content-Type: application/json"),
    ("/cim", b"[1, 2]", JSON, 422, "valid dictionary"),
    ("/cim", b'{"response": 3, "index": "x", "k": 3}', JSON, 422, "response: Input should be a valid string"),
    ("/cim", b'{"response": "a", "index": true, "k": 3}', JSON, 422, "index: Input should be a valid integer"),
    ("/cim", b'{"response": "a", "index": 24, "k": 3}', JSON, 422, "unknown index 24: the gallery has rows 0..23"),
    ("/cim", b'{"response": "a", "index": -1, "k": 3}', JSON, 422, "unknown index -1"),
    ("/cim", b'{"response": "   ", "index": 1, "k": 3}', JSON, 422, "caption is empty"),
    ("/cim", b'{"response": "a\\ud800b", "index": 1, "k": 3}', JSON, 422, "not valid Unicode"),
    ("/cim", b"[" * 100_000 + b"]" * 100_000, JSON, 400, "nested too deeply"),
    ("/cim", b'{"response": "a", "index": 1, "k": 6}', JSON, 422, "max_k=5"),
    ("/cim", b'{"response": "a", "index": 1, "k": 0}', JSON, 422, "k: Input should be greater than or equal to 1"),
    ("/cim", json.dumps({"response": "a" * 301, "index": 1}).encode(), JSON, 422, "max_caption_chars=300"),
    ("/v1/score", json.dumps({"items": [{"caption": "a", "source_id": "x"}] * 17}).encode(), JSON, 413, "max_items=16"),
    ("/v1/score", json.dumps({"items": [{"caption": "a", "source_id": "x"}]}).encode(), JSON, 422, "unknown source_id 'x'"),
    ("/v1/score", json.dumps({"items": [{"caption": "a"}]}).encode(), JSON, 422, "exactly one source field"),
    ("/v1/score", json.dumps({"items": [{"caption": "a", "index": 1, "source_id": "x"}]}).encode(), JSON, 422, "exactly one"),
    ("/v1/score", json.dumps({"items": [{"caption": "a", "index": 1, "typo": 1}]}).encode(), JSON, 422, "typo"),
    ("/v1/score", json.dumps({"items": [{"caption": "a", "image_b64": "@@@"}]}).encode(), JSON, 422, "not valid base64"),
    ("/v1/score", json.dumps({"items": [{"caption": "a", "image_b64": base64.b64encode(b"GIF89a no").decode()}]}).encode(),
     JSON, 422, "not a readable image"),
    ("/v1/score", json.dumps({"items": [{"caption": "a", "image_b64": "A" * 40_000}]}).encode(), JSON, 413,
     "max_image_bytes=20000"),
    ("/v1/score", json.dumps({"items": [{"caption": "a", "image_path": "/etc/passwd"}]}).encode(), JSON, 422,
     "image paths are disabled"),
    ("/v1/score", b'{"items": [' + b'{"caption": "a", "index": 1},' * 20_000 + b"]}", JSON, 413, "max_body_bytes=200000"),
    ("/v1/openrlhf", json.dumps({"query": ["a"], "prompts": ["b"], "labels": ["red-circle-0"]}).encode(), JSON, 422,
     "does not start with its prompt"),
    ("/v1/openrlhf", json.dumps({"query": ["a"]}).encode(), JSON, 422, "--label_key"),
]


@pytest.mark.parametrize(("path", "body", "headers", "status", "message"), BAD, ids=[m for *_, m in BAD])
def test_bad_input_gets_a_clear_4xx(server, path, body, headers, status, message):
    response = httpx.post(server + path, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]


def test_after_bad_input_the_server_still_serves_and_never_answered_500(server, built_scorer):
    bomb = Image.new("1", (3000, 3000))  # 9 M pixels in a few hundred bytes of PNG
    response = httpx.post(f"{server}/v1/score", json={"items": [{"caption": "a", "image_b64": base64.b64encode(png(bomb)).decode()}]})
    assert response.status_code == 422 and "max_image_pixels" in response.json()["detail"]
    good = httpx.post(f"{server}/cim", json={"response": CAPTIONS[0], "index": 2, "k": 3})
    assert good.json() == pytest.approx(built_scorer.score([CAPTIONS[0]], [built_scorer.gallery.ids[2]])[0].reward, abs=1e-6)
    assert httpx.get(f"{server}/healthz").json()["status"] == "ok"
    text = httpx.get(f"{server}/metrics").text
    assert 'status="500"' not in text


def test_image_paths_only_inside_the_image_root(built_gallery, built_scorer, items_file, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    inside = root / "pic.png"
    inside.write_bytes((items_file.parent / "img" / "red-circle-1.png").read_bytes())
    (root / "escape.png").symlink_to(items_file.parent / "img" / "red-circle-2.png")
    settings = ServeSettings(gallery=built_gallery, image_root=root)
    with thread_server(settings, built_scorer) as url:
        def post(path):
            return httpx.post(f"{url}/v1/score", json={"items": [{"caption": CAPTIONS[0], "image_path": path}]})

        ok = post("pic.png")
        assert ok.status_code == 200
        close(ok.json()["results"][0], built_scorer.score([CAPTIONS[0]], [inside])[0])
        for path in ("../root/../../etc/passwd", str(items_file), "escape.png"):
            refused = post(path)
            assert refused.status_code == 422 and "outside the server's image root" in refused.json()["detail"]
        assert "not a file" in post("missing.png").json()["detail"]
        assert "cannot be resolved" in post("a\x00b.png").json()["detail"]


def test_a_token_guards_every_endpoint(built_gallery, built_scorer):
    with thread_server(ServeSettings(gallery=built_gallery, token="s3cret"), built_scorer) as url:
        for path in ("/healthz", "/metrics", "/docs", "/openapi.json"):
            assert httpx.get(url + path).status_code == 401
            assert httpx.get(url + path, headers={"authorization": "Bearer wrong"}).status_code == 401
            assert httpx.get(url + path, headers={"authorization": "Bearer s3cret"}).status_code == 200
        body = {"response": "a", "index": 1, "k": 3}
        refused = httpx.post(f"{url}/cim", json=body)
        assert refused.status_code == 401 and "bearer token" in refused.json()["detail"]
        assert httpx.post(f"{url}/cim", json=body, headers={"authorization": "Bearer s3cret"}).status_code == 200


def test_metrics_and_docs(server):
    httpx.post(f"{server}/cim", json={"response": "a red circle", "index": 1, "k": 3})
    text = httpx.get(f"{server}/metrics").text
    for name in ("cim_requests_total", "cim_errors_total", "cim_request_seconds_bucket", "cim_batch_size_bucket",
                 "cim_batch_seconds_bucket", "cim_queue_items", "cim_items_scored_total"):
        assert name in text
    assert metric(server, "cim_requests_total", endpoint="/cim", status="200") >= 1
    paths = httpx.get(f"{server}/openapi.json").json()["paths"]
    assert {"/v1/score", "/cim", "/v1/openrlhf", "/healthz", "/metrics"} <= set(paths)
    assert httpx.get(f"{server}/docs").status_code == 200


def test_cli_options_reach_the_settings(built_gallery, tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr("cim.server.app.serve", started.append)
    args = ["serve", "--gallery", str(built_gallery), "--max-batch", "1", "--image-root", str(tmp_path), "--threads", "1",
            "--encode-batch", "8"]
    result = CliRunner().invoke(app, args, env={"CIM_SERVE_TOKEN": "from-env"})
    assert result.exit_code == 0, result.output
    (settings,) = started
    assert (settings.token, settings.max_batch, settings.image_root, settings.threads, settings.reward.encode_batch) == (
        "from-env", 1, tmp_path, 1, 8)
    assert (settings.host, settings.port, settings.reward.mode) == ("127.0.0.1", 3545, "clean")
    refused = CliRunner().invoke(app, ["serve", "--gallery", str(built_gallery), "--mode", "exact"])
    assert refused.exit_code == 2 and "option 'mode': Input should be 'clean' or 'official'" in refused.output
