"""A rule-based reader of facts from free text over the shapes vocabulary.

Sentences split on . ! ? ; and newlines; words are lower-cased, punctuation other than commas is
dropped, unknown words are ignored. A noun phrase is a shape noun (singular or plural) with the
size and colour words right before it, in any order ("big" = large, "tiny"/"little" = small); each
gives an object fact and its attribute facts. "X is red and large" attaches the adjectives to X.
A relation is NP, relation words, NP: "left of", "to the left of", "on the right of", "above",
"over", "on top of", "below", "beneath", "under(neath)", possibly joined ("above and right of");
"left"/"right" need "of" unless another relation word follows, so "in the top left" is no relation.
"next to"/"beside" give no fact. Coordinated subjects/objects ("the circle and the square are above
the star"), continued predicates ("left of the square and above the star") and relative clauses
("the square, which is above the star") are followed. A negation ("not", "no", "never") before the
relation words drops that relation, and "no <NP>" states nothing. Numbers are ignored, so
"There are 5 shapes" adds no fact. The result is always closed (see `Facts.closed`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cim.shapes.facts import Facts
from cim.shapes.vocab import COLOUR_NAMES, SHAPES, SIZES, canonical_relation

_SHAPE_WORDS = {s: s for s in SHAPES} | {s + "s": s for s in SHAPES} | {"crosses": "cross"}
_ADJECTIVES: dict[str, tuple[str, str]] = {c: ("colour", c) for c in COLOUR_NAMES}
_ADJECTIVES |= {s: ("size", s) for s in SIZES} | {"big": ("size", "large")}
_ADJECTIVES |= {"tiny": ("size", "small"), "little": ("size", "small")}
_COPULA = {"is", "are", "was", "were"}
_NEGATIONS = {"not", "no", "never", "neither", "nor", "isn", "aren", "nt"}
_AND = {"and", ","}
_ARTICLES = {"a", "an", "the"}
_BREAKS = {
    "it", "its", "them", "they", "this", "that", "these", "those", "which", "who", "while", "whereas",
    "but", "although", "though", "where", "when", "if", "then", "so", "because", "with",
}  # fmt: skip
_REL_FILLER = {"to", "the", "on", "also", "directly", "slightly", "just", "somewhat", "a", "bit", "little"}
_KNOWN = set(_SHAPE_WORDS) | set(_ADJECTIVES) | _COPULA | _NEGATIONS | _AND | _ARTICLES | _BREAKS
_SENTENCE_SPLIT = re.compile(r"[.!?;\n]+")
_TOKEN = re.compile(r"[a-z]+|,")


@dataclass
class _NounPhrase:
    shape: str
    attributes: list[tuple[str, str]] = field(default_factory=list)
    negated: bool = False


@dataclass
class _Relation:
    subjects: list[_NounPhrase]
    words: list[str]
    negated: bool
    others: int = 0


def _relation_item(tokens: list[str], p: int) -> tuple[str, bool, int] | None:
    """(relation word, complete?, next position) for a relation item starting at p."""
    if p >= len(tokens):
        return None
    token = tokens[p]
    has_of = p + 1 < len(tokens) and tokens[p + 1] == "of"
    if token in ("left", "right"):
        return (f"{token} of", True, p + 2) if has_of else (f"{token} of", False, p + 1)
    if token in ("above", "over"):
        return ("above", True, p + 1)
    if token in ("below", "beneath", "under", "underneath"):
        return ("below", True, p + 1)
    if token == "top" and has_of:
        return ("above", True, p + 2)
    return None


def _relation_list(tokens: list[str], i: int) -> tuple[list[str], bool, int] | None:
    """(relation words, contains "or"?, end) for an and-joined list of relation items at i."""
    items: list[tuple[str, bool, int]] = []
    has_or = False
    p = i
    while (item := _relation_item(tokens, p)) is not None:
        items.append(item)
        p = item[2]
        q = p
        while q < len(tokens) and tokens[q] in ("and", ",", "or"):
            q += 1
        if q == p:
            break
        conjunctions = tokens[p:q]
        while q < len(tokens) and tokens[q] in _REL_FILLER:
            q += 1
        if _relation_item(tokens, q) is None:
            break
        has_or = has_or or "or" in conjunctions
        p = q
    while items and not items[-1][1]:  # a trailing "left"/"right" without "of" is no relation
        items.pop()
    if not items:
        return None
    return [word for word, _, _ in items], has_or, items[-1][2]


def _after_copula(tokens: list[str], i: int) -> bool:
    """True if the last known word before position i is a copula ("is", "are", ...)."""
    for token in reversed(tokens[:i]):
        if token in _KNOWN or _relation_item([token, "of"], 0) is not None:
            return token in _COPULA
    return False


def _chunk(tokens: list[str]) -> list[tuple]:
    """Tokens → items: ("np", _NounPhrase), ("rel", words, has_or), ("pred", attributes), ("cop",),
    ("neg",), ("and",), ("break",), ("other",)."""
    items: list[tuple] = []
    pending: list[tuple[str, str]] = []
    start = 0
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in _ADJECTIVES:
            if not pending and _after_copula(tokens, i):
                j = i
                while j < len(tokens) and (tokens[j] in _ADJECTIVES or tokens[j] in _AND):
                    j += 1
                while j > i and tokens[j - 1] in _AND:
                    j -= 1
                ands = [p for p in range(i, j) if tokens[p] in _AND]
                if j >= len(tokens) or tokens[j] not in _SHAPE_WORDS:
                    items.append(("pred", [_ADJECTIVES[t] for t in tokens[i:j] if t in _ADJECTIVES]))
                    i = j
                    continue
                if ands:  # "is large and red circles": predicative before the last "and"
                    items.append(("pred", [_ADJECTIVES[t] for t in tokens[i : ands[-1]] if t in _ADJECTIVES]))
                    items.append(("and",))
                    i = ands[-1] + 1
                    continue
            if not pending:
                start = i
            pending.append(_ADJECTIVES[token])
        elif token in _SHAPE_WORDS:
            first = start if pending else i
            negated = first > 0 and tokens[first - 1] == "no"
            items.append(("np", _NounPhrase(_SHAPE_WORDS[token], pending, negated)))
            pending = []
        elif (relation := _relation_list(tokens, i)) is not None:
            words, has_or, end = relation
            items.append(("rel", words, has_or))
            pending = []
            i = end
            continue
        elif token in _COPULA:
            items.append(("cop",))
            pending = []
        elif token in _NEGATIONS:
            j = i + 1
            while j < len(tokens) and (tokens[j] in _ADJECTIVES or tokens[j] in _ARTICLES):
                j += 1
            if not (token == "no" and j < len(tokens) and tokens[j] in _SHAPE_WORDS):
                items.append(("neg",))
        elif token in _AND:
            items.append(("and",))
        elif token in _BREAKS:
            items.append(("break",))
            pending = []
        elif token not in _ARTICLES:
            items.append(("other",))
        i += 1
    return items


def _starts_clause(items: list[tuple], k: int) -> bool:
    """True if the noun phrase before items[k] is the subject of a new clause."""
    for item in items[k:]:
        if item[0] in ("cop", "rel", "neg", "pred"):
            return True
        if item[0] == "break":
            return False
    return False


def _read_sentence(tokens: list[str], out: dict[str, set]) -> None:
    items = _chunk(tokens)
    noun_phrases: list[_NounPhrase] = []
    group: list[_NounPhrase] | None = None
    group_relation: _Relation | None = None  # the relation whose object is `group`
    pending: _Relation | None = None
    negated = False
    last = None

    def relate(relation: _Relation, obj: _NounPhrase) -> None:
        if relation.negated or obj.negated:
            return
        for subject in relation.subjects:
            if subject.negated or subject.shape == obj.shape:
                continue
            for word in relation.words:
                out["relations"].add(canonical_relation(subject.shape, word, obj.shape))

    for k, item in enumerate(items):
        kind = item[0]
        if kind == "np":
            phrase = item[1]
            noun_phrases.append(phrase)
            if pending is not None:
                relate(pending, phrase)
                group, group_relation, pending = [phrase], pending, None
            elif (
                last == "and"
                and group is not None
                and not (group_relation is not None and _starts_clause(items, k + 1))
            ):
                group.append(phrase)
                if group_relation is not None:
                    relate(group_relation, phrase)
            else:
                group, group_relation = [phrase], None
            negated = False
        elif kind == "rel":
            _, words, has_or = item
            if last == "and" and group_relation is not None:
                subjects = group_relation.subjects
            else:
                subjects = group or []
            pending = _Relation(subjects, words, negated or has_or) if subjects else None
            negated = False
        elif kind == "other":
            if pending is not None:
                pending.others += 1
                if pending.others > 2:
                    pending = None
            continue
        elif kind == "neg":
            negated = True
        elif kind == "pred":
            for phrase in group or []:
                phrase.attributes.extend(item[1])
        else:  # cop, and, break
            pending = None
        last = kind

    for phrase in noun_phrases:
        if not phrase.negated:
            out["objects"].add(phrase.shape)
            out["attributes"].update((phrase.shape, kind, value) for kind, value in phrase.attributes)


def read_facts(text: str) -> Facts:
    """All facts that `text` states over the shapes vocabulary (see the module docstring)."""
    if not isinstance(text, str):
        raise ValueError(f"read_facts needs a str, got {type(text).__name__}")
    out: dict[str, set] = {"objects": set(), "attributes": set(), "relations": set()}
    for sentence in _SENTENCE_SPLIT.split(text.lower()):
        tokens = _TOKEN.findall(sentence)
        if tokens:
            _read_sentence(tokens, out)
    return Facts(
        frozenset(out["objects"]), frozenset(out["attributes"]), frozenset(out["relations"])
    ).closed()
