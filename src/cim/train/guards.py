"""Anti-gaming guards for GRPO, each an opt-in recipe key, all general (no knowledge of the shapes world).

- An n-gram repetition penalty as its own TRL reward component: p·(1 − distinct n-grams / n-grams) of the
  completion's tokens, subtracted (TRL's `get_repetition_penalty_reward`; open-r1's form), or of its lower-case
  words (`cim.eval.text_stats.repetition_rate`, the rep-n the evaluation reports). Token n-grams depend on the
  tokenizer: a wordier writer's complete captions repeat more token 4-grams than ours and pay more; word 4-grams
  repeat about equally in both writers' complete captions (experiments/cim_plus.py, part "word-repeats").
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

from cim.eval.text_stats import repetition_rate
from cim.integrations.trl import completion_text
from cim.reward.query import repeated_share


class SentenceRepeatPenalty:
    """TRL reward function −p·(share of repeated sentences) of each completion (a string or chat messages)."""

    __name__ = "sentence_repeat_penalty"

    def __init__(self, penalty: float) -> None:
        self.penalty = penalty

    def __call__(self, completions: Sequence[Any] = (), **_: Any) -> list[float]:
        return [-self.penalty * repeated_share(completion_text(c)) for c in completions]


class WordRepetitionPenalty:
    """TRL reward function −p·(share of word n-grams repeating an earlier one) of each completion."""

    __name__ = "word_repetition_penalty"

    def __init__(self, penalty: float, n: int) -> None:
        self.penalty, self.n = penalty, n

    def __call__(self, completions: Sequence[Any] = (), **_: Any) -> list[float]:
        return [-self.penalty * repetition_rate(completion_text(c), self.n) for c in completions]


def guard_rewards(
    repetition_penalty: float = 0.0, repetition_ngram: int = 3, overlong_buffer: int = 0, max_completion_length: int = 64,
    sentence_repeat_penalty: float = 0.0, repetition_unit: str = "token",
) -> tuple[list[Callable[..., list[float]]], list[float]]:
    """The guard reward functions these settings switch on (see GRPOOptions), with their TRL weights (1 each)."""
    from trl.rewards import get_repetition_penalty_reward, get_soft_overlong_punishment

    functions: list[Callable[..., list[float]]] = []
    if repetition_penalty > 0 and repetition_unit == "word":
        functions.append(WordRepetitionPenalty(repetition_penalty, repetition_ngram))
    elif repetition_penalty > 0:
        functions.append(get_repetition_penalty_reward(repetition_ngram, -repetition_penalty))
    if sentence_repeat_penalty > 0:
        functions.append(SentenceRepeatPenalty(sentence_repeat_penalty))
    if overlong_buffer > 0:
        functions.append(get_soft_overlong_punishment(max_completion_length, overlong_buffer))
    return functions, [1.0] * len(functions)
