"""Hard negatives and paraphrases of free-English captions, found by pattern (no parser, no list of objects).

Everything here works on any caption, not only the shapes grammar:

- relations: "<noun phrase> [is | sits | lies ...] <relation> <noun phrase>", with the relation one of
  RELATIONS ("left of", "to the left of", "above", "on top of", "under", "behind", "next to", ...) or two of
  them joined by "and" ("above and left of"). A noun phrase starts with an article and runs to the next
  function word or punctuation ("the large red circle"). Symmetric relations ("next to") are never swapped.
- attributes: adjectives of a known class (colour, size, material; ATTRIBUTE_WORDS) right before a noun.
- objects: the last word of each noun phrase.

Negatives change what a caption says (swapped relation arguments, attributes traded between two objects, two
objects traded everywhere, shuffled words); paraphrases keep it (converse relations, shuffled sentences).
HELDOUT_PHRASES are relation phrasings none of the generators above ever write: validation rewrites captions
with them so that it measures negatives in a template that training never saw (SugarCrepe's lesson).
Every function returns None when its pattern does not occur in the caption.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

RELATIONS: dict[str, str] = {
    "left of": "right of",
    "right of": "left of",
    "to the left of": "to the right of",
    "to the right of": "to the left of",
    "on the left of": "on the right of",
    "on the right of": "on the left of",
    "above": "below",
    "below": "above",
    "over": "under",
    "under": "over",
    "beneath": "above",
    "underneath": "above",
    "on top of": "under",
    "in front of": "behind",
    "behind": "in front of",
    "next to": "next to",
    "beside": "beside",
    "near": "near",
    "close to": "close to",
}
"""Relation phrases the generators recognise → their converse ("A left of B" = "B right of A")."""
SYMMETRIC = frozenset(phrase for phrase, converse in RELATIONS.items() if phrase == converse)
AXIS = {
    "left of": "left of", "to the left of": "left of", "on the left of": "left of",
    "right of": "right of", "to the right of": "right of", "on the right of": "right of",
    "above": "above", "over": "above", "on top of": "above",
    "below": "below", "under": "below", "beneath": "below", "underneath": "below",
    "in front of": "in front of", "behind": "behind",
}  # fmt: skip
"""Each asymmetric relation phrase → the direction it names (the key of HELDOUT_PHRASES)."""
HELDOUT_PHRASES: dict[str, tuple[str, ...]] = {
    "left of": ("further left than", "on the left-hand side of"),
    "right of": ("further right than", "on the right-hand side of"),
    "above": ("higher up than", "higher than"),
    "below": ("lower down than", "lower than"),
    "in front of": ("closer to the viewer than",),
    "behind": ("farther from the viewer than",),
}
"""Phrasings for validation only: no generator writes them and the RELATIONS patterns do not match them."""
ATTRIBUTE_WORDS: dict[str, tuple[str, ...]] = {
    "colour": ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "grey",
               "gray", "violet", "cyan", "magenta", "gold", "golden", "silver", "beige", "turquoise", "teal"),
    "size": ("large", "small", "big", "tiny", "little", "huge", "giant", "medium", "tall", "short"),
    "material": ("wooden", "metal", "metallic", "glass", "plastic", "stone", "rubber", "paper", "leather"),
}  # fmt: skip
"""Adjective classes whose values `swap_attributes` trades between two objects."""
VERBS = ("is located", "is placed", "is positioned", "is situated", "can be seen", "is", "are", "sits", "sit",
         "sitting", "lies", "lie", "lying", "stands", "stand", "standing", "appears", "hangs", "hanging",
         "located", "placed", "positioned", "situated", "parked", "floats", "floating")  # fmt: skip
_FUNCTION_WORDS = ("and", "or", "but", "the", "a", "an", "of", "to", "in", "on", "at", "with", "by", "from",
                   "which", "that", "who", "while", "where", "there", "it", "its", "this", "these", "those",
                   "not", "has", "have", "also", "both", "than", "as", "into", "onto", "all", "each")  # fmt: skip
_RELATION_WORDS = {word for phrase in RELATIONS for word in phrase.split()} | {"top", "front", "side", "further",
                                                                               "higher", "lower", "farther"}
_VERB_WORDS = {word for verb in VERBS for word in verb.split()}
_STOP = sorted(set(_FUNCTION_WORDS) | _RELATION_WORDS | _VERB_WORDS, key=len, reverse=True)


def _alternation(words) -> str:
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True))


_WORD = rf"(?!(?:{_alternation(_STOP)})\b)[\w'-]+"
NOUN_PHRASE = rf"\b(?:the|an|a)(?:\s+{_WORD}){{1,5}}"
"""An article and one to five words that are not function, verb or relation words: "the large red circle"."""
_RELATION = rf"(?:{_alternation(RELATIONS)})"
_PATTERN = re.compile(
    rf"(?P<a>{NOUN_PHRASE})(?P<mid>\s+(?:{_alternation(VERBS)})\s+|\s+)"
    rf"(?P<rel>{_RELATION}(?:\s*,?\s+and\s+{_RELATION})?)\s+(?P<b>{NOUN_PHRASE})",
    re.IGNORECASE,
)
_NOUN_PHRASE = re.compile(NOUN_PHRASE, re.IGNORECASE)
_PARTS = re.compile(r"\s*,?\s+and\s+", re.IGNORECASE)
_ATTRIBUTE = {word: kind for kind, words in ATTRIBUTE_WORDS.items() for word in words}
_ATTRIBUTE_RUN = re.compile(rf"\b((?:(?:{_alternation(_ATTRIBUTE)})\s+)+)([\w'-]+)", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Relation:
    """One relation phrase found in a caption: "<a><mid><relation parts> <b>" at `span`."""

    span: tuple[int, int]
    a: str
    mid: str
    parts: tuple[str, ...]  # lower-case RELATIONS keys, e.g. ("above", "left of")
    joiner: str  # " and " between two parts, "" for one
    b: str

    @property
    def asymmetric(self) -> bool:
        return any(part not in SYMMETRIC for part in self.parts)

    def text(self, a: str, b: str, parts: tuple[str, ...] | None = None) -> str:
        a, b = _case_like(a, self.a), _case_like(b, self.b)
        return f"{a}{self.mid}{self.joiner.join(parts or self.parts)} {b}"


def _case_like(phrase: str, original: str) -> str:
    """`phrase` with its first letter in the case of `original`'s ("The circle" in place of "the square")."""
    first = phrase[:1].upper() if original[:1].isupper() else phrase[:1].lower()
    return first + phrase[1:]


