"""Our adapters inside the real trainers (marker `trainers`; `make test-trainers` installs them; skipped without).

verl 0.9: the trainer's reward loop (its own Hydra config with the overrides of docs/serving.md, RewardLoopWorker,
the registered NaiveRewardManager, assemble_rm_scores) and the per-sample and batch managers of
verl.workers.reward_manager, on a real DataProto decoded by the bundled MiniLM's tokenizer. OpenRLHF 0.11: SingleTurnAgentExecutor's remote
reward-model request and its reward_func file against a real `cim serve`. Every reward equals CIMScorer's.
"""

from pathlib import Path

import pytest
import torch

import cim.integrations.openrlhf as openrlhf_adapter
from cim.encoders.sbert import bundled_minilm_path
from cim.integrations.backend import backend_for
from cim.server.settings import ServeSettings
from tests.serving import process_server, thread_server

pytestmark = pytest.mark.trainers

CAPTIONS = ["a red circle", "a blue square", "there is a yellow circle.", "green", "a red square next to a blue circle"]
IDS = ["red-circle-0", "blue-square-2", "yellow-circle-1", "green-square-1", "red-square-1"]
MISSING = "is not installed; `make test-trainers` installs cim[trainers] with verl and OpenRLHF"


@pytest.fixture(scope="module")
def verl_installed():
    verl = pytest.importorskip("verl", reason=f"verl {MISSING}")
    pytest.importorskip("hydra", reason=f"hydra-core {MISSING}")
    return verl


@pytest.fixture(scope="module")
def openrlhf_installed():
    return pytest.importorskip("openrlhf.utils.agent", reason=f"openrlhf {MISSING}")


@pytest.fixture(autouse=True)
def fresh_backends():
    backend_for.cache_clear()
    yield
    backend_for.cache_clear()


@pytest.fixture(scope="module")
def truth(built_scorer):
    return built_scorer.score(CAPTIONS, IDS)


@pytest.fixture(scope="module")
def server(built_gallery, built_scorer):
    with thread_server(ServeSettings(gallery=built_gallery, max_wait_ms=10), built_scorer) as url:
        yield url


# verl


@pytest.fixture(scope="module")
def minilm_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(bundled_minilm_path())


@pytest.fixture
def rollouts(verl_installed, minilm_tokenizer, built_scorer):
    """Five captions and an empty response (the end token alone), each image given one of the ways verl's
    extra_info can; the managers add their own keys to extra_info, so each test gets a fresh batch."""
    from tests.real_trainers import verl_rollouts

    row = built_scorer.gallery.row
    infos = [{"image_id": IDS[0]}, {"index": row(IDS[1])}, {"image_id": IDS[2], "split": "train"},
             {"index": row(IDS[3])}, {"image_id": IDS[4]}, {"image_id": IDS[0]}]
    prompts = ["describe the image.", "caption this picture in one sentence, please.", "what is shown?"] * 2
    return verl_rollouts(minilm_tokenizer, prompts, [*CAPTIONS, ""], infos)


def expected_rewards(truth) -> list[float]:
    return [s.reward for s in truth] + [0.0]


@pytest.mark.parametrize("backend", ["url", "gallery"])
def test_verl_reward_loop_with_the_documented_config(backend, verl_installed, rollouts, server, built_gallery, truth):
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker
    from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls
    from verl.trainer.ppo.reward import resolve_reward_manager_cls

    from tests.real_trainers import VERL_NAME, documented_overrides, last_token_rewards, verl_config

    assert documented_overrides("verl")[VERL_NAME] == "compute_score"
    kwargs = {"url": server} if backend == "url" else {"gallery": str(built_gallery)}
    config = verl_config("compute_score", bundled_minilm_path(), **kwargs)
    worker = RewardLoopWorker(config)  # as each Ray reward worker: tokenizer from the model path, our file by path
    manager = resolve_reward_manager_cls(config)
    assert manager.__name__ == "NaiveRewardManager" and type(worker.reward_manager) is manager
    outputs = worker.loop.run_until_complete(worker.compute_score_batch(rollouts))  # samples in threads, concurrently
    rm_scores = manager.assemble_rm_scores(rollouts, [output["reward_score"] for output in outputs])  # as RewardLoopManager
    torch.testing.assert_close(rm_scores, last_token_rewards(rollouts, expected_rewards(truth)), atol=1e-6, rtol=0)
    infos = [output["reward_extra_info"] for output in outputs]
    assert all(list(info) == ["score", "qir", "grc", "truncated"] for info in infos)  # stacked per key by the manager
    assert [info["qir"] for info in infos] == pytest.approx([s.qir for s in truth] + [0.0], abs=1e-6)
    with pytest.raises(ValueError, match="batch"):
        get_reward_manager_cls("batch")  # verl 0.9's reward loop has no batch manager: compute_score is the way


