"""cim.shapes.read_facts / read_caption on free English: phrasings, the paraphrase set, unread share."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from cim.shapes import (
    Facts,
    caption_for_level,
    scene_facts,
    scene_from_id,
    split_scenes,
    write_caption,
)
from cim.shapes.reader import Reading, read_caption, read_facts
from cim.shapes.vocab import SHAPES, canonical_relation

PARAPHRASES = Path(__file__).parent / "data" / "paraphrases.jsonl"


def F(objects=(), attributes=(), relations=()) -> Facts:
    return Facts.build(objects, attributes, relations)


def rel(*triples: str) -> set[tuple[str, str, str]]:
    """ "star right of circle" → ("circle", "left of", "star"): canonical relation facts."""
    out = set()
    for text in triples:
        for word in ("left of", "right of", "above", "below"):
            if f" {word} " in text:
                a, b = text.split(f" {word} ")
                out.add(canonical_relation(a, word, b))
    return out


def relations(text: str) -> frozenset:
    return read_facts(text).relations


def test_position_phrasings():
    cases = {
        "The circle is on the left side of the star.": rel("circle left of star"),
        "The circle is on the right-hand side of the star.": rel("circle right of star"),
        "The square is further right than the star.": rel("square right of star"),
        "The square is farther to the left than the star.": rel("square left of star"),
        "The triangle is higher than the cross.": rel("triangle above cross"),
        "The triangle is lower than the cross.": rel("triangle below cross"),
        "The triangle is higher up than the cross.": rel("triangle above cross"),
        "The star sits directly underneath the square.": rel("star below square"),
        "The star is on top of the square.": rel("star above square"),
        "The star is a little to the left of the square.": rel("star left of square"),
        "The star is placed towards the left of the square.": rel("star left of square"),
        "The star is right above the square.": rel("star above square"),  # "right" = directly
        "The star is up and left relative to the square.": rel("star above square", "star left of square"),
    }
    for text, expected in cases.items():
        assert relations(text) == expected, text


def test_sentences_that_start_with_the_relation():
    cases = {
        "Above the star is a red circle.": rel("circle above star"),
        "To the left of the square sits a small blue cross.": rel("cross left of square"),
        "Left of the square, there's a triangle.": rel("triangle left of square"),
        "Directly below the diamond, we can see a large purple square.": rel("square below diamond"),
        "Beneath the square lies a star.": rel("star below square"),
        "Further right than the circle is the star.": rel("star right of circle"),
        "To the left of the square are a circle and a star.": rel(
            "circle left of square", "star left of square"
        ),
        "Above the star and to the left of the cross is a circle.": rel(
            "circle above star", "circle left of cross"
        ),
        "A circle is at the top. Below it, a green diamond.": rel("diamond below circle"),
        "A circle is at the top. To its right is a square.": rel("square right of circle"),
        "The circle is red, and above it is a blue square.": rel("square above circle"),
        "At the bottom of the image, directly beneath the star, there is a cross.": rel("cross below star"),
    }
    for text, expected in cases.items():
        assert relations(text) == expected, text


def test_compound_directions_state_two_relations():
    cases = {
        "The circle is to the upper left of the square.": ("circle above square", "circle left of square"),
        "The circle is above and to the right of the square.": (
            "circle above square",
            "circle right of square",
        ),
        "The circle is diagonally up and left from the square.": (
            "circle above square",
            "circle left of square",
        ),
        "The circle is below-right of the square.": ("circle below square", "circle right of square"),
        "The circle is northwest of the square.": ("circle above square", "circle left of square"),
        "The circle is down and to the left of the square.": ("circle below square", "circle left of square"),
        "The circle is to the left and above the square.": ("circle left of square", "circle above square"),
        "The circle is lower and further right than the square.": (
            "circle below square",
            "circle right of square",
        ),
        "The circle is up-left of the square.": ("circle above square", "circle left of square"),
        "The star sits to its upper right. ": (),  # no antecedent: nothing
        "The square is at the top. The star is to its lower left.": (
            "star below square",
            "star left of square",
        ),
        "The circle is lower than the star and further to the right.": (
            "circle below star",
            "circle right of star",
        ),
        "Above it and to the right is a square. ": (),
    }
    for text, expected in cases.items():
        assert relations(text) == rel(*expected), text


def test_size_and_colour_wordings():
    cases = {
        "a huge circle": {("circle", "size", "large")},
        "a big circle": {("circle", "size", "large")},
        "a tiny circle": {("circle", "size", "small")},
        "a little circle": {("circle", "size", "small")},
        "a circle coloured red": {("circle", "colour", "red")},
        "a circle colored red": {("circle", "colour", "red")},
        "a circle in red": {("circle", "colour", "red")},
        "a red-coloured circle": {("circle", "colour", "red")},
        "a circle, which is red": {("circle", "colour", "red")},
        "a circle that is red and small": {("circle", "colour", "red"), ("circle", "size", "small")},
        "The circle is red in colour and small in size.": {
            ("circle", "colour", "red"),
            ("circle", "size", "small"),
        },
        "The circle's colour is red.": {("circle", "colour", "red")},
        "The colour of the circle is red.": {("circle", "colour", "red")},
        "The circle has a blue colour.": {("circle", "colour", "blue")},
        "a circle of small size": {("circle", "size", "small")},
        "a circle (red, large)": {("circle", "colour", "red"), ("circle", "size", "large")},
        "circle: red, large.": {("circle", "colour", "red"), ("circle", "size", "large")},
        "The circle, red and large, is above the star.": {
            ("circle", "colour", "red"),
            ("circle", "size", "large"),
        },
        "The cross is a large red one.": {("cross", "colour", "red"), ("cross", "size", "large")},
        "The circle is not red.": set(),
        "The circle is blue, not red.": {("circle", "colour", "blue")},
        "a violet star": {("star", "colour", "purple")},
        "The circle is larger than the square.": set(),  # a comparative states no size
    }
    for text, expected in cases.items():
        assert read_facts(text).attributes == expected, text


def test_trailing_colour_binds_to_the_noun_before_it():
    facts = read_facts("a large cross in green, a small, orange circle")
    assert facts.attributes == {
        ("cross", "size", "large"), ("cross", "colour", "green"),
        ("circle", "size", "small"), ("circle", "colour", "orange"),
    }  # fmt: skip
    facts = read_facts("A square in blue and a star coloured yellow sit in the top row.")
    assert facts.attributes == {("square", "colour", "blue"), ("star", "colour", "yellow")}


def test_collective_and_respective_attributes():
    assert read_facts("Two small shapes: a red circle and a blue star.").attributes == {
        ("circle", "colour", "red"), ("circle", "size", "small"),
        ("star", "colour", "blue"), ("star", "size", "small"),
    }  # fmt: skip
    assert read_facts("All yellow. A circle above a big star.").attributes == {
        ("circle", "colour", "yellow"), ("star", "colour", "yellow"), ("star", "size", "large"),
    }  # fmt: skip
    explicit = read_facts("There are two small shapes, and a large circle.")
    assert explicit.attributes == {("circle", "size", "large")}  # its own size wins
    assert read_facts("The circle and the star are red and blue respectively.").attributes == {
        ("circle", "colour", "red"), ("star", "colour", "blue"),
    }  # fmt: skip


@pytest.mark.parametrize(
    "word, shape",
    [("rhombus", "diamond"), ("lozenge", "diamond"), ("rotated square", "diamond"), ("plus sign", "cross"),
     ("plus", "cross"), ("x", "cross"), ("cross shape", "cross"), ("disc", "circle"), ("dot", "circle"),
     ("ring", "circle"), ("box", "square"), ("rectangle", "square"), ("star shape", "star"),
     ("star-shaped object", "star"), ("circular figure", "circle")],
)  # fmt: skip
def test_shape_synonyms(word, shape):
    assert read_facts(f"There is a red {word} to the left of the triangle.") == F(
        attributes={(shape, "colour", "red")}, relations={(shape, "left of", "triangle")}
    )


def test_words_that_look_like_shapes_but_are_not():
    assert read_facts("The shapes sit on a 3x3 grid, 3 x 3 cells.") == F()
    assert read_facts("A red circle plus a blue square.") == F(
        attributes={("circle", "colour", "red"), ("square", "colour", "blue")}
    )
    assert read_facts("There is a red shape and a blue one.") == F()


def test_negation():
    assert read_facts("The circle is not left of the star.") == F({"circle", "star"})
    assert read_facts("The circle isn't above the star.") == F({"circle", "star"})
    assert read_facts("The circle is neither above nor below the star.") == F({"circle", "star"})
    assert read_facts("There is no triangle.") == F()
    assert read_facts("There are no triangles or stars, and no square.") == F()
    assert read_facts("No shape is to the left of the circle. Nothing is above it.") == F({"circle"})
    assert read_facts("The circle is not above the star but below it.") == F(
        relations={("star", "above", "circle")}
    )
    assert read_facts("There are 5 shapes.") == F()


def test_positions_that_state_no_relation():
    for text in [
        "The circle is next to the star.",
        "The circle is near the star.",
        "The circle is beside the star.",
        "The circle is between the star and the square.",
        "The circle is in the middle, the star in the top left.",
        "The circle is on the same row as the star.",
        "The circle is at the top of the image and the star is on the left.",
        "In the top left corner is a circle; on the right, a star.",
        "The circle is left or right of the star.",
    ]:
        assert relations(text) == frozenset(), text
    assert relations("The circle is above the star and next to the square.") == rel("circle above star")


def test_pronouns_and_clauses():
    cases = {
        "A red circle is at the top left. Below it sits a blue square.": rel("square below circle"),
        "There is a square in the middle with a star above it.": rel("star above square"),
        "The star has a circle to its left.": rel("circle left of star"),
        "The cross is large, and it is lower than the star and to its left.": rel(
            "cross below star", "cross left of star"
        ),
        "A cross is in the centre. Above it is a circle, and to its left is a star.": rel(
            "circle above cross", "star left of cross"
        ),
        "A circle and a square sit on top. Below them is a star.": rel(
            "star below circle", "star below square"
        ),
        "The circle is left of the square, which is below the triangle.": rel(
            "circle left of square", "square below triangle"
        ),
        "The circle, to the left of the square, is red.": rel("circle left of square"),
        "The circle is above the square but below the star.": rel("circle above square", "circle below star"),
    }
    for text, expected in cases.items():
        assert relations(text) == expected, text


def test_ordered_lists():
    assert relations("From left to right: a circle, a square and a star.") == rel(
        "circle left of square", "square left of star", "circle left of star"
    )
    assert relations("The column holds a star and a cross, top to bottom.") == rel("star above cross")


def test_read_caption_sentences_and_unread_share():
    reading = read_caption(
        "A red circle is above a blue square. The background is plain grey. Left of it. "
        "There are five shapes."
    )
    assert isinstance(reading, Reading)
    assert [s.read for s in reading.sentences] == [True, False, False, True]
    assert reading.unread == (1, 2)
    assert reading.unread_share == 0.5
    assert reading.sentences[0].facts.relations == {("circle", "above", "square")}
    assert reading.facts == read_facts(reading.sentences[0].text)
    assert read_caption("").unread_share == 0.0
    assert read_caption("Lorem ipsum dolor sit amet.").unread_share == 1.0
    with pytest.raises(ValueError, match="needs a str"):
        read_caption(None)  # type: ignore[arg-type]


def test_our_grammar_has_no_unread_sentences():
    for seed in range(100):
        rng = random.Random(seed)
        shapes = rng.sample(SHAPES, rng.randint(0, 6))
        facts = Facts.build(
            shapes,
            {(s, "colour", rng.choice(["red", "blue"])) for s in shapes},
            {
                (a, rng.choice(["left of", "below"]), b)
                for a in shapes
                for b in shapes
                if a < b and rng.random() < 0.5
            },
        )
        assert read_caption(write_caption(facts, rng=rng)).unread_share == 0.0
    for scene in split_scenes("val", 20):
        for level in ("complete", "no-attributes", "one-object", "wrong"):
            assert read_caption(caption_for_level(scene, level)).unread_share == 0.0


def test_ellipsis_former_latter_counted_steps_and_lists():
    assert relations("The cross is to the right of the circle, and so is the star.") == rel(
        "cross right of circle", "star right of circle"
    )
    assert read_facts("The square is red, and so is the star.").attributes == {
        ("square", "colour", "red"), ("star", "colour", "red"),
    }  # fmt: skip
    assert read_facts("There is a circle and a star. The former is red, the latter is blue.").attributes == {
        ("circle", "colour", "red"), ("star", "colour", "blue"),
    }  # fmt: skip
    assert relations(
        "A diamond is on the left, and a circle lies one row down and one column to the right of it."
    ) == rel("circle below diamond", "circle right of diamond")
    assert relations("The star is two cells to the right of the circle.") == rel("star right of circle")
    assert relations("Middle row L to R: a star, a cross.") == rel("star left of cross")
    assert relations("The circle is above the star (i.e. higher than it).") == rel("circle above star")
    assert relations("a disc below it, a star in the corner.") == frozenset()  # no antecedent, no list


def test_collective_values_scope_and_negated_possessives():
    facts = read_facts(
        "The top row has three large shapes: a star and a cross. The middle row has two small shapes: a circle and a square."
    )
    assert facts.attributes == {
        ("star", "size", "large"), ("cross", "size", "large"),
        ("circle", "size", "small"), ("square", "size", "small"),
    }  # fmt: skip
    assert read_facts("Objects (all small): a red star, a blue cross.").attributes >= {
        ("star", "size", "small")
    }
    assert relations("The diamond sits below the circle and to its right, not to its left.") == rel(
        "diamond below circle", "diamond right of circle"
    )
    assert relations("The cross has a neighbour on its right: a small yellow star.") == rel(
        "star right of cross"
    )


def _paraphrases() -> list[dict]:
    return [json.loads(line) for line in PARAPHRASES.read_text().splitlines()]


def _truth(record: dict) -> Facts:
    return Facts.build(
        record["objects"], [tuple(a) for a in record["attributes"]], [tuple(r) for r in record["relations"]]
    )


def test_paraphrase_set_is_sound():
    records = _paraphrases()
    assert len(records) >= 120 and len({r["id"] for r in records}) == len(records)
    assert {r["part"] for r in records} == {"dev", "heldout"}
    heldout = [r for r in records if r["part"] == "heldout"]
    assert len(heldout) >= 40 and {r["batch"] for r in heldout} == {1, 2, 3}
    assert len({r["writer"] for r in records}) >= 4
    assert sum(r["writer"] != "tess" for r in records) >= 40  # hand-written free text
    for record in records:
        assert "-test-" not in record["scene"]  # never the held-out test split
        truth = _truth(record)
        assert truth.tagged() <= scene_facts(scene_from_id(record["scene"])).tagged(), record["id"]


def _micro_scores(records: list[dict]) -> dict[str, tuple[float, float]]:
    """(precision, recall) per fact kind, micro-averaged over the records' facts."""
    counts = {kind: [0, 0, 0] for kind in ("objects", "attributes", "relations")}  # hits, read, true
    for record in records:
        truth, read = _truth(record), read_facts(record["caption"])
        for kind, c in counts.items():
            t, r = getattr(truth, kind), getattr(read, kind)
            c[0], c[1], c[2] = c[0] + len(t & r), c[1] + len(r), c[2] + len(t)
    return {kind: (hit / n_read, hit / n_true) for kind, (hit, n_read, n_true) in counts.items()}


@pytest.mark.parametrize("part", ["dev", "heldout"])
def test_reader_on_the_paraphrase_set(part):
    scores = _micro_scores([r for r in _paraphrases() if r["part"] == part])
    for kind, (precision, recall) in scores.items():
        assert precision >= 0.98 and recall >= 0.95, (part, kind, precision, recall)


@pytest.mark.parametrize("batch", [1, 2, 3])
def test_reader_on_each_heldout_batch(batch):
    """Each batch was written before its first measurement (see docs/fact-reader.md); batch 3's
    relation recall (0.937) is below the 0.95 of the pooled held-out part, hence the lower floor."""
    scores = _micro_scores([r for r in _paraphrases() if r.get("batch") == batch])
    for kind, (precision, recall) in scores.items():
        assert precision >= 0.98 and recall >= 0.93, (batch, kind, precision, recall)


def test_unread_share_on_the_paraphrase_set():
    readings = [read_caption(r["caption"]) for r in _paraphrases()]
    unread = sum(len(r.unread) for r in readings) / sum(len(r.sentences) for r in readings)
    assert unread < 0.03
