"""Writes the templated part of paraphrases.jsonl (writer "tess", dev part) from VAL scenes 40..87.

The templates are deliberately unlike `cim.shapes.grammar`: other words for shapes, sizes and
relations, attributes after the noun, relation-first sentences, compound directions, and distractor
sentences that state no fact ("next to", "near", "not above", "there is no ..."). The ground truth
of each caption is built alongside it. Run from the repository root to regenerate those lines:

    PYTHONPATH=src python tests/data/make_template_paraphrases.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from cim.shapes import SHAPES, canonical_relation, split_scenes

PATH = Path(__file__).with_name("paraphrases.jsonl")
WRITER = "tess"
SCENES = range(40, 88)

NOUNS = {
    "circle": ["circle", "circle", "disc"],
    "square": ["square", "square", "box"],
    "triangle": ["triangle"],
    "diamond": ["diamond", "rhombus", "lozenge"],
    "star": ["star", "star shape"],
    "cross": ["cross", "plus sign", "cross shape"],
}
SIZE_WORDS = {"large": ["large", "big", "huge"], "small": ["small", "tiny", "little"]}
SINGLE = {
    "left of": ["to the left of", "left of", "on the left side of", "further left than"],
    "right of": ["to the right of", "right of", "on the right side of", "farther to the right than"],
    "above": ["above", "higher than", "over", "higher up than"],
    "below": ["below", "beneath", "under", "lower than", "underneath"],
}
COMPOUND = {
    ("above", "left of"): ["to the upper left of", "above and to the left of", "diagonally up and left from"],
    ("above", "right of"): ["to the upper right of", "above and to the right of", "up and to the right of"],
    ("below", "left of"): [
        "to the lower left of",
        "below and to the left of",
        "diagonally down and left from",
    ],
    ("below", "right of"): ["to the lower right of", "below and to the right of", "down and to the right of"],
}
OPPOSITE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


def noun_phrase(rng: random.Random, obj, noun: str) -> str:
    """An indefinite noun phrase stating the object's size and colour in one of several forms."""
    size, colour = rng.choice(SIZE_WORDS[obj.size]), obj.colour
    forms = [
        f"a {size} {colour} {noun}",
        f"a {size} {noun} in {colour}",
        f"a {size} {noun} coloured {colour}",
        f"a {size} {colour}-coloured {noun}",
        f"a {size} {noun} which is {colour}",
        f"a {noun} that is {size} and {colour}",
        f"a {size}, {colour} {noun}",
    ]
    return rng.choice(forms)


def directions(a, b) -> list[str]:
    """The relation words that hold for object a relative to object b (vertical first)."""
    words = []
    if a.row != b.row:
        words.append("above" if a.row < b.row else "below")
    if a.col != b.col:
        words.append("left of" if a.col < b.col else "right of")
    return words


def relation_sentence(rng: random.Random, a, b, name: dict[str, str]) -> tuple[str, list[tuple]]:
    """One sentence relating a to b (all or one of the axes that hold) and the relations it states."""
    words = directions(a, b)
    if len(words) == 2 and rng.random() < 0.6:
        phrase = rng.choice(COMPOUND[tuple(words)])
    else:
        words = [rng.choice(words)]
        phrase = rng.choice(SINGLE[words[0]])
    stated = [canonical_relation(a.shape, w, b.shape) for w in words]
    subject, obj = name[a.shape], name[b.shape]
    if rng.random() < 0.4:
        verb = rng.choice(["is", "sits", "lies", "we find", "there is"])
        head = phrase[0].upper() + phrase[1:]
        return f"{head} the {obj} {verb} the {subject}.", stated
    verb = rng.choice(["is", "is", "sits", "is located", "appears"])
    return f"The {subject} {verb} {phrase} the {obj}.", stated


def distractor(rng: random.Random, scene, name: dict[str, str]) -> str:
    """A sentence that states no fact of the canonical kinds."""
    absent = [s for s in SHAPES if s not in scene.shapes]
    a, b = rng.sample(scene.objects, 2)
    options = [
        f"The {name[a.shape]} is next to the {name[b.shape]}.",
        f"The {name[a.shape]} is near the {name[b.shape]}.",
        f"The {name[a.shape]} is not {rng.choice(SINGLE[OPPOSITE[rng.choice(directions(a, b))]])} "
        f"the {name[b.shape]}.",
    ]
    if absent:
        options.append(f"There is no {rng.choice(absent)} in the picture.")
    if a.row == b.row:
        options.append(f"The {name[a.shape]} and the {name[b.shape]} share a row.")
    return rng.choice(options)


def caption(scene, rng: random.Random) -> tuple[str, list[tuple]]:
    """A caption of the scene and the relations it states (objects and attributes are all stated)."""
    name = {o.shape: rng.choice(NOUNS[o.shape]) for o in scene.objects}
    objects = list(scene.objects)
    rng.shuffle(objects)
    phrases = [noun_phrase(rng, o, name[o.shape]) for o in objects]
    listed = ", ".join(phrases[:-1]) + " and " + phrases[-1] if len(phrases) > 1 else phrases[0]
    opening = rng.choice(
        [f"In this image, we can see {listed}.", f"The picture shows {listed}.", f"I see {listed}."]
    )
    sentences, relations = [], []
    pairs = [(a, b) for i, a in enumerate(objects) for b in objects[i + 1 :]]
    rng.shuffle(pairs)
    for a, b in pairs[: max(1, round(0.6 * len(pairs)))]:
        if rng.random() < 0.5:
            a, b = b, a
        text, stated = relation_sentence(rng, a, b, name)
        sentences.append(text)
        relations += stated
    sentences.insert(rng.randrange(len(sentences) + 1), distractor(rng, scene, name))
    return " ".join([opening, *sentences]), relations


def records() -> list[dict]:
    """The templated records, deterministic."""
    out = []
    for scene in split_scenes("val", len(SCENES), start=SCENES.start):
        rng = random.Random(f"paraphrase-{scene.id}")
        text, relations = caption(scene, rng)
        out.append(
            {
                "id": f"dev-{WRITER}-{int(scene.id[-5:]):03d}",
                "part": "dev",
                "writer": WRITER,
                "scene": scene.id,
                "caption": text,
                "objects": sorted(scene.shapes),
                "attributes": sorted(
                    [[o.shape, "colour", o.colour] for o in scene.objects]
                    + [[o.shape, "size", o.size] for o in scene.objects]
                ),
                "relations": sorted(list(r) for r in set(relations)),
            }
        )
    return out


def main() -> None:
    """Replace the templated lines of paraphrases.jsonl, keeping the hand-written ones."""
    kept = []
    if PATH.exists():
        kept = [line for line in PATH.read_text().splitlines() if json.loads(line)["writer"] != WRITER]
    lines = kept + [json.dumps(r) for r in records()]
    PATH.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
