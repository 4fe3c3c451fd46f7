"""Visual support: claims backed up by the captions of the source's image-space neighbours in the gallery."""

import pytest
import torch

from cim.integrations.trl import cim_reward_functions, cim_reward_weights
from cim.reward.options import ScorerOptions
from cim.reward.scorer import CIMScorer
from cim.reward.support import claim_credit, consensus_coverage, relation_votes
from cim.shapes import SHAPES, caption_for_level, render_scene, scene_facts, split_scenes, swap_relations

OBJECT = ("object", "circle")
OTHER = ("object", "star")


def test_claim_credit_is_the_mean_capped_share_of_neighbours_stating_each_claim():
    neighbours = [frozenset({OBJECT}), frozenset({OBJECT, OTHER}), frozenset(), frozenset()]
    assert claim_credit([], neighbours, 0.5) == 1.0  # nothing claimed, nothing unsupported
    assert claim_credit([OBJECT], neighbours, 0.5) == 1.0  # 2 of 4 state it: share 0.5 ≥ τ
    assert claim_credit([OTHER], neighbours, 0.5) == pytest.approx(0.5)  # share 0.25 / τ
    assert claim_credit([OBJECT, OTHER, ("object", "cross")], neighbours, 0.5) == pytest.approx(0.5)
    assert claim_credit([OBJECT], [], 0.5) == 0.0


def test_coverage_is_the_share_of_the_neighbours_consensus_the_caption_claims():
    left = ("relation", "circle", "left of", "star")
    neighbours = [frozenset({OBJECT, left}), frozenset({OBJECT, OTHER, left}), frozenset({OBJECT}), frozenset()]
    # Consensus at τ 0.5: the circle (3 of 4) and the relation (2 of 4); the star (1 of 4) is not.
    assert consensus_coverage([], neighbours, ("object", "relation"), 0.5) == 0.0
    assert consensus_coverage([OBJECT, OTHER], neighbours, ("object", "relation"), 0.5) == pytest.approx(0.5)
    assert consensus_coverage([OBJECT, left], neighbours, ("object", "relation"), 0.5) == 1.0
    assert consensus_coverage([OBJECT], neighbours, ("object",), 0.5) == 1.0  # relations are not asked for
    assert consensus_coverage([], [frozenset({OTHER}), frozenset()], ("object",), 0.75) == 1.0  # no consensus
    assert consensus_coverage([], [], ("object",), 0.5) == 1.0
    # τ per kind: at 0.3 for relations a relation stated by 1 of 4 neighbours is still no consensus, one by 2 is.
    taus = {"object": 0.75, "relation": 0.3}
    assert consensus_coverage([left], neighbours, ("object", "relation"), taus) == pytest.approx(0.5)  # circle 3/4 ≥ 0.75
    assert claim_credit([left, OTHER], neighbours, taus) == pytest.approx((1.0 + 0.25 / 0.75) / 2)


def test_coverage_weight_blends_claim_credit_with_coverage(shapes_gallery):
    plain = CIMScorer(shapes_gallery)
    scenes = split_scenes("val", 16)
    images = [render_scene(s, 128) for s in scenes]
    one_object = [caption_for_level(s, "one-object") for s in scenes]
    complete = [caption_for_level(s, "complete") for s in scenes]
    scored = {}
    for c in (0.0, 0.5, 1.0):
        scorer = CIMScorer(shapes_gallery, ScorerOptions(support=1.0, support_coverage=c), text_encoder=plain.text_encoder)
        scored[c] = [torch.tensor([s.support for s in scorer.score(captions, images)]) for captions in (one_object, complete)]
    for level in (0, 1):  # the blend is linear in c
        assert torch.allclose(scored[0.5][level], (scored[0.0][level] + scored[1.0][level]) / 2, atol=1e-6)
    # Claim credit barely prefers either caption; coverage asks for what the neighbours agree on: the complete one.
    assert (scored[1.0][1] - scored[1.0][0]).mean() > 0.2


def hallucinated(scene, style: int) -> str:
    """The complete caption plus one object the scene does not have, said in one of two styles."""
    absent = next(shape for shape in SHAPES if shape not in scene.shapes)
    extra = (f" There is also a small blue {absent}.", f" Off to one side I can make out a tiny blue {absent} too.")[style]
    return caption_for_level(scene, "complete") + extra


