"""Helpers of tests/test_real_trainers.py: the trainer commands of docs/serving.md, verl rollout batches and
configs, a scripted stand-in for OpenRLHF's vLLM engine (verl and hydra are imported where they are needed)."""

from __future__ import annotations

import ast
import asyncio
import re
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

import cim.integrations.verl as verl_adapter

DOCS = Path(__file__).resolve().parents[1] / "docs" / "serving.md"
VERL_PATH, VERL_NAME = "reward.custom_reward_function.path", "reward.custom_reward_function.name"
VERL_KWARG = "+reward.custom_reward_function.reward_kwargs."


def documented_commands(trainer: str) -> str:
    """The bash blocks of docs/serving.md's `### <trainer>` section, joined."""
    section = DOCS.read_text().split(f"\n### {trainer}\n", 1)[1].split("\n### ", 1)[0]
    return "\n".join(re.findall(r"```bash\n(.*?)```", section, flags=re.S))


def documented_overrides(trainer: str) -> dict[str, str]:
    """The `dotted.key=value` arguments of a trainer's documented command (values up to the first space)."""
    return dict(re.findall(r"(?<!\S)(\+?[a-z_]+(?:\.[a-z_]+)+)=(\S+)", documented_commands(trainer)))


def documented_flags(trainer: str) -> set[str]:
    """The `--flag` arguments of a trainer's documented commands."""
    return set(re.findall(r"(?<!\S)--[a-z_]+(?:\.[a-z_]+)*", documented_commands(trainer)))


def verl_config(name: str, model_path: str, **reward_kwargs: Any):
    """verl 0.9's own PPO config (Hydra, from the installed package) with the keys docs/serving.md gives, set to
    our file, reward function `name` and `reward_kwargs`."""
    import verl
    from hydra import compose, initialize_config_dir

    documented = documented_overrides("verl")
    assert set(documented) == {VERL_PATH, VERL_NAME, VERL_KWARG + "url"}, documented
    overrides = [f"{VERL_PATH}={verl_adapter.__file__}", f"{VERL_NAME}={name}",
                 *(f"{VERL_KWARG}{key}={value}" for key, value in reward_kwargs.items()),
                 f"actor_rollout_ref.model.path={model_path}"]
    with initialize_config_dir(config_dir=str(Path(verl.__file__).parent / "trainer" / "config"), version_base=None):
        return compose("ppo_trainer", overrides=overrides)


def parser_flags(script: Path) -> set[str]:
    """The option strings a script passes to `add_argument`, read from its source (OpenRLHF builds its parser
    under `if __name__ == "__main__"`, so it cannot be imported)."""
    calls = [node for node in ast.walk(ast.parse(script.read_text())) if isinstance(node, ast.Call)]
    return {arg.value for call in calls if isinstance(call.func, ast.Attribute) and call.func.attr == "add_argument"
            for arg in call.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)}


def _pad(rows: Sequence[list[int]], width: int, pad_id: int, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask) of shape (len(rows), width), padded on the left or the right."""
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        span = slice(width - len(row), width) if left else slice(0, len(row))
        ids[i, span] = torch.tensor(row, dtype=torch.long)
        mask[i, span] = 1
    return ids, mask


def verl_rollouts(tokenizer, prompts: Sequence[str], responses: Sequence[str], extra_infos: Sequence[dict]):
    """A DataProto as verl's rollout hands it to the reward: left-padded prompts, right-padded responses that end
    with the end token, the attention mask over both, and the dataset's data_source / reward_model / extra_info."""
    from verl import DataProto

    end, pad = tokenizer.sep_token_id, tokenizer.pad_token_id
    prompt_rows = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    response_rows = [tokenizer(r, add_special_tokens=False)["input_ids"] + [end] for r in responses]
    prompt_ids, prompt_mask = _pad(prompt_rows, max(map(len, prompt_rows)), pad, left=True)
    response_ids, response_mask = _pad(response_rows, max(map(len, response_rows)) + 2, pad, left=False)
    n = len(prompts)
    return DataProto.from_dict(
        tensors={
            "prompts": prompt_ids,
            "responses": response_ids,
            "input_ids": torch.cat([prompt_ids, response_ids], dim=1),
            "attention_mask": torch.cat([prompt_mask, response_mask], dim=1),
        },
        non_tensors={
            "data_source": np.array(["cim"] * n, dtype=object),
            "reward_model": np.array([{"ground_truth": None, "style": "rule"} for _ in range(n)], dtype=object),
            "extra_info": np.array([dict(info) for info in extra_infos], dtype=object),
        },
    )


def last_token_rewards(data, rewards: Sequence[float]) -> torch.Tensor:
    """The reward tensor verl should build: each reward at its response's last valid token, zeros elsewhere."""
    lengths = data.batch["attention_mask"][:, data.batch["prompts"].shape[1] :].sum(dim=1)
    expected = torch.zeros(data.batch["responses"].shape, dtype=torch.float32)
    for i, (length, reward) in enumerate(zip(lengths.tolist(), rewards, strict=True)):
        expected[i, length - 1] = reward
    return expected


class ScriptedEngine:
    """Stands in for OpenRLHF's vLLM engine in `SingleTurnAgentExecutor.execute`: 'generates' fixed token ids."""

    def __init__(self, token_ids: list[int]) -> None:
        self.token_ids = token_ids

    async def generate(self, prompt_token_ids: list[int], sampling_params: Any, multi_modal_data: Any = None) -> Any:
        output = SimpleNamespace(token_ids=list(self.token_ids), finish_reason="stop", logprobs=None)
        return SimpleNamespace(outputs=[output])


def openrlhf_sampling_params(max_tokens: int = 32) -> SimpleNamespace:
    """The two fields of vLLM's SamplingParams that the executor reads."""
    return SimpleNamespace(max_tokens=max_tokens, logprobs=None)


async def _openrlhf_rollouts(executor: Any, tokenizer: Any, prompt: str, replies: Sequence[str], labels: Sequence[Any]):
    end = tokenizer.convert_tokens_to_ids(tokenizer.eos_token)
    calls = [
        executor.execute(prompt, label, openrlhf_sampling_params(), 256, tokenizer,
                         ScriptedEngine(tokenizer(reply, add_special_tokens=False)["input_ids"] + [end]))
        for reply, label in zip(replies, labels, strict=True)
    ]
    return await asyncio.gather(*calls)  # concurrent, as the engine actor runs its rollouts


def openrlhf_rollouts(executor: Any, tokenizer: Any, prompt: str, replies: Sequence[str], labels: Sequence[Any]) -> list[dict]:
    """`executor.execute` once per reply (each ending with the tokenizer's end token), all concurrently."""
    return asyncio.run(_openrlhf_rollouts(executor, tokenizer, prompt, replies, labels))
