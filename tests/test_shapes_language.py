"""cim.shapes: caption grammar, fact reader, perturbations and metrics."""

from __future__ import annotations

import random

import pytest

from cim.shapes import (
    COLOURS,
    LEVELS,
    RELATIONS,
    SHAPES,
    SIZES,
    Facts,
    RelationQuestion,
    answer_question,
    caption_for_level,
    caption_scores,
    corrupt_facts,
    fact_scores,
    level_facts,
    read_facts,
    relation_qa,
    relation_qa_accuracy,
    relation_qa_paper,
    relation_questions,
    scene_facts,
    split_scenes,
    subsample_facts,
    swap_attributes,
    swap_relations,
    write_caption,
)


def random_facts(rng: random.Random, closed: bool = True) -> Facts:
    """Any fact set over the vocabulary: several values per attribute, contradictory relations."""
    shapes = rng.sample(SHAPES, rng.randint(0, len(SHAPES)))
    pool = SHAPES if not closed else shapes
    attributes = set()
    for shape in pool:
        for kind, values in (("colour", list(COLOURS)), ("size", list(SIZES))):
            if rng.random() < 0.8:
                attributes |= {(shape, kind, v) for v in rng.sample(values, rng.choice([1, 1, 1, 2]))}
    relations = set()
    if len(pool) >= 2:
        for _ in range(rng.randint(0, 8)):
            a, b = rng.sample(pool, 2)
            relations.add((a, rng.choice(RELATIONS), b))
    return Facts(frozenset(shapes), frozenset(attributes), frozenset(relations))


def test_canonical_caption_example():
    facts = Facts(
        {"circle", "square", "triangle"},
        {("circle", "size", "large"), ("circle", "colour", "red"), ("square", "size", "small"),
         ("square", "colour", "blue"), ("triangle", "colour", "green")},
        {("circle", "left of", "square"), ("square", "above", "triangle"), ("square", "right of", "triangle")},
    )  # fmt: skip
    caption = write_caption(facts, order=("circle", "square", "triangle"))
    assert caption == (
        "There are 3 shapes: a large red circle, a small blue square and a green triangle. "
        "The circle is left of the square. The square is above and right of the triangle."
    )
    assert read_facts(caption) == facts
    assert write_caption(Facts({"star"}, {("star", "colour", "orange")})) == "There is an orange star."
    assert write_caption(Facts()) == "There are no shapes."
    assert read_facts("There are no shapes.") == Facts()


def test_round_trip_over_many_random_facts():
    for seed in range(600):
        rng = random.Random(seed)
        facts = random_facts(rng)
        assert read_facts(write_caption(facts)) == facts, (seed, write_caption(facts))
        shuffled = write_caption(facts, rng=random.Random(seed))
        assert read_facts(shuffled) == facts, (seed, shuffled)
        order = rng.sample(SHAPES, 6)
        assert read_facts(write_caption(facts, order=order)) == facts


def test_unclosed_facts_read_back_closed():
    for seed in range(300):
        facts = random_facts(random.Random(seed), closed=False)
        caption = write_caption(facts, rng=random.Random(seed))
        assert read_facts(caption) == facts.closed(), (seed, caption)
    facts = Facts({"circle"}, set(), {("star", "above", "cross")})
    assert write_caption(facts) == "There is a circle. The star is above the cross."
    assert read_facts(write_caption(facts)) == Facts({"circle", "star", "cross"}, set(), facts.relations)