@pytest.mark.parametrize(("name", "function", "backend"),
                         [("naive", "compute_score", "url"), ("batch", "compute_score_batch", "gallery")])
def test_verl_reward_managers(name, function, backend, verl_installed, rollouts, minilm_tokenizer, server, built_gallery,
                              truth):
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.workers.reward_manager import get_reward_manager_cls

    from tests.real_trainers import last_token_rewards, verl_config

    kwargs = {"url": server} if backend == "url" else {"gallery": str(built_gallery)}
    compute_score = get_custom_reward_fn(verl_config(function, bundled_minilm_path(), **kwargs))
    manager = get_reward_manager_cls(name)(tokenizer=minilm_tokenizer, num_examine=0, compute_score=compute_score)
    result = manager(rollouts, return_dict=True)
    expected = last_token_rewards(rollouts, expected_rewards(truth))
    torch.testing.assert_close(result["reward_tensor"], expected, atol=1e-6, rtol=0)
    assert result["reward_extra_info"]["grc"] == pytest.approx([s.grc for s in truth] + [0.0], abs=1e-6)


# OpenRLHF


@pytest.fixture(scope="module")
def cim_serve(built_gallery):
    """`cim serve` in its own process; an empty caption gets -1 (OpenRLHF drops a rollout whose request fails)."""
    with process_server(built_gallery, "--empty-reward", "-1", "--max-wait-ms", "20") as (_, url):
        yield url


@pytest.fixture(scope="module")
def chat_tokenizer():
    from cim.train.tiny import build_tokenizer

    return build_tokenizer()  # ChatML specials, <|im_end|> ends a reply; decoding restores the text exactly


@pytest.fixture(scope="module")
def chat_prompt(chat_tokenizer):
    from cim.train.tiny import PROMPT

    return chat_tokenizer.apply_chat_template([{"role": "user", "content": PROMPT}], tokenize=False,
                                              add_generation_prompt=True)


def rewards_of(outputs, key: str = "reward") -> list[float]:
    """One float per rollout from what the executor stored (a list from HTTP, a tensor from a reward_func)."""
    values = [torch.as_tensor(output[key] if key == "reward" else output["extra_logs"][key]).flatten() for output in outputs]
    assert all(v.numel() == 1 for v in values)
    return [float(v) for v in values]


@pytest.mark.parametrize("remote", ["server", "reward_func"])
def test_openrlhf_remote_reward_model(remote, openrlhf_installed, cim_serve, chat_tokenizer, chat_prompt, built_scorer,
                                      truth, monkeypatch):
    from tests.real_trainers import openrlhf_rollouts

    if remote == "server":
        executor = openrlhf_installed.SingleTurnAgentExecutor([f"{cim_serve}/v1/openrlhf"])  # as the CLI splits it
        empty = -1.0
    else:
        monkeypatch.setenv("CIM_SERVER_URL", cim_serve)
        executor = openrlhf_installed.SingleTurnAgentExecutor([openrlhf_adapter.__file__])
        assert executor.reward_func is not None
        empty = 0.0
    labels = [IDS[0], built_scorer.gallery.row(IDS[1]), *IDS[2:], IDS[0]]  # a gallery id or a gallery row
    outputs = openrlhf_rollouts(executor, chat_tokenizer, chat_prompt, [*CAPTIONS, ""], labels)
    assert rewards_of(outputs) == pytest.approx([s.reward for s in truth] + [empty], abs=1e-6)
    assert rewards_of(outputs, "cim_qir") == pytest.approx([s.qir for s in truth] + [empty], abs=1e-6)


def test_openrlhf_cli_takes_the_documented_flags(openrlhf_installed):
    from tests.real_trainers import documented_flags, parser_flags

    script = Path(openrlhf_installed.__file__).parents[1] / "cli" / "train_ppo_ray.py"
    assert documented_flags("OpenRLHF") == {"--reward.remote_url", "--data.label_key"}
    assert documented_flags("OpenRLHF") <= parser_flags(script)