@pytest.fixture(scope="module")
def scorers(shapes_gallery):
    plain = CIMScorer(shapes_gallery)
    options = ScorerOptions(support=0.5)  # m = 10 neighbours, τ = 0.5
    return plain, CIMScorer(shapes_gallery, options, text_encoder=plain.text_encoder)


def test_a_hallucinated_object_lowers_support_in_either_wording(scorers):
    plain, supported = scorers
    scenes = [s for s in split_scenes("val", 24) if len(s.shapes) < len(SHAPES)]
    images = [render_scene(s, 128) for s in scenes]
    complete = [caption_for_level(s, "complete") for s in scenes]
    truthful = supported.score(complete, images)
    for style in (0, 1):
        made_up = supported.score([hallucinated(s, style) for s in scenes], images)
        gaps = torch.tensor([t.support - m.support for t, m in zip(truthful, made_up)])
        # A 300-scene gallery with global image features (the 20k grid2 one separates present from absent shapes
        # with AUC 0.93: experiments/cim_plus.py --part support): most gaps positive, few negative.
        assert gaps.mean() > 0.05 and (gaps > 0).float().mean() >= 0.55 and (gaps < 0).float().mean() <= 0.2, (style, gaps)
    # The support term is added to the paper's reward; retrieval itself is unchanged.
    for with_support, without in zip(truthful, plain.score(complete, images)):
        assert with_support.retrieved_ids == without.retrieved_ids and without.support is None
        assert with_support.reward == pytest.approx(without.reward + 0.5 * (with_support.support - 1), abs=1e-6)


def test_support_is_a_weighted_trl_component_and_the_sum_is_the_reward(scorers):
    _, supported = scorers
    functions = cim_reward_functions(supported)
    assert [f.__name__ for f in functions] == ["cim_grc", "cim_qir", "cim_support"]
    weights = cim_reward_weights(supported)
    assert weights == [1.0, 1.0, 0.5]
    scenes = split_scenes("train", 3)
    captions, images = [hallucinated(s, 0) for s in scenes], [render_scene(s, 128) for s in scenes]
    parts = [f(completions=captions, source_image=images) for f in functions]
    total = [sum(w * p[i] for w, p in zip(weights, parts)) for i in range(len(captions))]
    assert total == pytest.approx([s.reward for s in supported.score(captions, images)], abs=1e-6)


def test_support_needs_the_caption_texts_and_the_option_on(scorers):
    plain, supported = scorers
    from cim.errors import InputError

    with pytest.raises(InputError, match="visual support needs the captions' texts"):
        supported.score_encoded(supported.encode(["a red circle"]), [render_scene(split_scenes("val", 1)[0], 128)])
    with pytest.raises(InputError, match="needs the scorer's visual support on"):
        cim_reward_functions(plain, components=("grc", "support"))


def test_each_distinct_source_is_searched_once_and_rows_follow_their_source(scorers):
    _, supported = scorers
    support = supported.support
    images = [render_scene(s, 128) for s in split_scenes("val", 2)]
    vectors, exclude = supported._resolve_sources([images[0], images[1], images[0], images[0]])
    vectors = torch.nn.functional.normalize(vectors, dim=-1)
    searched = []
    search = support.index.search
    support.index.search = lambda q, k, ex: searched.append(len(q)) or search(q, k, ex)
    try:
        rows = support.neighbour_rows(vectors, exclude)
    finally:
        support.index.search = search
    assert searched == [2] and rows.shape == (4, 10)
    assert rows[0].tolist() == rows[2].tolist() == rows[3].tolist() != rows[1].tolist()
    assert rows[0].tolist() == search(vectors[:1], 10, exclude[:1])[1][0].tolist()


LEFT = ("relation", "circle", "left of", "star")
RIGHT = ("relation", "star", "left of", "circle")


