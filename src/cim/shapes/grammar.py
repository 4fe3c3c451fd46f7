"""Writing captions from facts, caption levels of a scene, and fact-set perturbations.

Canonical style: "There are 3 shapes: a large red circle, a small blue square and a green triangle.
The circle is left of the square. The square is above and right of the triangle."
The count states how many objects are listed; `read_facts` ignores numbers, so it adds no facts.
Extra attribute values (a second colour of one shape, or attributes of a shape that is not listed)
are written as "The circle is also blue." so that `read_facts(write_caption(f)) == f.closed()`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from cim.shapes.facts import Facts
from cim.shapes.scene import Scene, scene_facts, stable_seed
from cim.shapes.vocab import (
    ATTRIBUTE_KINDS,
    ATTRIBUTE_VALUES,
    COLOUR_NAMES,
    OPPOSITE,
    SHAPES,
    SIZES,
    check_choice,
)

LEVELS: tuple[str, ...] = ("complete", "no-attributes", "one-object", "wrong")
_WORD_ORDER = ("above", "below", "left of", "right of")  # vertical first: "above and right of"


def _join(items: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _noun_phrase(shape: str, values: dict[str, tuple[str, ...]]) -> str:
    words = [values["size"][0]] if values["size"] else []
    words += [values["colour"][0]] if values["colour"] else []
    words.append(shape)
    article = "an" if words[0][0] in "aeiou" else "a"
    return f"{article} {' '.join(words)}"


def write_caption(facts: Facts, rng: random.Random | None = None, order: Sequence[str] | None = None) -> str:
    """A caption stating exactly `facts` (true or not) in the canonical style.

    Without `rng` the order is canonical: objects in `order` (e.g. a scene's reading order) when given,
    else in vocabulary order (SHAPES), and relation sentences by their objects' order. With `rng`, the
    object list, the sentence order and the subject of each relation sentence are shuffled.
    """
    rank = {s: i for i, s in enumerate(order or ())}
    base = len(rank)

    def key(shape: str) -> tuple[int, int]:
        return (rank.get(shape, base), SHAPES.index(shape))

    listed = sorted(facts.objects, key=key)
    if rng is not None:
        rng.shuffle(listed)
    head: list[str] = []
    if len(listed) == 1:
        head.append(f"There is {_noun_phrase(listed[0], facts.attributes_of(listed[0]))}.")
    elif listed:
        phrases = [_noun_phrase(s, facts.attributes_of(s)) for s in listed]
        head.append(f"There are {len(listed)} shapes: {_join(phrases)}.")
    elif not facts.attributes and not facts.relations:
        return "There are no shapes."

    sentences: list[tuple[tuple, str]] = []
    for shape in sorted(facts.mentioned_shapes(), key=key):
        values = facts.attributes_of(shape)
        is_listed = shape in facts.objects
        extra = [v for kind in ATTRIBUTE_KINDS for v in (values[kind][1:] if is_listed else values[kind])]
        if extra:
            also = "also " if is_listed else ""
            sentences.append(((key(shape), (-1, -1)), f"The {shape} is {also}{_join(extra)}."))

    pairs: dict[frozenset[str], list[tuple[str, str, str]]] = {}
    for fact in sorted(facts.relations):
        pairs.setdefault(frozenset((fact[0], fact[2])), []).append(fact)
    for pair, pair_facts in pairs.items():
        first, second = sorted(pair, key=key)
        if rng is not None and rng.random() < 0.5:
            first, second = second, first
        words = {w if a == first else OPPOSITE[w] for a, w, _ in pair_facts}
        text = " and ".join(w for w in _WORD_ORDER if w in words)
        sentences.append(((key(first), key(second)), f"The {first} is {text} the {second}."))
    sentences.sort(key=lambda item: item[0])
    body = [text for _, text in sentences]
    if rng is not None:
        rng.shuffle(body)
    return " ".join(head + body)


def _rng_for(scene: Scene, purpose: str, rng: random.Random | None) -> random.Random:
    return rng if rng is not None else random.Random(stable_seed("cim.shapes.grammar", purpose, scene.id))


def level_facts(scene: Scene, level: str, rng: random.Random | None = None) -> tuple[Facts, tuple[str, ...]]:
    """The facts a caption of `level` states about `scene`, and the order to list its objects in.

    complete: all facts. no-attributes: objects and relations. one-object: one object (rng) with
    its colour and size. wrong: the structure of complete with every fact corrupted as far as the
    vocabulary allows: every colour and every size changed, as many shapes as there are absent ones
    renamed to shapes absent from the scene (consistently, in the object list and the relations), and
    every relation reversed: a coherent description of another scene. rng None → seeded from the scene id.
    """
    check_choice("caption level", level, LEVELS)
    rng = _rng_for(scene, level, rng)
    truth = scene_facts(scene)
    if level == "complete":
        return truth, scene.shapes
    if level == "no-attributes":
        return Facts(truth.objects, frozenset(), truth.relations), scene.shapes
    if level == "one-object":
        obj = rng.choice(scene.objects)
        attributes = {a for a in truth.attributes if a[0] == obj.shape}
        return Facts(frozenset({obj.shape}), frozenset(attributes)), (obj.shape,)
    absent = [s for s in SHAPES if s not in scene.shapes]
    k = min(len(scene.objects), len(absent))
    renamed = dict(zip(rng.sample(scene.shapes, k), rng.sample(absent, k), strict=True))
    name = {s: renamed.get(s, s) for s in scene.shapes}
    attributes = set()
    for obj in scene.objects:
        attributes.add((name[obj.shape], "colour", rng.choice([c for c in COLOUR_NAMES if c != obj.colour])))
        attributes.add((name[obj.shape], "size", next(s for s in SIZES if s != obj.size)))
    relations = frozenset((name[b], w, name[a]) for a, w, b in truth.relations)
    order = tuple(name[s] for s in scene.shapes)
    return Facts(frozenset(order), frozenset(attributes), relations), order


def caption_for_level(
    scene: Scene, level: str, rng: random.Random | None = None, shuffle: bool = False
) -> str:
    """A caption of `scene` at one of LEVELS (see `level_facts`); canonical order unless `shuffle`."""
    rng = _rng_for(scene, level, rng)
    facts, order = level_facts(scene, level, rng)
    return write_caption(facts, rng if shuffle else None, order)


def _sorted_facts(facts: Facts) -> list[tuple]:
    return sorted(facts.tagged())


def _from_tagged(tagged: list[tuple]) -> Facts:
    return Facts(
        frozenset(t[1] for t in tagged if t[0] == "object"),
        frozenset(t[1:] for t in tagged if t[0] == "attribute"),
        frozenset(t[1:] for t in tagged if t[0] == "relation"),
    )


def subsample_facts(
    facts: Facts,
    keep_fraction: float | None = None,
    rng: random.Random | None = None,
    *,
    k: int | None = None,
) -> Facts:
    """Keep k of the n facts (or round(keep_fraction * n)), chosen at random.

    An attribute is only kept with its object and a relation only with both its objects (objects
    absent from the input impose no condition). Give exactly one of keep_fraction and k.
    rng None → random.Random(0).
    """
    n = facts.count()
    if (keep_fraction is None) == (k is None):
        raise ValueError("give exactly one of keep_fraction and k")
    if keep_fraction is not None:
        if not 0.0 <= keep_fraction <= 1.0:
            raise ValueError(f"keep_fraction must be in [0, 1], got {keep_fraction!r}")
        k = round(keep_fraction * n)
    if not isinstance(k, int) or not 0 <= k <= n:
        raise ValueError(f"k must be an int in 0..{n} (the number of facts), got {k!r}")
    rng = rng if rng is not None else random.Random(0)
    pending = _sorted_facts(facts)
    rng.shuffle(pending)
    kept: list[tuple] = []
    kept_objects: set[str] = set()

    def ready(fact: tuple) -> bool:
        if fact[0] == "object":
            return True
        needed = {fact[1]} if fact[0] == "attribute" else {fact[1], fact[3]}
        return all(s in kept_objects or s not in facts.objects for s in needed)

    while len(kept) < k:
        fact = next(f for f in pending if ready(f))
        pending.remove(fact)
        kept.append(fact)
        if fact[0] == "object":
            kept_objects.add(fact[1])
    return _from_tagged(kept)


def corrupt_facts(facts: Facts, scene: Scene, n_errors: int, rng: random.Random | None = None) -> Facts:
    """Replace `n_errors` facts that are true for `scene` by false facts of the same kind.

    An object becomes a shape absent from the scene (its attribute and relation facts are left as
    they are), an attribute gets another value, a relation is reversed. The number of facts stays the
    same, so exactly n_errors more facts are false. rng None → random.Random(0).
    """
    truth = scene_facts(scene).tagged()
    current = set(facts.tagged())
    candidates = [f for f in sorted(current) if f in truth]
    if not isinstance(n_errors, int) or not 0 <= n_errors <= len(candidates):
        raise ValueError(
            f"n_errors must be an int in 0..{len(candidates)} (the true facts), got {n_errors!r}"
        )
    rng = rng if rng is not None else random.Random(0)
    rng.shuffle(candidates)
    made = 0
    for fact in candidates:
        if made == n_errors:
            break
        if fact[0] == "object":
            used = {t[1] for t in current if t[0] == "object"}
            options = [("object", s) for s in SHAPES if s not in scene.shapes and s not in used]
        elif fact[0] == "attribute":
            _, shape, kind, value = fact
            options = [("attribute", shape, kind, v) for v in ATTRIBUTE_VALUES[kind] if v != value]
        else:
            options = [("relation", fact[3], fact[2], fact[1])]
        options = [o for o in options if o not in truth and o not in current]
        if options:
            current.remove(fact)
            current.add(rng.choice(options))
            made += 1
    if made < n_errors:
        raise ValueError(f"could only make {made} of {n_errors} errors without repeating a fact")
    return _from_tagged(sorted(current))


def swap_relations(facts: Facts) -> Facts:
    """Every relation reversed: left of ↔ right of, above ↔ below."""
    return Facts(facts.objects, facts.attributes, frozenset((b, w, a) for a, w, b in facts.relations))


def swap_attributes(facts: Facts, rng: random.Random | None = None, kind: str = "colour") -> Facts:
    """Swap the `kind` values of two objects (chosen by rng) that each have one, different, value.

    Returns `facts` unchanged when no such pair exists. rng None → random.Random(0).
    """
    check_choice("attribute kind", kind, ATTRIBUTE_KINDS)
    value = {}
    for shape in sorted(facts.mentioned_shapes()):
        values = facts.attributes_of(shape)[kind]
        if len(values) == 1:
            value[shape] = values[0]
    pairs = [(a, b) for a in value for b in value if a < b and value[a] != value[b]]
    if not pairs:
        return facts
    a, b = (rng if rng is not None else random.Random(0)).choice(pairs)
    attributes = set(facts.attributes) - {(a, kind, value[a]), (b, kind, value[b])}
    attributes |= {(a, kind, value[b]), (b, kind, value[a])}
    return Facts(facts.objects, frozenset(attributes), facts.relations)