def F(objects=(), attributes=(), relations=()) -> Facts:
    return Facts.build(objects, attributes, relations)


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "there are THREE shapes:: a Red  circle,, a large blue SQUARE and a green triangle!!! "
            "the circle is to the left of the square; The triangle is on top of the circle.",
            F(
                attributes={
                    ("circle", "colour", "red"),
                    ("square", "size", "large"),
                    ("square", "colour", "blue"),
                    ("triangle", "colour", "green"),
                },
                relations={("circle", "left of", "square"), ("triangle", "above", "circle")},
            ),
        ),
        (
            "The star is next to the cross. the star is beneath the cross",
            F(relations={("cross", "above", "star")}),
        ),
        ("Red circles. red circles. RED CIRCLES\n\nred circles", F(attributes={("circle", "colour", "red")})),
        ("The diamond is not left of the star. There is no square.", F({"diamond", "star"})),
        (
            "a small circle in the top left and a big cross in the bottom right",
            F(attributes={("circle", "size", "small"), ("cross", "size", "large")}),
        ),
        (
            "The circle and the square are above the star and left of the cross.",
            F(
                relations={
                    ("circle", "above", "star"),
                    ("square", "above", "star"),
                    ("circle", "left of", "cross"),
                    ("square", "left of", "cross"),
                }
            ),
        ),
        (
            "The circle is left of the square, which is below the triangle.",
            F(relations={("circle", "left of", "square"), ("triangle", "above", "square")}),
        ),
        (
            "The cross is red and large.\nThe square is on the right of the cross",
            F(
                attributes={("cross", "colour", "red"), ("cross", "size", "large")},
                relations={("cross", "left of", "square")},
            ),
        ),
        (
            "The circle is above and to the left of the square and the star is under the diamond",
            F(
                relations={
                    ("circle", "above", "square"),
                    ("circle", "left of", "square"),
                    ("diamond", "above", "star"),
                }
            ),
        ),
        ("the circle is left or right of the square", F({"circle", "square"})),
        (
            "The circle circle circle is is left of of the the square square.",
            F(relations={("circle", "left of", "square")}),
        ),
        ("The circle is to the left of it. Left of the square.", F({"circle", "square"})),
        (
            "BLUE large Star!!! ...star?? orange",
            F(attributes={("star", "colour", "blue"), ("star", "size", "large")}),
        ),
        ("An image with 5 shapes and some text.", F()),
    ],
)
def test_reader_on_messy_text(text, expected):
    assert read_facts(text) == expected


def test_levels():
    for scene in split_scenes("val", 40):
        truth = scene_facts(scene)
        captions = {level: caption_for_level(scene, level) for level in LEVELS}
        assert caption_for_level(scene, "wrong") == captions["wrong"]  # deterministic per scene
        read = {level: read_facts(c) for level, c in captions.items()}
        assert read["complete"] == truth
        assert read["no-attributes"] == Facts(truth.objects, frozenset(), truth.relations)
        assert read["one-object"].count("objects") == 1 and not read["one-object"].relations
        assert read["one-object"].count("attributes") == 2
        assert fact_scores(read["one-object"], truth)["all_precision"] == 1.0
        wrong, _ = level_facts(scene, "wrong")
        assert wrong.counts() == truth.counts()  # same structure as complete
        assert fact_scores(read["wrong"], truth)["all_precision"] < 0.5
        assert fact_scores(read["wrong"], truth)["relation_precision"] == 0.0
        assert fact_scores(read["wrong"], truth)["attribute_recall"] <= 0.5  # every colour is wrong
    with pytest.raises(ValueError, match="valid: complete, no-attributes"):
        caption_for_level(scene, "partial")


def test_fact_scores_by_hand():
    truth = Facts({"circle", "square"}, {("circle", "colour", "red"), ("square", "size", "small")},
                  {("circle", "left of", "square")})  # fmt: skip
    predicted = Facts({"circle", "star"}, {("circle", "colour", "red"), ("circle", "size", "large")})
    s = fact_scores(predicted, truth)
    assert (s["object_precision"], s["object_recall"], s["object_f1"]) == (0.5, 0.5, 0.5)
    assert (s["attribute_precision"], s["attribute_recall"]) == (0.5, 0.5)
    assert (s["relation_precision"], s["relation_recall"], s["relation_f1"]) == (1.0, 0.0, 0.0)
    assert (s["all_precision"], s["all_recall"]) == (0.5, 0.4)
    assert s["all_f1"] == pytest.approx(2 * 0.5 * 0.4 / 0.9)
    assert fact_scores(Facts(), Facts())["all_f1"] == 1.0
    assert fact_scores(truth, truth)["all_f1"] == 1.0


def test_relation_questions_are_deterministic_and_correct():
    for scene in split_scenes("test", 40):
        questions = relation_questions(scene)
        assert questions == relation_questions(scene) and len(questions) == 5
        assert sum(q.answer == "yes" for q in questions) in (2, 3)
        truth = scene_facts(scene)
        for q in questions:
            assert q.text == f"Is the {q.a} {q.relation} the {q.b}?"
            assert answer_question(q, truth) == q.answer
        complete = read_facts(caption_for_level(scene, "complete"))
        assert relation_qa(scene, complete) == {"accuracy": 1.0, "unknown_fraction": 0.0}
        one = read_facts(caption_for_level(scene, "one-object"))
        assert relation_qa(scene, one) == {"accuracy": 0.5, "unknown_fraction": 1.0}
        assert relation_qa(scene, swap_relations(complete)) == {"accuracy": 0.0, "unknown_fraction": 0.0}
        wrong = relation_qa(scene, read_facts(caption_for_level(scene, "wrong")))
        # Renamed shapes leave questions unknown (0.5 each); every answered question is answered wrongly.
        assert wrong["accuracy"] == pytest.approx(0.5 * wrong["unknown_fraction"])


