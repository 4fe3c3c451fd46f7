"""Words of free English about the shapes world, and the tagger that turns a sentence into tokens.

The reader (`cim.shapes.reader`) works on tagged tokens, never on raw words. Every word list of the
reader lives here, so widening what it reads is an edit of this file.

Synonyms are only taken where they cannot name another shape of this world: "disc", "disk", "dot",
"ring", "oval" and "ellipse" are circles (the only round shape); "box" and "rectangle" are squares
(the only shape with right angles; the diamond is a rhombus, taller than wide); "rhombus", "lozenge"
and "rotated/tilted square" are diamonds; "plus", "plus sign" and "x" are crosses (the only shape with
arms); "pentagram" is a star. Shape adjectives count with a generic noun: "a circular object",
"a star-shaped figure". Sizes: "big", "huge", "giant", "enormous", "massive", "lg" are large; "tiny",
"little", "mini", "sm" are small; comparatives ("larger than") state no size. Colours: "violet" is
purple, "crimson" and "scarlet" are red. "plus" before a noun phrase is "and"; "x" next to a number
is "by" ("3 x 3"); "that"/"this" after a relation word is a pronoun ("right below that").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from cim.shapes.vocab import COLOUR_NAMES, SHAPES

# --- nouns ---------------------------------------------------------------------------------------
SHAPE_NOUNS: dict[str, str] = {s: s for s in SHAPES} | {
    "disc": "circle", "disk": "circle", "dot": "circle", "ring": "circle", "oval": "circle",
    "ellipse": "circle", "box": "square", "rectangle": "square", "rhombus": "diamond",
    "rhomb": "diamond", "lozenge": "diamond", "plus": "cross", "x": "cross", "pentagram": "star",
}  # fmt: skip
PLURAL_NOUNS: dict[str, str] = {w + "s": s for w, s in SHAPE_NOUNS.items() if w not in ("x", "plus")} | {
    "crosses": "cross", "boxes": "square", "rhombi": "diamond", "rhombuses": "diamond",
    "pluses": "cross", "ellipses": "circle",
}  # fmt: skip
SHAPE_PHRASES: dict[tuple[str, ...], str] = {
    ("rotated", "square"): "diamond", ("tilted", "square"): "diamond", ("plus", "sign"): "cross",
    ("plus", "symbol"): "cross", ("x", "shape"): "cross",
}  # fmt: skip
SHAPE_ADJECTIVES: dict[str, str] = {
    "circular": "circle",
    "round": "circle",
    "triangular": "triangle",
    "rectangular": "square",
}
GENERIC_NOUNS: frozenset[str] = frozenset(
    "shape object figure item thing form element symbol icon sign piece polygon one".split()
)
FRAME_NOUNS: frozenset[str] = frozenset(
    """image picture photo photograph scene grid canvas frame board panel view display screen layout
    composition background center centre middle corner row column edge border half part area region
    quadrant cell position spot place portion section space page everything anything""".split()
)

# --- attributes ----------------------------------------------------------------------------------
ADJECTIVES: dict[str, tuple[str, str]] = {c: ("colour", c) for c in COLOUR_NAMES} | {
    "violet": ("colour", "purple"), "crimson": ("colour", "red"), "scarlet": ("colour", "red"),
    "small": ("size", "small"), "tiny": ("size", "small"), "little": ("size", "small"),
    "mini": ("size", "small"), "large": ("size", "large"), "big": ("size", "large"),
    "huge": ("size", "large"), "giant": ("size", "large"), "enormous": ("size", "large"),
    "massive": ("size", "large"), "sm": ("size", "small"), "lg": ("size", "large"),
}  # fmt: skip
COLOUR_LINKS: frozenset[str] = frozenset("coloured colored painted shaded tinted filled hued".split())
ATTRIBUTE_NOUNS: frozenset[str] = frozenset("colour color colours colors hue shade tone size sized".split())

# --- relations -----------------------------------------------------------------------------------
DIRECTIONS: dict[str, tuple[str, ...]] = {
    "left": ("left of",), "right": ("right of",), "above": ("above",), "over": ("above",),
    "atop": ("above",), "up": ("above",), "upper": ("above",), "top": ("above",),
    "higher": ("above",), "north": ("above",), "upward": ("above",), "upwards": ("above",),
    "below": ("below",), "under": ("below",), "beneath": ("below",), "underneath": ("below",),
    "down": ("below",), "lower": ("below",), "bottom": ("below",), "south": ("below",),
    "downward": ("below",), "downwards": ("below",), "west": ("left of",), "east": ("right of",),
    "leftward": ("left of",), "rightward": ("right of",),
    "northwest": ("above", "left of"), "northeast": ("above", "right of"),
    "southwest": ("below", "left of"), "southeast": ("below", "right of"),
}  # fmt: skip
PREPOSITIONS: frozenset[str] = frozenset("above over atop below under beneath underneath".split())
"""Direction words that take their object directly ("above the star"); the others need of/than/from."""
INTENSIFIED: frozenset[str] = frozenset(
    "above over atop below under beneath underneath next beside by near in at on behind alongside".split()
)
"""Words after which "right" means "directly" ("right above the star"), not a direction."""
RELATION_FILLERS: frozenset[str] = frozenset(
    """to on at directly slightly diagonally just immediately exactly straight far further farther more
    somewhat bit way off side hand toward towards""".split()
)
NULL_RELATIONS: frozenset[str] = frozenset(
    "next beside near nearby adjacent close between alongside opposite across around among touching behind".split()
)
"""Position words that state no relation of this world ("next to", "near", "between")."""
NULL_PHRASES: frozenset[tuple[str, ...]] = frozenset(
    {("in", "front", "of"), ("side", "by", "side"), ("in", "between"), ("level", "with"),
     ("in", "line", "with"), ("aligned", "with"), ("away", "from")}
    | {("same", noun, "as") for noun in ("row", "column", "line", "height", "level", "side")}
)  # fmt: skip
ORDERS: dict[tuple[str, ...], str] = {
    ("left", "to", "right"): "left of",
    ("right", "to", "left"): "right of",
    ("top", "to", "bottom"): "above",
    ("bottom", "to", "top"): "below",
    ("from", "the", "left"): "left of",
    ("from", "the", "right"): "right of",
    ("from", "the", "top"): "above",
    ("from", "the", "bottom"): "below",
    ("l", "to", "r"): "left of",
    ("l", "r"): "left of",
}
"""Ordering phrases: "from left to right: a circle, a square and a star" orders the list."""

# --- function words ------------------------------------------------------------------------------
COPULAS: frozenset[str] = frozenset(
    """is are was were be been being am sits sit sitting seated lies lie lying stands stand standing
    rests rest resting located positioned placed situated found find finds seen see sees shown drawn
    depicted appears appear appearing seems seem looks look looking hovers hangs floats perched
    remains visible present""".split()
)
NEGATIONS: frozenset[str] = frozenset("not no never neither nor without none nothing nobody".split())
NEGATED_GENERIC: frozenset[str] = frozenset({"none", "nothing", "nobody"})
CONJUNCTIONS: frozenset[str] = frozenset({"and", "then", "&", "+", "|", ","})
CONJUNCTION_PHRASES: frozenset[tuple[str, ...]] = frozenset(
    {("as", "well", "as"), ("along", "with"), ("together", "with")}
)
RELATIVE_PRONOUNS: frozenset[str] = frozenset({"which", "who", "whose"})
CLAUSE_BREAKS: frozenset[str] = frozenset(
    "while whereas but although though however yet so because where when if since".split()
)
WITH_WORDS: frozenset[str] = frozenset({"with", "having", "has", "have"})
PRONOUNS: dict[str, str] = {"it": "it", "itself": "it", "they": "they", "them": "they"}
"""Pronouns and what they stand for; "the former"/"the latter" (phrases) pick from the latest pair."""
POSSESSIVE_PRONOUNS: dict[str, str] = {"its": "it", "their": "they"}
COPULA_HOSTS: frozenset[str] = frozenset({"it", "there", "here", "that", "what", "who", "this"})
"""Words after which "'s" is "is" (it's, there's); after a noun it may also be a possessive."""
ARTICLES: frozenset[str] = frozenset("a an the this these those some another each every any".split())
IGNORED: frozenset[str] = frozenset(
    """both there here we you i can could may might will would also too very quite rather fairly
    pretty bright dark light pale deep vivid solid plain simple other single only still therefore
    again respectively""".split()
)
DETERMINERS: frozenset[str] = ARTICLES | IGNORED
NUMBERS: frozenset[str] = frozenset(
    "zero two three four five six seven eight nine ten first second third fourth fifth".split()
)

_SENTENCE_SPLIT = re.compile(r"[.!?;\n]+")
_ABBREVIATIONS = re.compile(r"\b(?:i\.e|e\.g)\.", re.IGNORECASE)
_TOKEN = re.compile(r"[a-z0-9]+|'s|[,:()|+&/-]")


@dataclass(frozen=True)
class Token:
    """One tagged word: `tag` says its part in the reader's grammar, `value` what it names."""

    tag: str
    value: object = None
    word: str = ""


