"""A second caption writer for the shapes world, unlike `cim.shapes.grammar`: other nouns, attributes after
the noun, relation-first sentences and other relation words. Reward options are checked on its captions too,
so that a fix that only works on our own grammar shows up as one.

    other_caption(facts, scene, rng) -> str      # every fact of `facts` stated once, in this writer's style
"""

from __future__ import annotations

import random

from cim.shapes import Facts, Scene

NOUNS = {"circle": "disc", "square": "box", "triangle": "triangle", "diamond": "rhombus", "star": "star", "cross": "plus sign"}
SIZES = {"large": "big", "small": "tiny"}
LEFT_OF = ("To the left of the {b} is the {a}.", "The {a} sits further left than the {b}.", "The {b} is on the right side of the {a}.")
ABOVE = ("Higher than the {b} is the {a}.", "The {a} is over the {b}.", "Beneath the {a} lies the {b}.")


def _object(shape: str, attributes: dict[str, str], rng: random.Random) -> str:
    noun = NOUNS[shape]
    size, colour = SIZES.get(attributes.get("size", ""), ""), attributes.get("colour", "")
    if size and colour:
        return rng.choice((f"There is a {size} {noun} coloured {colour}.", f"One can see a {noun} in {colour}; it is {size}."))
    if size or colour:
        return f"There is a {size or colour} {noun}."
    return f"There is a {noun}."


def other_caption(facts: Facts, scene: Scene, rng: random.Random) -> str:
    """A caption stating exactly `facts`: objects in the scene's reading order (others after), then the
    relations in a shuffled order."""
    attributes: dict[str, dict[str, str]] = {}
    for shape, kind, value in facts.attributes:
        attributes.setdefault(shape, {})[kind] = value
    order = [shape for shape in scene.shapes if shape in facts.objects] + sorted(facts.objects - set(scene.shapes))
    objects = [_object(shape, attributes.get(shape, {}), rng) for shape in order]
    relations = []
    for a, word, b in sorted(facts.relations):
        template = rng.choice(LEFT_OF if word == "left of" else ABOVE)
        relations.append(template.format(a=NOUNS[a], b=NOUNS[b]))
    rng.shuffle(relations)
    return " ".join(objects + relations)
