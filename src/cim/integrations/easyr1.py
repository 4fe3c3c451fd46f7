"""EasyR1 batch reward function over the CIM reward server (or a CIMScorer in process).

EasyR1 passes a list of {"response", "response_length", "ground_truth"} dicts; the dataset's answer column
(its `ground_truth`) holds the image's gallery id (or gallery row). Configure (see docs/serving.md):

    worker.reward.reward_type=batch
    worker.reward.reward_function=$(python -c 'import cim.integrations.easyr1 as m; print(m.__file__)'):compute_score
    worker.reward.reward_function_kwargs='{"url": "http://127.0.0.1:3545"}'

Each result is {"overall": Υ, "qir", "grc", "truncated"}; an empty response gets `empty_reward`, unscored.
"""

from __future__ import annotations

from typing import Any

from cim.errors import InputError
from cim.integrations.backend import rollout_rewards
from cim.wire.payloads import source_of


def compute_score(reward_inputs: list[dict[str, Any]], **options: Any) -> list[dict[str, float]]:
    """Scores of a batch of rollouts, one request (or one scorer call) for all.

    `options` (EasyR1's reward_function_kwargs): url, token, gallery (score in process), k, empty_reward (default 0).
    """
    if not isinstance(reward_inputs, list):
        raise InputError("the CIM reward is a batch reward function: set worker.reward.reward_type=batch")
    responses, sources = [], []
    for i, reward_input in enumerate(reward_inputs):
        if "response" not in reward_input or "ground_truth" not in reward_input:
            raise InputError(f"reward input {i} needs 'response' and 'ground_truth' (the gallery id); got {sorted(reward_input)}")
        responses.append(reward_input["response"])
        sources.append(source_of(reward_input["ground_truth"], f"reward input {i}", "ground_truth"))
    return rollout_rewards(responses, sources, "overall", **options)