def split_sentences(text: str) -> list[str]:
    """The sentences of `text` (split on . ! ? ; and newlines), stripped; pieces without a letter
    (empty, or the "1" of a numbered list) are dropped; "i.e." and "e.g." do not end a sentence."""
    text = _ABBREVIATIONS.sub(lambda m: m.group(0).replace(".", ""), text)
    return [s.strip() for s in _SENTENCE_SPLIT.split(text) if re.search("[A-Za-z]", s)]


def words_of(sentence: str) -> list[str]:
    """Lower-cased words and punctuation tokens; "n't" becomes "not", hyphens inside words spaces."""
    text = sentence.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"n't\b", " not", text).replace("cannot", "can not")
    text = re.sub(r"'re\b", " are", text)
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)
    text = re.sub(r"\s[\u2013\u2014]\s|[\u2013\u2014]", " - ", text)
    return _TOKEN.findall(text)


def _is_number(word: str) -> bool:
    return word[0].isdigit() or word in NUMBERS


def _phrase_at(words: list[str], i: int) -> tuple[Token, int] | None:
    """A multi-word entry starting at words[i]: (token, number of words) or None."""
    for n in (4, 3, 2):
        phrase = tuple(words[i : i + n])
        if len(phrase) < n:
            continue
        if phrase in SHAPE_PHRASES:
            return Token("SHAPE", (SHAPE_PHRASES[phrase], False), " ".join(phrase)), n
        if phrase in NULL_PHRASES:
            return Token("NULL", None, " ".join(phrase)), n
        if phrase in CONJUNCTION_PHRASES:
            return Token("AND", None, " ".join(phrase)), n
        if phrase == ("relative", "to"):  # "up and left relative to the square"
            return Token("OF", None, "relative to"), n
        if phrase in (("the", "former"), ("the", "latter")):
            return Token("PRON", phrase[1], " ".join(phrase)), n
        if phrase in ORDERS:
            return Token("ORDER", ORDERS[phrase], " ".join(phrase)), n
        if phrase[0] == "from" and phrase[1:] in ORDERS:
            return Token("ORDER", ORDERS[phrase[1:]], " ".join(phrase)), n
    return None


