"""CIM reward functions for TRL: one scoring per batch, per-component outputs, sources from columns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from cim.errors import InputError
from cim.integrations.trl import (
    batch_sources,
    cim_reward_functions,
    cim_reward_weights,
    completion_text,
)
from cim.reward.scorer import CaptionScore


@dataclass
class _Options:
    beta: float = 0.5
    support: float = 0.0
    relation_votes: float = 0.0
    redundancy: float = 0.0


class CountingScorer:
    """Stands in for CIMScorer: reward parts derived from the caption length; counts calls."""

    def __init__(self) -> None:
        self.options = _Options()
        self.calls: list[tuple[list[str], list]] = []

    def score(self, captions, sources):
        self.calls.append((list(captions), list(sources)))
        return [
            CaptionScore(reward=0.0, qir=len(c) / 100, grc=len(c) / 1000, retrieved_ids=[], text_sims=[], image_sims=[],
                         n_tokens=len(c.split()), truncated=False)
            for c in captions
        ]  # fmt: skip


def test_completion_text_accepts_strings_and_messages():
    assert completion_text("  a red circle ") == "a red circle"
    assert completion_text([{"role": "assistant", "content": "a red circle"}]) == "a red circle"
    parts = [{"type": "text", "text": "a red"}, {"type": "image"}, {"type": "text", "text": "circle"}]
    assert completion_text([{"role": "assistant", "content": parts}]) == "a red circle"
    assert (
        completion_text([{"role": "user", "content": "ignored"}, {"role": "assistant", "content": "kept"}])
        == "kept"
    )
    with pytest.raises(InputError, match="string or a list of messages"):
        completion_text(42)


def test_components_score_each_batch_once_and_follow_weights():
    scorer = CountingScorer()
    grc_fn, qir_fn = cim_reward_functions(scorer)
    assert (grc_fn.__name__, qir_fn.__name__) == ("cim_grc", "cim_qir")
    assert cim_reward_weights(scorer) == [1.0, 0.5]
    completions = [[{"role": "assistant", "content": "a red circle"}], "a blue square and more"]
    kwargs = {"source_id": ["g-1", "g-2"], "trainer_state": None, "log_metric": lambda name, value: None}
    grc = grc_fn(prompts=["p", "p"], completions=completions, completion_ids=[[1], [2]], **kwargs)
    qir = qir_fn(prompts=["p", "p"], completions=completions, completion_ids=[[1], [2]], **kwargs)
    assert len(scorer.calls) == 1
    assert grc == pytest.approx([12 / 1000, 22 / 1000])
    assert qir == pytest.approx([12 / 100, 22 / 100])
    qir_fn(prompts=["p"], completions=["other"], source_id=["g-1"])
    assert len(scorer.calls) == 2


def test_empty_captions_get_the_empty_reward_without_scoring():
    scorer = CountingScorer()
    grc_fn, qir_fn = cim_reward_functions(scorer, empty_reward=-1.0)
    out = qir_fn(completions=["", "a star"], source_id=["a", "b"])
    assert out == pytest.approx([-1.0, 0.06])
    assert scorer.calls == [(["a star"], ["b"])]


def test_source_columns_priority_and_errors(tmp_path):
    image = Image.new("RGB", (8, 8))
    sources = batch_sources(
        3, {"source_id": ["g-0", None, None], "source_image": [None, image, None], "image": [image] * 3}
    )
    assert sources == ["g-0", image, image]
    assert batch_sources(1, {"image": [str(tmp_path / "x.png")]}) == [Path(tmp_path / "x.png")]
    assert batch_sources(1, {"images": [[image]]}) == [image]
    with pytest.raises(InputError, match="holds 2 images"):
        batch_sources(1, {"images": [[image, image]]})
    with pytest.raises(InputError, match="'source_id' or 'source_image' or 'image' or 'images'"):
        batch_sources(1, {"scene_id": ["x"]})
    with pytest.raises(InputError, match="row 0"):
        batch_sources(1, {"source_id": [3]})
    with pytest.raises(InputError, match="unknown CIM reward component 'reward'"):
        cim_reward_functions(CountingScorer(), components=("reward",))


def test_real_scorer_components_match_direct_scores(shapes_gallery):
    from cim.reward.scorer import CIMScorer
    from cim.shapes import caption_for_level, render_scene, split_scenes

    scorer = CIMScorer(shapes_gallery)
    scenes = split_scenes("train", 2)
    captions = [caption_for_level(s, "complete") for s in scenes]
    images = [render_scene(s, 128) for s in scenes]
    grc_fn, qir_fn = cim_reward_functions(scorer)
    completions = [[{"role": "assistant", "content": c}] for c in captions]
    got_grc = grc_fn(
        completions=completions, source_image=images, image=[render_scene(s, 84) for s in scenes]
    )
    got_qir = qir_fn(
        completions=completions, source_image=images, image=[render_scene(s, 84) for s in scenes]
    )
    direct = scorer.score(captions, images)
    assert got_grc == pytest.approx([d.grc for d in direct])
    assert got_qir == pytest.approx([d.qir for d in direct])
    assert grc_fn.shared.calls == 1
