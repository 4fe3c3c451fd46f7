"""Anti-gaming guards for GRPO, each an opt-in recipe key, all general (no knowledge of the shapes world).

- An n-gram repetition penalty as its own TRL reward component: p·(1 − distinct n-grams / n-grams) of the
  completion's tokens, subtracted (TRL's `get_repetition_penalty_reward`; open-r1's form).
- A sentence-repeat penalty as its own TRL reward component: −p·(share of the caption's sentences that repeat
  an earlier one after normalising case, punctuation and spacing; `cim.reward.query.repeated_share`). Distinct
  sentences that share phrases cost nothing, unlike an n-gram penalty on templated text.
- DAPO's soft over-length penalty (TRL's `get_soft_overlong_punishment`): 0 up to max_completion_length −
  buffer tokens, then falling linearly to −1 at the limit.
Masking truncated completions, the KL coefficient and per-component normalisation are plain GRPOConfig
settings (see GRPOOptions). The query-side guard, dropping repeated sentences, is a reward option
(`ScorerOptions.dedupe_sentences`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cim.integrations.trl import completion_text
from cim.reward.query import repeated_share


class SentenceRepeatPenalty:
    """TRL reward function −p·(share of repeated sentences) of each completion (a string or chat messages)."""

    __name__ = "sentence_repeat_penalty"

    def __init__(self, penalty: float) -> None:
        self.penalty = penalty

    def __call__(self, completions: Sequence[Any] = (), **_: Any) -> list[float]:
        return [-self.penalty * repeated_share(completion_text(c)) for c in completions]


def guard_rewards(
    repetition_penalty: float = 0.0, repetition_ngram: int = 3, overlong_buffer: int = 0, max_completion_length: int = 64,
    sentence_repeat_penalty: float = 0.0,
) -> tuple[list[Callable[..., list[float]]], list[float]]:
    """The guard reward functions these settings switch on (see GRPOOptions), with their TRL weights (1 each)."""
    from trl.rewards import get_repetition_penalty_reward, get_soft_overlong_punishment

    functions: list[Callable[..., list[float]]] = []
    if repetition_penalty > 0:
        functions.append(get_repetition_penalty_reward(repetition_ngram, -repetition_penalty))
    if sentence_repeat_penalty > 0:
        functions.append(SentenceRepeatPenalty(sentence_repeat_penalty))
    if overlong_buffer > 0:
        functions.append(get_soft_overlong_punishment(max_completion_length, overlong_buffer))
    return functions, [1.0] * len(functions)
