"""verl reward functions over the CIM reward server (or a CIMScorer in process).

verl hands a reward function text only; the image comes from each sample's `extra_info`: "image_id" (a
gallery id, or a gallery row as int) or else "index" (the gallery row, as in the release's data files).
verl 0.9's trainer scores in its reward loop, whose NaiveRewardManager calls `compute_score` once per sample,
many at a time (the server micro-batches them). Point it at this file (see docs/serving.md):

    reward.custom_reward_function.path=$(python -c 'import cim.integrations.verl as m; print(m.__file__)')
    reward.custom_reward_function.name=compute_score
    +reward.custom_reward_function.reward_kwargs.url=http://127.0.0.1:3545

`compute_score_batch` is the form of the BatchRewardManager that verl still ships in `verl.workers.reward_manager`
(its 0.8 and 0.9 trainers no longer build that one). Each returns {"score": Υ, "qir", "grc", "truncated"}; an
empty response gets `empty_reward` without being scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cim.errors import InputError
from cim.integrations.backend import rollout_rewards
from cim.wire.payloads import source_of

ID_KEYS = ("image_id", "index")


def image_source(extra_info: Any, i: int) -> str | int:
    """The gallery id or row of sample i, from its extra_info."""
    if isinstance(extra_info, dict):
        for key in ID_KEYS:
            if extra_info.get(key) is not None:
                return source_of(extra_info[key], f"sample {i}", f"extra_info[{key!r}]")
    raise InputError(
        f"sample {i}: the CIM reward needs the image's gallery id in extra_info['image_id'] "
        f"(or its gallery row in extra_info['index']); got extra_info={extra_info!r}"
    )


def compute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Any],
    **options: Any,
) -> list[dict[str, float]]:
    """verl's batch form (BatchRewardManager): one request (or one scorer call) for the whole batch.

    `options` (verl's reward_kwargs): url, token, gallery (score in process), k, empty_reward (default 0).
    """
    sources = [image_source(info, i) for i, info in enumerate(extra_infos)]
    return rollout_rewards(solution_strs, sources, "score", **options)


def compute_score(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
    **reward_kwargs: Any,
) -> dict[str, float]:
    """verl's per-sample form; concurrent calls are coalesced by the server's micro-batching."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], **reward_kwargs)[0]
