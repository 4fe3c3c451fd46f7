"""What the trainer adapters score with: the reward server (RewardClient) or a CIMScorer in this process."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cim.errors import InputError
from cim.integrations.client import RewardClient
from cim.server.schemas import ScoreResult

if TYPE_CHECKING:
    from cim.reward.scorer import CIMScorer


@lru_cache(maxsize=8)
def backend_for(
    url: str | None = None, token: str | None = None, gallery: str | None = None, mode: str = "clean", timeout: float = 60.0
) -> RewardClient | CIMScorer:
    """One backend per process and configuration: a CIMScorer over `gallery` when given, else a client of `url`
    (default $CIM_SERVER_URL, else http://127.0.0.1:3545; token default $CIM_SERVE_TOKEN)."""
    if gallery is not None:
        from cim.reward.scorer import CIMScorer

        return CIMScorer(gallery, mode=mode)
    return RewardClient(url, token, timeout=timeout)


def _gallery_id(scorer: CIMScorer, source: str | int, i: int) -> str:
    if isinstance(source, str):
        return source
    if not 0 <= source < len(scorer.gallery):
        raise InputError(f"sample {i}: gallery row {source} is outside 0..{len(scorer.gallery) - 1}")
    return scorer.gallery.ids[source]


def score_texts(
    backend: RewardClient | CIMScorer, captions: Sequence[str], sources: Sequence[str | int], k: int | None = None
) -> list[ScoreResult | None]:
    """Scores of the non-empty captions in one batch; None for empty ones (the adapters give them a fixed reward)."""
    keep = [i for i, caption in enumerate(captions) if caption.strip()]
    texts = [captions[i].strip() for i in keep]
    if isinstance(backend, RewardClient):
        scored = backend.score(texts, [sources[i] for i in keep], k) if keep else []
    else:
        scorer = backend if k is None else backend.with_k(k)
        ids = [_gallery_id(scorer, sources[i], i) for i in keep]
        scored = [ScoreResult.of(score) for score in scorer.score(texts, ids)] if keep else []
    results: list[ScoreResult | None] = [None] * len(captions)
    for i, result in zip(keep, scored):
        results[i] = result
    return results


def components(result: ScoreResult | None, empty_reward: float, reward_key: str) -> dict[str, float]:
    """A flat dict of floats: the reward under `reward_key`, then QIR, GRC and the truncation flag."""
    if result is None:
        return {reward_key: empty_reward, "qir": empty_reward, "grc": empty_reward, "truncated": 0.0}
    return {reward_key: result.reward, "qir": result.qir, "grc": result.grc, "truncated": float(result.truncated)}


def source_of(value: Any, where: str, field: str) -> str | int:
    """A gallery id (str) or gallery row (int) given by a trainer's sample."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)  # numpy integers too
    raise InputError(f"{where}: {field} must be a gallery id (str) or a gallery row (int), got {value!r}")


def rollout_rewards(
    responses: Sequence[str],
    sources: Sequence[str | int],
    reward_key: str,
    url: str | None = None,
    token: str | None = None,
    gallery: str | None = None,
    k: int | None = None,
    empty_reward: float = 0.0,
) -> list[dict[str, float]]:
    """The adapters' common path: one batch through the server at `url` (or in process over `gallery`), one flat
    dict of floats per rollout with the reward under `reward_key`; empty responses get `empty_reward`, unscored."""
    results = score_texts(backend_for(url, token, gallery), list(responses), sources, k)
    return [components(result, empty_reward, reward_key) for result in results]
