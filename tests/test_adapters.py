"""verl, OpenRLHF and EasyR1 adapters: the trainers' documented signatures and call shapes, through the server
(client) and in process, equal to the scorer; empty responses; missing image ids; the remote RM shape."""

import inspect

import httpx
import pytest
import torch

from cim.errors import InputError
from cim.integrations import easyr1, openrlhf, verl
from cim.integrations.backend import backend_for
from cim.server.settings import ServeSettings
from cim.wire.payloads import response_text
from tests.serving import thread_server
from tests.test_serve import CAPTIONS

IDS = ["red-circle-0", "blue-square-2", "green-square-1", "yellow-circle-2", "red-square-1"]
PROMPT = "<|im_start|>user\nCaption this image.<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def server(built_gallery, built_scorer):
    with thread_server(ServeSettings(gallery=built_gallery, max_wait_ms=10, empty_reward=-1.0), built_scorer) as url:
        yield url


@pytest.fixture(autouse=True)
def fresh_backends(monkeypatch):
    backend_for.cache_clear()
    yield
    backend_for.cache_clear()


@pytest.fixture(scope="module")
def truth(built_scorer):
    return [s.reward for s in built_scorer.score(CAPTIONS, IDS)]


def names(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_signatures_match_the_trainers_documented_ones():
    assert names(verl.compute_score)[:4] == ["data_source", "solution_str", "ground_truth", "extra_info"]
    assert inspect.signature(verl.compute_score).parameters["extra_info"].default is None
    assert names(verl.compute_score_batch)[:4] == ["data_sources", "solution_strs", "ground_truths", "extra_infos"]
    assert names(openrlhf.reward_func)[:3] == ["queries", "prompts", "labels"]
    assert names(easyr1.compute_score)[0] == "reward_inputs"


def test_verl_through_the_server_and_in_process(server, built_gallery, built_scorer, truth):
    gallery = built_scorer.gallery
    infos = [{"image_id": IDS[0]}, {"index": gallery.row(IDS[1])}, {"image_id": IDS[2], "index": 0},
             {"image_id": gallery.row(IDS[3])}, {"split": "train", "index": gallery.row(IDS[4])}]
    solutions = [*CAPTIONS, ""]
    infos_all = [*infos, {"image_id": IDS[0]}]
    batch = dict(data_sources=["cim"] * 6, solution_strs=solutions, ground_truths=[None] * 6, extra_infos=infos_all)
    over_http = verl.compute_score_batch(**batch, url=server)  # as BatchRewardManager calls it, reward_kwargs last
    in_process = verl.compute_score_batch(**batch, gallery=str(built_gallery))
    for results in (over_http, in_process):
        assert [r["score"] for r in results[:5]] == pytest.approx(truth, abs=1e-6)
        assert results[5] == {"score": 0.0, "qir": 0.0, "grc": 0.0, "truncated": 0.0}
        assert all(set(r) == {"score", "qir", "grc", "truncated"} for r in results)  # same keys for verl's extra info
    single = verl.compute_score(data_source="cim", solution_str=CAPTIONS[0], ground_truth=None, extra_info=infos[0],
                                url=server)
    assert single["score"] == pytest.approx(truth[0], abs=1e-6)
    with pytest.raises(TypeError, match="urll"):  # a misspelt reward kwarg is an error, not ignored
        verl.compute_score_batch(**batch, urll=server)
    with pytest.raises(InputError, match=r"extra_info\['image_id'\]"):
        verl.compute_score("cim", "a red circle", None, {"split": "train"}, url=server)


def test_easyr1_batch_function(server, truth):
    inputs = [{"response": c, "response_length": len(c.split()), "ground_truth": i} for c, i in zip(CAPTIONS, IDS)]
    results = easyr1.compute_score(inputs + [{"response": " ", "response_length": 0, "ground_truth": IDS[0]}],
                                   url=server, empty_reward=-0.5)
    assert [r["overall"] for r in results[:5]] == pytest.approx(truth, abs=1e-6)
    assert results[5]["overall"] == -0.5
    with pytest.raises(InputError, match="reward_type=batch"):
        easyr1.compute_score(inputs[0], url=server)


def test_openrlhf_reward_func_and_remote_shape(server, truth, monkeypatch):
    queries = [PROMPT + c + "<|im_end|><|endoftext|><|endoftext|>" for c in CAPTIONS]
    monkeypatch.setenv("CIM_SERVER_URL", server)
    result = openrlhf.reward_func(queries, [PROMPT] * 5, IDS)
    assert isinstance(result["rewards"], torch.Tensor) and result["rewards"].shape == (5,)
    assert result["rewards"].tolist() == pytest.approx(truth, abs=1e-6)
    assert set(result["extra_logs"]) == {"cim_qir", "cim_grc", "cim_truncated"}

    body = {"query": [*queries, PROMPT + "<|im_end|>"], "prompts": [PROMPT] * 6, "labels": [*IDS, IDS[0]]}
    remote = httpx.post(f"{server}/v1/openrlhf", json=body).json()  # what --reward.remote_url <server>/v1/openrlhf gets
    assert remote["rewards"][:5] == pytest.approx(truth, abs=1e-6) and remote["rewards"][5] == -1.0
    assert remote["scores"] == remote["rewards"] and len(remote["extra_logs"]["cim_qir"]) == 6


def test_response_text_strips_the_prompt_and_end_tokens():
    assert response_text(PROMPT + " A red circle. <|im_end|><pad><pad>", PROMPT, 0) == "A red circle."
    assert response_text("  " + PROMPT + "x", PROMPT, 0) == "x"
    with pytest.raises(InputError, match="query 3 does not start with its prompt"):
        response_text("something else", PROMPT, 3)