def test_paper_style_relation_qa_mostly_asks_true_relations_and_scores_unknown_zero():
    scenes = split_scenes("val", 200)
    questions = [q for scene in scenes for q in relation_questions(scene, yes_share=0.97)]
    assert 0.94 < sum(q.answer == "yes" for q in questions) / len(questions) < 0.99
    assert [relation_questions(scene) for scene in scenes[:20]] == [relation_questions(scene) for scene in scenes[:20]]
    for scene in scenes[:40]:
        complete = read_facts(caption_for_level(scene, "complete"))
        assert relation_qa_paper(scene, complete) == {"accuracy": 1.0, "unknown_fraction": 0.0}
        silent = read_facts(caption_for_level(scene, "one-object"))
        assert relation_qa_paper(scene, silent) == {"accuracy": 0.0, "unknown_fraction": 1.0}  # balanced: 0.5
    swapped = [relation_qa_paper(scene, swap_relations(scene_facts(scene)))["accuracy"] for scene in scenes]
    assert max(swapped) == 0.0  # every relation stated the wrong way round answers its question wrongly
    everything = caption_scores(caption_for_level(scenes[0], "complete"), scenes[0])
    assert everything["relation_qa"] == everything["relation_qa_paper"] == 1.0 and everything["unread_share"] == 0.0


def test_answer_question_transitivity_and_accuracy():
    facts = Facts(relations={("circle", "left of", "square"), ("square", "left of", "star")})
    assert answer_question(RelationQuestion("circle", "left of", "star", "yes"), facts) == "yes"
    assert answer_question(RelationQuestion("star", "right of", "circle", "yes"), facts) == "yes"
    assert answer_question(RelationQuestion("star", "left of", "circle", "no"), facts) == "no"
    assert answer_question(RelationQuestion("circle", "above", "star", "no"), facts) == "unknown"
    contradictory = Facts(relations={("circle", "left of", "star"), ("star", "left of", "circle")})
    assert answer_question(RelationQuestion("circle", "left of", "star", "yes"), contradictory) == "unknown"
    qs = [RelationQuestion("circle", "left of", "star", a) for a in ("yes", "no", "yes", "no")]
    assert relation_qa_accuracy(["yes", "yes", "unknown", "no"], qs) == {
        "accuracy": 0.625,
        "unknown_fraction": 0.25,
    }
    with pytest.raises(ValueError, match="as many answers"):
        relation_qa_accuracy(["yes"], qs)


def test_subsample_facts():
    truth = scene_facts(split_scenes("val", 1, start=7)[0])
    n = truth.count()
    for k in range(n + 1):
        sub = subsample_facts(truth, rng=random.Random(k), k=k)
        assert sub.count() == k
        assert sub.is_closed()
        assert sub.tagged() <= truth.tagged()
    assert subsample_facts(truth, 0.5, random.Random(0)).count() == round(0.5 * n)
    assert subsample_facts(truth, 1.0) == truth
    with pytest.raises(ValueError, match="exactly one"):
        subsample_facts(truth)
    with pytest.raises(ValueError, match="k must be"):
        subsample_facts(truth, k=n + 1)


def test_corrupt_swap_facts():
    for scene in split_scenes("val", 20):
        truth = scene_facts(scene)
        n = truth.count()
        for errors in (0, 1, 3, n // 2):
            corrupted = corrupt_facts(truth, scene, errors, random.Random(errors))
            assert corrupted.count() == n
            assert fact_scores(corrupted, truth)["all_precision"] == pytest.approx((n - errors) / n)
        swapped = swap_attributes(truth, random.Random(0))
        colours = {a[0]: a[2] for a in truth.attributes if a[1] == "colour"}
        changed = {a[0] for a in swapped.attributes if a[1] == "colour" and colours[a[0]] != a[2]}
        assert len(changed) in (0, 2)
        assert swapped.count() == n and swapped.relations == truth.relations
        assert len(changed) == 2 or len(set(colours.values())) == 1
    assert swap_relations(Facts(relations={("circle", "above", "star")})).relations == {
        ("star", "above", "circle")
    }
