"""A running `cim serve` in the scorer's place, for trainers whose reward must live in another process.

`ServedScorer` has what the TRL reward functions call on a `CIMScorer` (`score`, `options`), so `cim train
grpo` with a recipe's `reward_url` sends each rank's own completions to the server. The server's reward
options rule; the recipe's k is sent with each request and its mode must match the server's.
"""

from __future__ import annotations

from collections.abc import Sequence

from cim.errors import OptionError
from cim.integrations.client import ClientSource, RewardClient
from cim.reward.options import ScorerOptions
from cim.wire import CaptionScore


class ServedScorer:
    """Scores through a `cim serve` at `url` with the recipe's k; checks the server's mode first."""

    def __init__(self, url: str, options: ScorerOptions, client: RewardClient | None = None) -> None:
        self.client = client or RewardClient(url)
        self.options = options
        health = self.client.health()
        if health["mode"] != options.mode:
            raise OptionError(f"reward.mode is {options.mode!r} but the server at {self.client.url} scores in mode {health['mode']!r}")
        if options.k > health["max_k"]:
            raise OptionError(f"reward.k={options.k} is above the server's max_k={health['max_k']} ({self.client.url})")

    def score(self, captions: Sequence[str], sources: Sequence[ClientSource]) -> list[CaptionScore]:
        return self.client.score(captions, sources, k=self.options.k)