def test_relation_votes_sum_the_neighbours_margin_for_each_direction_claimed():
    neighbours = [frozenset({LEFT}), frozenset({LEFT, OBJECT}), frozenset({LEFT}), frozenset({RIGHT}), frozenset()]
    assert relation_votes([LEFT], neighbours) == pytest.approx((3 - 1) / (3 + 1 + 1))
    assert relation_votes([RIGHT], neighbours) == pytest.approx(-(3 - 1) / (3 + 1 + 1))
    assert relation_votes([LEFT, LEFT, OBJECT, OTHER], neighbours) == relation_votes([LEFT], neighbours)  # once each; objects do not vote
    above = ("relation", "circle", "above", "star")
    assert relation_votes([above], neighbours) == 0.0  # nobody states it either way
    assert relation_votes([LEFT, above], neighbours) == relation_votes([LEFT], neighbours)
    assert relation_votes([LEFT], []) == 0.0
    # per neighbours: the net share of all five neighbours; a relation one of them states earns 1/5, not 1/2
    assert relation_votes([LEFT, above], neighbours, per="neighbours") == pytest.approx((3 - 1) / 5)
    assert relation_votes([RIGHT], neighbours, per="neighbours") == pytest.approx(-(3 - 1) / 5)
    lone = [frozenset({above})] + [frozenset()] * 4
    assert (relation_votes([above], lone), relation_votes([above], lone, per="neighbours")) == pytest.approx((1 / 2, 1 / 5))
    assert relation_votes([LEFT], [], per="neighbours") == 0.0


def relation_sentences(relations, style: int) -> str:
    """Relations in words unlike our grammar's: the converse word with the arguments the other way round."""
    words = {"left of": ("{b} is further right than the {a}", "to the right of the {a} sits the {b}"),
             "above": ("{b} is lower down than the {a}", "below the {a} sits the {b}")}  # fmt: skip
    return " ".join(words[w][style].format(a=a, b=b).capitalize() + "." for a, w, b in sorted(relations))


@pytest.mark.parametrize("per", ["mentions", "neighbours"])
def test_relation_votes_read_facts_not_wording_and_a_reversed_caption_gets_the_opposite_vote(scorers, shapes_gallery, per):
    plain, _ = scorers
    voting = CIMScorer(shapes_gallery, ScorerOptions(relation_votes=0.5, relation_votes_per=per), text_encoder=plain.text_encoder)
    scenes = [s for s in split_scenes("val", 30) if scene_facts(s).relations]
    images = [render_scene(s, 128) for s in scenes]
    ours = [caption_for_level(s, "complete") for s in scenes]
    votes = {"ours": [s.relation_votes for s in voting.score(ours, images)]}
    for style in (0, 1):
        for truth, key in ((True, "right"), (False, "reversed")):
            captions = [relation_sentences((scene_facts(s) if truth else swap_relations(scene_facts(s))).relations, style)
                        for s in scenes]  # fmt: skip
            scored = voting.score(captions, images)
            votes[f"{key} {style}"] = [s.relation_votes for s in scored]
            for with_votes, without in zip(scored, plain.score(captions, images)):  # retrieval unchanged, votes added
                assert with_votes.support is None and with_votes.retrieved_ids == without.retrieved_ids
                assert with_votes.reward == pytest.approx(without.reward + 0.5 * with_votes.relation_votes, abs=1e-6)
        assert votes[f"right {style}"] == pytest.approx(votes["ours"], abs=1e-6)  # the same relations in other words
        assert votes[f"reversed {style}"] == pytest.approx([-v for v in votes["ours"]], abs=1e-6)
    assert any(v != 0 for v in votes["ours"])


def test_relation_votes_are_a_weighted_trl_component_and_the_sum_is_the_reward(scorers, shapes_gallery):
    plain, _ = scorers
    both = CIMScorer(shapes_gallery, ScorerOptions(support=0.5, relation_votes=0.25), text_encoder=plain.text_encoder)
    functions, weights = cim_reward_functions(both), cim_reward_weights(both)
    assert [f.__name__ for f in functions] == ["cim_grc", "cim_qir", "cim_support", "cim_votes"]
    assert weights == [1.0, 1.0, 0.5, 0.25]
    scenes = split_scenes("train", 4)
    captions, images = [caption_for_level(s, "complete") for s in scenes], [render_scene(s, 128) for s in scenes]
    parts = [f(completions=captions, source_image=images) for f in functions]
    total = [sum(w * p[i] for w, p in zip(weights, parts)) for i in range(len(captions))]
    assert total == pytest.approx([s.reward for s in both.score(captions, images)], abs=1e-6)
    from cim.errors import InputError

    with pytest.raises(InputError, match="needs the scorer's relation votes on"):
        cim_reward_functions(plain, components=("grc", "votes"))
