"""CIM reward functions for TRL's GRPOTrainer, served by one shared CIMScorer.

    scorer = CIMScorer(gallery)
    reward_funcs = cim_reward_functions(scorer)            # [cim_grc, cim_qir] (+ cim_support, cim_votes, cim_redundancy when on)
    GRPOConfig(..., reward_weights=cim_reward_weights(scorer))  # [1, beta] (+ λ, ρ, −p)

TRL calls each reward function with `prompts`, `completions`, `completion_ids` and every dataset column
as a keyword (one value per completion). The first function called on a batch scores it once (one
encoder pass, one search); the other reads the same scores from a small cache keyed by the batch.
Sources come from the dataset columns, first present wins per row: `source_id` (a gallery id),
`source_image` (a PIL image or path, e.g. the scene rendered at the gallery's resolution), `image`
(the image the policy sees), `images` (a one-image list). Completions are strings or chat messages.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from cim.errors import InputError
from cim.eval.text_stats import repetition_rate
from cim.reward.empty import score_nonempty
from cim.reward.scorer import CIMScorer
from cim.reward.sources import Source, source_key
from cim.threads import torch_threads
from cim.wire import CaptionScore

COMPONENTS: tuple[str, ...] = ("grc", "qir", "support", "votes", "redundancy")
DEFAULT_COMPONENTS: tuple[str, ...] = ("grc", "qir")
"""The paper's reward; `default_components` adds "support" (as support − 1, weighted λ), "votes" (relation
votes, weighted ρ) and "redundancy" (the share of redundant sentences, weighted −p) when the scorer has them on."""
OPTIONAL_COMPONENTS: dict[str, tuple[str, str]] = {
    "support": ("support", "visual support"), "votes": ("relation_votes", "relation votes"), "redundancy": ("redundancy", "redundancy"),
}
"""Component → (the reward option that weights it and turns it on, what it is)."""


def default_components(scorer: CIMScorer) -> tuple[str, ...]:
    """The components whose weighted sum is the scorer's reward: GRC, QIR and, when on, visual support, relation
    votes and redundancy."""
    return (*DEFAULT_COMPONENTS, *(c for c, (option, _) in OPTIONAL_COMPONENTS.items() if getattr(scorer.options, option) > 0))
SOURCE_COLUMNS: tuple[str, ...] = ("source_id", "source_image", "image", "images")


def completion_text(completion: Any) -> str:
    """The caption in a completion: a string, or the text of the assistant messages of a conversation."""
    if isinstance(completion, str):
        return completion.strip()
    if isinstance(completion, dict):
        completion = [completion]
    if not isinstance(completion, list):
        raise InputError(
            f"a completion must be a string or a list of messages, got {type(completion).__name__}"
        )
    texts: list[str] = []
    for message in completion:
        if not isinstance(message, dict) or "content" not in message:
            raise InputError(f"a chat message must be a dict with 'role' and 'content', got {message!r}")
        if message.get("role", "assistant") != "assistant":
            continue
        content = message["content"]
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [
                part["text"] for part in content if isinstance(part, dict) and part.get("type") == "text"
            ]
        elif content is not None:
            raise InputError(
                f"message content must be a string or a list of parts, got {type(content).__name__}"
            )
    return " ".join(t.strip() for t in texts if t.strip())


def _as_source(value: Any, column: str, row: int) -> Source:
    if column == "source_id":
        if not isinstance(value, str):
            raise InputError(
                f"row {row}: column 'source_id' must hold gallery ids (str), got {type(value).__name__}"
            )
        return value
    if isinstance(value, list):  # an `images` column: one image per row
        if len(value) != 1:
            raise InputError(
                f"row {row}: column {column!r} holds {len(value)} images; the reward needs exactly one"
            )
        value = value[0]
    if isinstance(value, Image.Image | Path):
        return value
    if isinstance(value, str):
        return Path(value)
    raise InputError(
        f"row {row}: column {column!r} must hold a PIL image or an image path, got {type(value).__name__}"
    )


def batch_sources(n: int, columns: dict[str, Any]) -> list[Source]:
    """Per row, the source from the first of SOURCE_COLUMNS that is present and not None."""
    available = [c for c in SOURCE_COLUMNS if columns.get(c) is not None]
    if not available:
        raise InputError(
            "the reward needs each row's source image: add a dataset column "
            f"{' or '.join(repr(c) for c in SOURCE_COLUMNS)}; got columns {sorted(columns)}"
        )
    sources: list[Source] = []
    for row in range(n):
        for column in available:
            values = columns[column]
            if len(values) != n:
                raise InputError(f"column {column!r} has {len(values)} values for {n} completions")
            if values[row] is not None:
                sources.append(_as_source(values[row], column, row))
                break
        else:
            raise InputError(f"row {row} has no source: {', '.join(available)} are all empty")
    return sources


def _key(captions: Sequence[str], sources: Sequence[Source]) -> tuple:
    parts = tuple(s if isinstance(s, str) else source_key(s) for s in sources)
    return (tuple(captions), parts)


class SharedCIMScores:
    """Scores each batch once with the scorer; remembers the last `capacity` batches."""

    def __init__(self, scorer: CIMScorer, empty_reward: float = 0.0, capacity: int = 4, threads: int | None = None) -> None:
        self.scorer = scorer
        self.threads = threads  # torch threads while scoring (None: the trainer's)
        self.empty_reward = float(empty_reward)
        self.capacity = capacity
        self.calls = 0  # batches actually scored (cache misses)
        self._cache: OrderedDict[tuple, list[CaptionScore | None]] = OrderedDict()

    def scores(self, completions: Sequence[Any], columns: dict[str, Any]) -> list[CaptionScore | None]:
        """Scores of a batch (None for empty captions), computed once per distinct batch."""
        captions = [completion_text(c) for c in completions]
        sources = batch_sources(len(captions), columns)
        key = _key(captions, sources)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        with torch_threads(self.threads):
            result = score_nonempty(captions, lambda rows: self.scorer.score([captions[i] for i in rows], [sources[i] for i in rows]))
        scored = [score for score in result if score is not None]
        self.calls += 1
        self._cache[key] = result
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        log_metric = columns.get("log_metric")
        if callable(log_metric) and scored:
            log_metric("cim/reward", sum(s.reward for s in scored) / len(scored))
            log_metric("cim/truncated_frac", sum(s.truncated for s in scored) / len(scored))
            log_metric("cim/empty_frac", 1.0 - len(scored) / len(captions))
            log_metric("cim/repetition", sum(repetition_rate(c) for c in captions) / len(captions))
        return result


class CIMRewardFunction:
    """One component of the CIM reward as a TRL reward function (`__name__` is "cim_<component>")."""

    def __init__(self, shared: SharedCIMScores, component: str) -> None:
        if component not in COMPONENTS:
            raise InputError(f"unknown CIM reward component {component!r}; valid: {', '.join(COMPONENTS)}")
        self.shared = shared
        self.component = component
        self.__name__ = f"cim_{component}"

    def __call__(
        self, prompts: Sequence[Any] | None = None, completions: Sequence[Any] = (), **kwargs: Any
    ) -> list[float]:
        scores = self.shared.scores(completions, kwargs)
        empty = self.shared.empty_reward
        return [empty if s is None else self._value(s) for s in scores]

    def _value(self, score: CaptionScore) -> float:
        """The component of one score; support counts as support − 1 (0 when every claim is backed up)."""
        if self.component in OPTIONAL_COMPONENTS:
            option, what = OPTIONAL_COMPONENTS[self.component]
            value = getattr(score, option)
            if value is None:
                raise InputError(f"the scorer returned no {what}: start it (or `cim serve`) with reward option {option} > 0")
            return value - 1.0 if self.component == "support" else value
        return float(getattr(score, self.component))

    def __repr__(self) -> str:
        return f"CIMRewardFunction({self.__name__})"


def cim_reward_functions(
    scorer: CIMScorer, components: Sequence[str] | None = None, empty_reward: float = 0.0, threads: int | None = None
) -> list[Callable[..., list[float]]]:
    """TRL reward functions, one per component (default `default_components`: [cim_grc, cim_qir], and
    cim_support / cim_votes / cim_redundancy when the scorer has them on), sharing one scoring per batch.

    An empty caption gets `empty_reward` for every component instead of being scored; `threads` torch threads
    score each batch (None: the trainer's).
    """
    components = default_components(scorer) if components is None else tuple(components)
    if not components:
        raise InputError(f"give at least one reward component; valid: {', '.join(COMPONENTS)}")
    if len(set(components)) != len(components):
        raise InputError(f"reward components repeat: {list(components)}")
    for component in set(components) & set(OPTIONAL_COMPONENTS):
        option, what = OPTIONAL_COMPONENTS[component]
        if not getattr(scorer.options, option) > 0:
            raise InputError(f"reward component {component!r} needs the scorer's {what} on (reward option {option} > 0)")
    shared = SharedCIMScores(scorer, empty_reward, threads=threads)
    return [CIMRewardFunction(shared, component) for component in components]


def cim_reward_weights(scorer: CIMScorer, components: Sequence[str] | None = None) -> list[float]:
    """TRL `reward_weights` matching `cim_reward_functions`: 1 for GRC, β for QIR, λ for support, ρ for relation
    votes, −p for redundancy (Υ = GRC + β·QIR + λ·(support − 1) + ρ·votes − p·redundancy)."""
    components = default_components(scorer) if components is None else components
    options = scorer.options
    weights = {"grc": 1.0, "qir": float(options.beta), "support": float(options.support), "votes": float(options.relation_votes),
               "redundancy": -float(options.redundancy)}  # fmt: skip
    return [weights[c] for c in components]
