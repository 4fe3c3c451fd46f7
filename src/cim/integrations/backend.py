"""What the trainer adapters score with: the reward server (RewardClient) or a CIMScorer in this process."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from cim.errors import InputError
from cim.integrations.client import RewardClient
from cim.reward.empty import score_nonempty
from cim.wire import CaptionScore
from cim.wire.payloads import components

if TYPE_CHECKING:
    from cim.reward.scorer import CIMScorer


@lru_cache(maxsize=8)
def backend_for(
    url: str | None = None, token: str | None = None, gallery: str | None = None, mode: str = "clean", timeout: float = 60.0
) -> RewardClient | CIMScorer:
    """One backend per process and configuration: a CIMScorer over `gallery` when given, else a client of `url`
    (default $CIM_SERVER_URL, else http://127.0.0.1:3545; token default $CIM_SERVE_TOKEN)."""
    if gallery is not None:
        from cim.reward.options import ScorerOptions
        from cim.reward.scorer import CIMScorer

        return CIMScorer(gallery, ScorerOptions(mode=mode))
    return RewardClient(url, token, timeout=timeout)


def _gallery_id(scorer: CIMScorer, source: str | int, i: int) -> str:
    if isinstance(source, str):
        return source
    if not 0 <= source < len(scorer.gallery):
        raise InputError(f"sample {i}: gallery row {source} is outside 0..{len(scorer.gallery) - 1}")
    return scorer.gallery.ids[source]


def score_texts(
    backend: RewardClient | CIMScorer, captions: Sequence[str], sources: Sequence[str | int], k: int | None = None
) -> list[CaptionScore | None]:
    """Scores of the non-empty captions in one batch; None for empty ones (the adapters give them a fixed reward)."""
    texts = [caption.strip() for caption in captions]
    if isinstance(backend, RewardClient):
        return score_nonempty(texts, lambda rows: backend.score([texts[i] for i in rows], [sources[i] for i in rows], k))
    scorer = backend if k is None else backend.with_k(k)
    return score_nonempty(
        texts, lambda rows: scorer.score([texts[i] for i in rows], [_gallery_id(scorer, sources[i], i) for i in rows])
    )


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