def _starts_noun_phrase(word: str | None) -> bool:
    return word is not None and (
        word in DETERMINERS or word in ADJECTIVES or word in SHAPE_NOUNS or word in PLURAL_NOUNS
        or word in GENERIC_NOUNS or _is_number(word)
    )  # fmt: skip


def _tag_ambiguous(words: list[str], i: int) -> Token | None:
    """Tags of words whose part depends on their neighbours: x, plus, one, little, right, that, 's."""
    word = words[i]
    prev = words[i - 1] if i > 0 else None
    after = words[i + 1] if i + 1 < len(words) else None
    if word == "x":
        near_number = any(w is not None and _is_number(w) for w in (prev, after))
        if near_number or prev in ("by", "times") or after in ("axis", "coordinate"):
            return Token("NUM", None, word)
    if word == "plus" and prev not in DETERMINERS and prev not in ADJECTIVES and _starts_noun_phrase(after):
        return Token("AND", None, word)
    if word == "one" and not (prev in DETERMINERS or prev in ADJECTIVES):
        return Token("NUM", None, word)
    if word == "little" and (after in DIRECTIONS or after in RELATION_FILLERS):
        return Token("FILL", None, word)
    if word == "right" and after in INTENSIFIED:
        return Token("IGNORE", None, word)
    if word in ("that", "this"):
        nouns = SHAPE_NOUNS.keys() | PLURAL_NOUNS.keys() | GENERIC_NOUNS | {g + "s" for g in GENERIC_NOUNS}
        if word == "that" and prev is not None and (prev in nouns or prev == ","):
            return Token("RELPRON", None, word)
        noun_follows = (
            after in ADJECTIVES or after in SHAPE_NOUNS or after in PLURAL_NOUNS or after in GENERIC_NOUNS
        )
        if (prev in DIRECTIONS or prev in ("of", "than", "from")) and not noun_follows:
            return Token("PRON", "it", word)  # "right below that a diamond"
        return Token("DET", None, word)
    if word == "'s":
        return Token("COP" if prev in COPULA_HOSTS else "APOS_S", None, word)
    return None


