"""Redundancy: the share of sentences that state no new fact, read from facts (any wording), and its reward term."""

import pytest

from cim.errors import InputError
from cim.eval.evaluate import shapes_metrics
from cim.integrations.trl import cim_reward_functions, cim_reward_weights
from cim.reward.caption_rows import CaptionRow
from cim.reward.extractors import load_extractor
from cim.reward.options import ScorerOptions
from cim.reward.redundancy import redundant_shares
from cim.reward.scorer import CIMScorer
from cim.shapes import caption_for_level, render_scene, split_scenes

OURS = "There are 2 shapes: a red circle and a blue square. The circle is left of the square."


@pytest.fixture(scope="module")
def extractor():
    return load_extractor("shapes")


def test_a_sentence_counts_when_it_states_no_fact_the_earlier_ones_had_not(extractor):
    shares = redundant_shares(extractor, [
        OURS,
        OURS + " The circle is left of the square.",  # an exact repeat
        OURS + " The square is above the circle.",  # a new relation, though most of its words repeat
        OURS + " The circle is left of and left of and left of.",  # stutter
        OURS + " The square.",  # a fragment naming a stated shape
        OURS + " The square is left of the square.",  # reflexive: reads as no relation
        "Here is a picture. " + OURS,  # an introduction states nothing
        "",
    ])  # fmt: skip
    assert shares == pytest.approx([0.0, 1 / 3, 0.0, 1 / 3, 1 / 3, 1 / 3, 1 / 3, 0.0])


def test_another_writers_rewording_is_redundant_and_pronouns_resolve_across_sentences(extractor):
    shares = redundant_shares(extractor, [
        OURS + " To the right of the circle sits the blue box.",  # the same relation, other words and a synonym
        OURS + " Off to the left of the square, the disc is red.",
        "There is a red disc. It is left of a blue box.",  # "it" refers to the disc: a new relation
        "A blue box and a red disc; the disc sits on the box's left. It is red.",  # the colour was already stated
        "A blue box and a red disc. The box is larger than the disc.",  # size comparatives state nothing here
    ])  # fmt: skip
    assert shares == pytest.approx([1 / 3, 1 / 3, 0.0, 1 / 3, 1 / 2])


def test_complete_captions_state_something_new_in_every_sentence_and_a_second_wording_is_all_redundant(extractor):
    scenes = split_scenes("val", 20)
    complete = [caption_for_level(s, "complete") for s in scenes]
    assert redundant_shares(extractor, complete) == [0.0] * len(scenes)
    twice = redundant_shares(extractor, [f"{c} {c}" for c in complete])
    assert twice == pytest.approx([0.5] * len(scenes))
    # `cim eval` reports the same share for each caption of a shapes split (`redundant_share`).
    rows = [CaptionRow(i, s.id, c, s.id, s.id) for i, (s, c) in enumerate(zip(scenes[:2], [complete[0], f"{complete[1]} {complete[1]}"]))]
    assert shapes_metrics(rows)["redundant_share"] == pytest.approx([0.0, 0.5])


def test_the_penalty_is_a_weighted_trl_component_subtracted_from_the_reward(shapes_gallery):
    plain = CIMScorer(shapes_gallery)
    penalised = CIMScorer(shapes_gallery, ScorerOptions(redundancy=0.5), text_encoder=plain.text_encoder)
    scenes = split_scenes("val", 6)
    images = [render_scene(s, 128) for s in scenes]
    captions = [caption_for_level(s, "complete") for s in scenes]
    captions = [c + " " + c.split(". ")[-1] if i % 2 else c for i, c in enumerate(captions)]  # odd ones repeat a sentence
    scored, unpenalised = penalised.score(captions, images), plain.score(captions, images)
    for i, (with_penalty, without) in enumerate(zip(scored, unpenalised)):
        assert without.redundancy is None and (with_penalty.redundancy > 0) == bool(i % 2)
        assert with_penalty.retrieved_ids == without.retrieved_ids
        assert with_penalty.reward == pytest.approx(without.reward - 0.5 * with_penalty.redundancy, abs=1e-6)
    functions, weights = cim_reward_functions(penalised), cim_reward_weights(penalised)
    assert [f.__name__ for f in functions] == ["cim_grc", "cim_qir", "cim_redundancy"] and weights == [1.0, 1.0, -0.5]
    parts = [f(completions=captions, source_image=images) for f in functions]
    total = [sum(w * p[i] for w, p in zip(weights, parts)) for i in range(len(captions))]
    assert total == pytest.approx([s.reward for s in scored], abs=1e-6)
    with pytest.raises(InputError, match="the redundancy penalty needs the captions' texts"):
        penalised.score_encoded(penalised.encode(captions[:1]), images[:1])
    with pytest.raises(InputError, match="needs the scorer's redundancy on"):
        cim_reward_functions(plain, components=("grc", "redundancy"))


def test_a_negative_weight_is_refused_naming_the_option():
    with pytest.raises(ValueError, match="redundancy"):
        ScorerOptions(redundancy=-1.0)