def find_relations(text: str) -> list[Relation]:
    """The relation phrases of `text`, left to right, without overlap."""
    found = []
    for match in _PATTERN.finditer(text):
        rel = match["rel"]
        pieces = _PARTS.split(rel)
        joiner = _PARTS.search(rel)
        parts = tuple(" ".join(piece.lower().split()) for piece in pieces)
        found.append(Relation(match.span(), match["a"], match["mid"], parts, joiner[0] if joiner else "", match["b"]))
    return found


def _rewrite(text: str, relations: list[Relation], new: Callable[[int, Relation], str | None]) -> str:
    """`text` with each relation i replaced by new(i, relation) (None keeps it)."""
    out, end = [], 0
    for i, relation in enumerate(relations):
        replacement = new(i, relation)
        if replacement is None:
            continue
        out += [text[end : relation.span[0]], replacement]
        end = relation.span[1]
    return "".join(out) + text[end:]


def swap_relations(text: str, rng: random.Random | None = None, every: bool = False) -> str | None:
    """Swap the arguments of one asymmetric relation ("A left of B" → "B left of A"), or of all with `every`."""
    relations = [r for r in find_relations(text) if r.asymmetric]
    if not relations:
        return None
    chosen = set(range(len(relations))) if every else {(rng or random.Random(0)).randrange(len(relations))}
    return _rewrite(text, relations, lambda i, r: r.text(r.b, r.a) if i in chosen else None)


def converse_relations(text: str, rng: random.Random | None = None, p: float = 1.0) -> str | None:
    """A paraphrase: each relation, with probability p, stated from the other side ("B right of A")."""
    relations = find_relations(text)
    if not relations:
        return None
    rng = rng or random.Random(0)
    flip = [rng.random() < p for _ in relations]
    return _rewrite(text, relations, lambda i, r: r.text(r.b, r.a, tuple(RELATIONS[x] for x in r.parts)) if flip[i] else None)


def rephrase_relations(text: str, rng: random.Random) -> str | None:
    """Every asymmetric relation rewritten with HELDOUT_PHRASES ("A is further left than B"; two parts:
    "A is higher up than B and further left than it"). The same rng state picks the same phrasings for a
    caption and its swapped twin."""
    relations = find_relations(text)
    if not any(r.asymmetric for r in relations):
        return None
    picks = [[rng.choice(HELDOUT_PHRASES[AXIS[p]]) if p in AXIS else p for p in r.parts] for r in relations]

    def new(i: int, r: Relation) -> str:
        first, *rest = picks[i]
        return f"{r.a}{r.mid}{first} {r.b}" + "".join(f" and {phrase} it" for phrase in rest)

    return _rewrite(text, relations, new)


def _article_for(word: str, article: str) -> str:
    """'a' or 'an' for `word` (by its first letter), in the case of `article`."""
    new = "an" if word[:1].lower() in "aeiou" else "a"
    return new.capitalize() if article[:1].isupper() else new