@lru_cache(maxsize=8192)
def _tag_word(word: str) -> Token:
    """The tag of a word on its own (see `tag`)."""
    table: list[tuple[object, str]] = [
        (SHAPE_NOUNS, "SHAPE"), (PLURAL_NOUNS, "SHAPES"), (ADJECTIVES, "ADJ"),
        (SHAPE_ADJECTIVES, "SHAPEADJ"), (DIRECTIONS, "DIR"), (PRONOUNS, "PRON"),
        (POSSESSIVE_PRONOUNS, "POSSPRON"),
    ]  # fmt: skip
    for words, tag in table:
        if word in words:  # type: ignore[operator]
            value = words[word]  # type: ignore[index]
            if tag in ("SHAPE", "SHAPES"):
                return Token("SHAPE", (value, tag == "SHAPES"), word)
            return Token(tag, value, word)
    if word in GENERIC_NOUNS or (word.endswith("s") and word[:-1] in GENERIC_NOUNS):
        return Token("GENERIC", word.endswith("s"), word)
    sets: list[tuple[frozenset[str], str]] = [
        (FRAME_NOUNS, "FRAME"), (COLOUR_LINKS, "CLINK"), (ATTRIBUTE_NOUNS, "ATTRNOUN"),
        (NULL_RELATIONS, "NULL"), (COPULAS, "COP"), (NEGATIONS, "NEG"), (CONJUNCTIONS, "AND"),
        (RELATIVE_PRONOUNS, "RELPRON"), (CLAUSE_BREAKS, "CLAUSE"), (WITH_WORDS, "WITH"),
        (RELATION_FILLERS, "FILL"), (ARTICLES, "DET"), (IGNORED, "IGNORE"),
    ]  # fmt: skip
    for words, tag in sets:
        if word in words:
            return Token(tag, None, word)
    simple = {"of": "OF", "than": "THAN", "from": "FROM", "in": "IN", "or": "OR", "/": "OR", ":": "LINK",
              "-": "LINK", "(": "LPAR", ")": "RPAR", "all": "ALL"}  # fmt: skip
    if word in simple:
        return Token(simple[word], None, word)
    if word.rstrip("s") in FRAME_NOUNS:
        return Token("FRAME", None, word)
    return Token("NUM" if _is_number(word) else "OTHER", None, word)


def tag(sentence: str) -> list[Token]:
    """Tokens of one sentence. Tags: SHAPE (value (shape, plural)), GENERIC (value plural), FRAME,
    SHAPEADJ, PRON / POSSPRON (value "it" or "they"), APOS_S, ADJ (value (kind, value)), CLINK,
    ATTRNOUN, DIR (value relation words), FILL, NULL, OF, THAN, FROM, IN, ORDER, COP, NEG, AND, OR,
    RELPRON, CLAUSE, WITH, LINK, LPAR, RPAR, ALL, NUM, DET, IGNORE, OTHER."""
    words = words_of(sentence)
    tokens: list[Token] = []
    i = 0
    while i < len(words):
        phrase = _phrase_at(words, i)
        if phrase is not None:
            tokens.append(phrase[0])
            i += phrase[1]
            continue
        tokens.append(_tag_ambiguous(words, i) or _tag_word(words[i]))
        i += 1
    return tokens
