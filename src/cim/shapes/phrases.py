"""Phrases of one sentence: tagged tokens (`cim.shapes.lexicon`) grouped into noun phrases, relation
phrases and attribute phrases, the items that `cim.shapes.reader` interprets.

Items are pairs (kind, value):
  ("np", NounPhrase)          a shape, a generic noun ("shapes"), a frame noun ("image") or a pronoun
  ("rel", RelationPhrase)     "to the upper left of", "higher than", "next to", "to its right", ...
  ("pred", (attributes, collective))   after a copula: "is red and large"; collective: "All red."
  ("post", attributes)        attributes after a noun: "in green", "coloured red", "(red, large)"
  ("cop", word) ("link", word) ("and", word) ("break", "relative"|"clause"|"with") ("both", word)
  ("ellipsis", word)          "and so is the star": the previous clause again, for a new subject
  ("order", relation word)    "from left to right", "top to bottom"
  ("other", word)             a word the reader does not know
A negation is folded into the next noun phrase, relation phrase or adjective it governs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cim.shapes.lexicon import PREPOSITIONS, Token

Attribute = tuple[str, str]
Item = tuple[str, object]
_SKIP_IN_RELATION = {"FILL", "DET", "IGNORE"}
_TERMINATORS = {"OF", "THAN", "FROM"}
_NOUNS = {"SHAPE", "GENERIC", "FRAME", "PRON", "POSSPRON"}
_IMPLYING = {"to", "further", "farther", "more"}
_NO_OBJECT = {None, "AND", "OR", "LINK", "RPAR", "COP", "RELPRON", "CLAUSE", "WITH"}
"""What may follow a preposition used as an adverb ("the star is below, the circle above")."""
"""Fillers that make an object-less relation comparative ("and further to the right")."""


@dataclass
class NounPhrase:
    """A noun with its attributes. kind: "shape", "generic", "frame" or "pronoun" ("it"/"they")."""

    kind: str
    shape: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    negated: bool = False
    plural: bool = False
    pronoun: str | None = None
    uncertain: bool = False  # joined by "or": its relations are not stated


@dataclass
class RelationPhrase:
    """Relation words of one phrase ((): a position word that states no relation, like "near").

    complete: the phrase takes an object ("left of", "above"); an incomplete one ("to the right")
    is kept only when `implied`, i.e. comparative, so that it can share the previous object.
    possessor: the object named inside the phrase ("to its left", "on the square's right").
    """

    words: tuple[str, ...]
    complete: bool = True
    implied: bool = False
    negated: bool = False
    possessor: NounPhrase | None = None


def _merge_directions(atoms: list[tuple[str, ...]]) -> tuple[str, ...]:
    """Relation words of direction atoms, in order, each once ("left of and right of" keeps both)."""
    return tuple(dict.fromkeys(w for atom in atoms for w in atom))


class _Chunker:
    """Left-to-right grouping of one sentence's tokens into items (see the module docstring)."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.items: list[Item] = []
        self.pending: list[Attribute] = []
        self.negate = False

    def tag(self, i: int) -> str | None:
        return self.tokens[i].tag if 0 <= i < len(self.tokens) else None

    def skip(self, i: int, tags: set[str]) -> int:
        while self.tag(i) in tags:
            i += 1
        return i

    def take_negation(self) -> bool:
        negated, self.negate = self.negate, False
        return negated

    def emit(self, kind: str, value: object = None) -> None:
        self.items.append((kind, value))

    def run(self) -> list[Item]:
        i = 0
        while i < len(self.tokens):
            i = self.step(i)
        return self.items

    def step(self, i: int) -> int:
        """Read the construct that starts at token i; return the index after it."""
        token = self.tokens[i]
        t = token.tag
        if t == "ADJ":
            return self.adjectives(i)
        if t in _NOUNS or (t == "SHAPEADJ" and self.tag(self.skip(i + 1, {"ADJ", "IGNORE"})) == "GENERIC"):
            return self.noun_phrase(i)
        if t in ("DIR", "NULL") or (
            t == "FILL" and self.tag(self.skip(i, _SKIP_IN_RELATION)) in ("DIR", "NULL")
        ):
            return self.relation(i)
        if t in ("IN", "CLINK", "OF"):
            return self.linked_colour(i)
        if t == "NEG":
            self.negate = True
            return i + 1
        simple = {"COP": "cop", "LINK": "link", "AND": "and", "OR": "and", "ORDER": "order"}
        breaks = {"RELPRON": "relative", "CLAUSE": "clause", "WITH": "with"}
        if t in simple:
            if t in ("AND", "LINK", "OR"):
                self.pending, self.negate = [], self.negate and t == "OR"
            self.emit(simple[t], token.value if t == "ORDER" else token.word)
        elif t in breaks:
            self.pending, self.negate = [], False
            if token.word == "so" and self.tag(i + 1) == "COP":  # "..., and so is the star"
                self.emit("ellipsis", token.word)
                return i + 2
            self.emit("break", breaks[t])
        elif t == "OTHER":
            self.emit("other", token.word)
        elif t == "LPAR":  # "a cross (to its right)": a parenthesis opens an aside, like a comma
            self.emit("and", ",")
        elif token.word == "both":  # "circle and square both above the star"
            self.emit("both", token.word)
        return i + 1

    def skip_filler(self, k: int) -> int:
        """Skip relation fillers and counted steps ("two rows", "one column") inside a relation."""
        while True:
            k = self.skip(k, _SKIP_IN_RELATION)
            if self.tag(k) in ("NUM", "DET") and self.tag(k + 1) == "FRAME" and self.tag(k + 2) != "OF":
                k += 2
                continue
            return k

    # --- attributes ---------------------------------------------------------------------------
    def adjective_list(self, i: int) -> tuple[list[Attribute], int]:
        """Adjectives from i joined by and/commas ("red, large and round"; "red in colour")."""
        attributes: list[Attribute] = []
        negated = self.take_negation()
        while True:
            t = self.tag(i)
            if t == "ADJ":
                if not negated:
                    attributes.append(self.tokens[i].value)  # type: ignore[arg-type]
                negated = False
                i += 1
            elif t == "NEG":
                negated, i = True, i + 1
            elif t in ("CLINK", "ATTRNOUN", "IGNORE") or (t == "IN" and self.tag(i + 1) == "ATTRNOUN"):
                i += 1
            elif t == "AND" and self.tag(self.skip(i + 1, {"NEG", "IGNORE"})) == "ADJ":
                i += 1
            else:
                return attributes, i

    def previous(self, i: int, skip: set[str]) -> str | None:
        """Tag of the nearest token before i whose tag is not in `skip`."""
        j = i - 1
        while j >= 0 and self.tokens[j].tag in skip:
            j -= 1
        return self.tag(j)

    def adjectives(self, i: int) -> int:
        """Adjectives before a noun (kept pending), after a copula (a predicate), or after a noun."""
        before = self.previous(i, {"IGNORE", "NEG", "ALL"})
        if before == "APOS_S" and self.items and self.items[-1][0] == "cop":  # "the triangle's small"
            before = "COP"
        # "All yellow.", "Objects (all small):" state a value of every shape
        collective = self.previous(i, {"IGNORE", "NEG"}) == "ALL" and before in (None, "LPAR", "GENERIC")
        attributes, j = self.adjective_list(i)
        noun_follows = self.tag(self.skip(j, {"DET", "IGNORE"})) in ("SHAPE", "GENERIC", "SHAPEADJ", "FRAME")
        if before in ("COP", "LINK") or collective:
            ands = [p for p in range(i, j) if self.tag(p) == "AND"]
            if not noun_follows:
                self.emit("pred", (attributes, collective))
                return j
            if ands:  # "is large and red circles": predicative up to the last "and"
                head = [self.tokens[p].value for p in range(i, ands[-1]) if self.tag(p) == "ADJ"]
                self.emit("pred", (head, False))
                self.emit("and", "and")
                return ands[-1] + 1
        if noun_follows:
            self.pending += attributes
        elif self.previous(i, {"AND", "LPAR", "IGNORE"}) in ("SHAPE", "GENERIC", "PRON") and self.items:
            self.emit("post", attributes)
        elif self.tag(j - 1) == "ATTRNOUN" and self.items:  # "(has) a blue colour", "of small size"
            self.emit("post", attributes)
        return j

    def linked_colour(self, i: int) -> int:
        """ "in green", "coloured red", "in the colour red", "of red colour" after a noun: a "post"."""
        j = self.skip(i + 1, {"DET", "IGNORE", "ATTRNOUN", "OF", "IN"})
        token = self.tokens[j] if j < len(self.tokens) else None
        if token is None or token.tag != "ADJ":
            return i + 1
        if self.tag(i) == "OF" and self.tag(self.skip(j + 1, {"ADJ", "AND"})) != "ATTRNOUN":
            return i + 1
        if self.tag(i) != "OF" and token.value[0] != "colour":  # type: ignore[index]
            return i + 1
        if self.tag(self.skip(j + 1, {"IGNORE"})) in ("SHAPE", "GENERIC"):  # "a red-coloured circle"
            return j
        attributes, end = self.adjective_list(j)
        self.emit("post", attributes)
        return end

    # --- noun phrases -------------------------------------------------------------------------
    def noun_phrase(self, i: int) -> int:
        """A noun with the pending adjectives before it; possessives may make a relation phrase."""
        token = self.tokens[i]
        phrase = NounPhrase("shape", negated=self.take_negation())
        phrase.attributes, self.pending = self.pending, []
        if token.tag == "SHAPEADJ":
            i = self.skip(i + 1, {"ADJ", "IGNORE"})
            phrase.shape = token.value  # type: ignore[assignment]
        elif token.tag == "SHAPE":
            phrase.shape, phrase.plural = token.value  # type: ignore[misc]
            if self.tag(i + 1) == "OTHER" and self.tokens[i + 1].word == "shaped":
                i += 1
            if self.tag(i + 1) == "GENERIC":  # "star shape", "plus sign"
                i += 1
        elif token.tag == "GENERIC":  # "every shape" means all of them
            every = i > 0 and self.tokens[i - 1].word in ("every", "each", "all", "both")
            phrase.kind, phrase.plural = "generic", bool(token.value) or every
        elif token.tag == "FRAME":
            phrase.kind = "frame"
        else:
            phrase.kind, phrase.pronoun = "pronoun", token.value  # type: ignore[assignment]
        if phrase.negated and self.tag(i + 1) in ("OR", "NEG"):  # "no triangle or star"
            self.negate = True
        possessive = token.tag == "POSSPRON" or self.tag(i + 1) == "APOS_S"
        if possessive:  # "not to its left": the negation is the relation's, not the possessor's
            self.negate, phrase.negated = phrase.negated, False
            return self.possessive(phrase, i + (token.tag != "POSSPRON") + 1)
        self.emit("np", phrase)
        return i + 1

    def possessive(self, phrase: NounPhrase, j: int) -> int:
        """After "its" / "the square's": a relation ("to its left"), a copula ("'s above") or neither."""
        k = self.skip(j, _SKIP_IN_RELATION)
        atoms: list[tuple[str, ...]] = []
        intensified = self.tag(j) == "IGNORE" and self.tokens[j].word == "right"  # "the star's right above"
        while self.tag(k) == "DIR" and not intensified:
            atoms.append(self.tokens[k].value)  # type: ignore[arg-type]
            k = self.skip(k + 1, _SKIP_IN_RELATION)
        if atoms and self.tag(k) not in _TERMINATORS:
            words = _merge_directions(atoms)
            self.emit("rel", RelationPhrase(words, negated=self.take_negation(), possessor=phrase))
            return k
        phrase.negated = self.take_negation()
        self.emit("np", phrase)
        apostrophe = self.tag(j - 1) == "APOS_S"
        if apostrophe and (atoms or self.tag(j) in ("ADJ", "DET", "FILL", "NEG", "NULL", "DIR", "IGNORE")):
            self.emit("cop", "'s")
        return j

    # --- relation phrases ---------------------------------------------------------------------
    def relation(self, i: int) -> int:
        """A relation phrase: direction atoms joined by and/hyphens/fillers, ended by of/than/from or
        by a preposition; "left or right of" and "neither above nor below" state nothing."""
        negated = self.take_negation()
        fillers = {self.tokens[p].word for p in range(i, self.skip(i, _SKIP_IN_RELATION))}
        segments: list[tuple[list[tuple[str, ...]], bool]] = []  # (atoms, complete)
        atoms: list[tuple[str, ...]] = []
        k = i
        while True:
            k = self.skip_filler(k)
            t = self.tag(k)
            if t == "NULL":
                segments.append(([], True))
                k = self.skip(k + 1, {"FILL"})
                if self.tag(k) in ("OF", "FROM"):
                    k += 1
                atoms = []
            elif t == "DIR":
                atoms.append(self.tokens[k].value)  # type: ignore[arg-type]
                k += 1
                if self.tokens[k - 1].word in PREPOSITIONS and self.tag(k) not in _TERMINATORS:
                    if self.tag(self.skip(k, _SKIP_IN_RELATION | {"LINK"})) != "DIR":
                        segments.append((atoms, True))
                        atoms = []
                continue
            elif t in _TERMINATORS and atoms:
                segments.append((atoms, True))
                atoms, k = [], k + 1
            elif t == "LINK" and atoms and self.tag(k + 1) == "DIR":
                k += 1
                continue
            run = k
            while self.tag(run) in ("AND", "OR") or (
                self.tag(run) == "NEG" and self.tokens[run].word == "nor"
            ):
                run += 1
            connectors = [self.tokens[p] for p in range(k, run)]
            after = self.tag(self.skip_filler(run))
            if not connectors or after not in ("DIR", "NULL"):
                if connectors and connectors[0].word == "," and not atoms and len(segments) > 1:
                    k += 1  # "left of, and above, the square": the comma before the object
                break
            if atoms and any(c.word == "," for c in connectors):  # "on the left, above the star"
                break
            negated = negated or any(c.tag in ("OR", "NEG") for c in connectors)
            k = run
        if atoms:
            segments.append((atoms, False))
        elif segments and self.ends_in_preposition(i, k) and self.tag(k) in _NO_OBJECT:
            segments[-1] = (segments[-1][0], False)  # an adverb: "with a star below, ..."
        return self.emit_relation(segments, negated, fillers, k)

    def ends_in_preposition(self, start: int, end: int) -> bool:
        """Whether the last direction word or terminator in tokens[start:end] is a preposition."""
        last = next((p for p in range(end - 1, start - 1, -1) if self.tag(p) in _TERMINATORS | {"DIR"}), None)
        return last is not None and self.tokens[last].word in PREPOSITIONS

    def emit_relation(self, segments: list, negated: bool, fillers: set[str], end: int) -> int:
        """Emit the complete part of a relation phrase, or an incomplete comparative one."""
        last_complete = max((n for n, (_, done) in enumerate(segments) if done), default=-1)
        if last_complete >= 0:
            atoms = [a for seg, _ in segments[: last_complete + 1] for a in seg]
            self.emit("rel", RelationPhrase(_merge_directions(atoms), negated=negated))
        elif segments and fillers & _IMPLYING:
            atoms = [a for seg, _ in segments for a in seg]
            words = _merge_directions(atoms)
            self.emit("rel", RelationPhrase(words, complete=False, implied=True, negated=negated))
        self.pending = []
        return end


def chunk(tokens: list[Token]) -> list[Item]:
    """The items of one sentence's tokens (see the module docstring)."""
    return _Chunker(tokens).run()