def _fix_article(text: str, start: int, word: str) -> str:
    """Correct an 'a'/'an' right before position `start` for `word`."""
    match = re.search(r"\b(an?)(\s+)$", text[:start], re.IGNORECASE)
    if not match:
        return text
    return text[: match.start(1)] + _article_for(word, match[1]) + text[match.end(1) :]


def swap_attributes(text: str, rng: random.Random | None = None) -> str | None:
    """Trade one attribute between two objects: "a red circle and a blue square" → "a blue circle and a red
    square". Adjectives of one ATTRIBUTE_WORDS class, right before different nouns, with different values."""
    slots: list[tuple[str, str, int, str]] = []  # (class, value, start, head noun)
    for run in _ATTRIBUTE_RUN.finditer(text):
        head = run[2].lower()
        if head in _STOP or head in _ATTRIBUTE:
            continue
        for word in re.finditer(r"[\w'-]+", run[1]):
            slots.append((_ATTRIBUTE[word[0].lower()], word[0], run.start(1) + word.start(), head))
    pairs = [(x, y) for i, x in enumerate(slots) for y in slots[i + 1 :]
             if x[0] == y[0] and x[3] != y[3] and x[1].lower() != y[1].lower()]  # fmt: skip
    if not pairs:
        return None
    first, second = (rng or random.Random(0)).choice(pairs)
    for (_, old, start, _), (_, new, _, _) in ((second, first), (first, second)):  # the later slot first
        text = text[:start] + _case_like(new, old) + text[start + len(old) :]
        text = _fix_article(text, start, new)
    return text


def _heads(text: str) -> dict[str, set[str]]:
    """Head noun (lower case) of each noun phrase → the modifier strings it appears with."""
    heads: dict[str, set[str]] = {}
    for match in _NOUN_PHRASE.finditer(text):
        words = match[0].lower().split()
        heads.setdefault(words[-1], set()).add(" ".join(words[1:-1]))
    return heads


def swap_objects(text: str, rng: random.Random | None = None) -> str | None:
    """Trade two objects everywhere ("a red circle left of a blue square" → "a red square left of a blue
    circle"); only objects that differ in their modifiers or take part in an asymmetric relation."""
    heads = _heads(text)
    related = {w for r in find_relations(text) if r.asymmetric for np in (r.a, r.b) for w in np.lower().split()[-1:]}
    names = sorted(heads)
    pairs = [(x, y) for i, x in enumerate(names) for y in names[i + 1 :]
             if heads[x] != heads[y] or x in related or y in related]  # fmt: skip
    if not pairs:
        return None
    x, y = (rng or random.Random(0)).choice(pairs)
    pattern = re.compile(rf"(?:\b(?P<art>an?)(?P<space>\s+))?\b(?P<word>{re.escape(x)}|{re.escape(y)})\b", re.IGNORECASE)

    def trade(match: re.Match) -> str:
        new = _case_like(y if match["word"].lower() == x else x, match["word"])
        article = _article_for(new, match["art"]) + match["space"] if match["art"] else ""
        return article + new

    return pattern.sub(trade, text)


def sentences(text: str) -> list[str]:
    """The sentences of `text` (split after . ! or ?)."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def shuffle_sentences(text: str, rng: random.Random | None = None) -> str | None:
    """A paraphrase: the same sentences in another order (None for a one-sentence caption)."""
    parts = sentences(text)
    if len(parts) < 2 or len(set(parts)) < 2:
        return None
    rng = rng or random.Random(0)
    order = parts[:]
    while order == parts:
        rng.shuffle(order)
    return " ".join(order)


def shuffle_words(text: str, rng: random.Random | None = None) -> str | None:
    """An easy negative: the words of one sentence (of four or more distinct words) in random order."""
    parts = sentences(text)
    candidates = [i for i, s in enumerate(parts) if len(set(s.rstrip(".!?").split())) >= 4]
    if not candidates:
        return None
    rng = rng or random.Random(0)
    i = rng.choice(candidates)
    words = parts[i].rstrip(".!?").split()
    shuffled = words[:]
    while shuffled == words:
        rng.shuffle(shuffled)
    parts[i] = " ".join(shuffled) + parts[i][len(parts[i].rstrip(".!?")) :]
    return " ".join(parts)


def paraphrase(text: str, rng: random.Random) -> str:
    """A caption that says the same: about half of its relations stated from the other side, sentences shuffled.
    Falls back to `text` itself when neither applies."""
    text = converse_relations(text, rng, p=0.5) or text
    return shuffle_sentences(text, rng) or text


NEGATIVES: dict[str, Callable[[str, random.Random], str | None]] = {
    "relation": swap_relations,
    "attribute": swap_attributes,
    "object": swap_objects,
    "words": shuffle_words,
}
"""Negative generators by kind; each returns None where its pattern is absent."""
