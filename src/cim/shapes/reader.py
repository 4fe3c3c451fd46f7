"""A rule-based reader of facts from free English over the shapes world: `read_facts`, `read_caption`.

Pipeline: sentences (split on . ! ? ; and newlines) → tagged words (`cim.shapes.lexicon`: every word
list and synonym lives there) → phrases (`cim.shapes.phrases`: noun, relation and attribute phrases)
→ clauses (`cim.shapes.clauses`: which nouns a relation joins, which noun an attribute binds to),
with pronouns and collective values resolved across sentences (`cim.shapes.discourse`).

What it reads:
- objects: shape nouns and synonyms that cannot mean another shape here ("disc", "box", "rhombus",
  "lozenge", "plus sign", "x", ...), plurals, "a star-shaped object", "a circular figure";
- attributes before the noun ("a small, orange circle", "a red-coloured star"), after it ("a cross in
  green", "a circle coloured red", "a square (blue, small)", "the circle, red and large,"), after a
  copula or a relative pronoun ("is red and large", "which is red", "the triangle's small", "red in
  colour"), on a list ("the circle and the star are red and blue"); a trailing "in green" binds to
  the noun before it; "two small shapes: ...", "all yellow", "both are large" give the shapes they
  cover that value unless the caption states another one for them; "and so is the star";
- relations between two shapes: "left of", "to the left of", "on the left side of", "further right
  than", "higher/lower than", "above", "over", "on top of", "below", "under(neath)", "beneath",
  compounds that state two relations ("to the upper left of", "above and to the right of",
  "diagonally up and left from", "below-right of", "south-west of", "one row down and one column to
  the right of"), possessives ("to its left", "on the square's right"), sentences that start with
  the relation ("Above the star is a red circle", "To the left of the square sits a cross", "Below
  it, a green diamond"), coordinated subjects and objects, continued predicates ("left of the square
  and above the star"), relative and reduced relative clauses ("the circle left of the square is
  red"), a comparative that shares the previous object ("lower than the star and further to the
  right"), ordered lists ("from left to right: a circle, a square and a star"; "top to bottom");
- pronouns: see `cim.shapes.discourse` ("it", "its", "that", "they", "the former/latter").
What states nothing: positions in the frame ("in the top left", "at the bottom of the image"),
"next to", "near", "beside", "between", "in the middle", "same row as"; negated or uncertain
relations ("not left of", "neither above nor below", "left or right of", "above the circle or the
square"), "there is no triangle", "not red", comparatives of size ("larger than"); numbers ("There
are 5 shapes"). The result is always closed (see `Facts.closed`).

`read_caption` also says, per sentence, whether it could be read: a sentence that names no shape
(nor "shapes") and no relation, or that has relation words it could not attach ("Left of it.", with
nothing to refer to), is unread; `Reading.unread_share` is their share.

Validated on tests/data/paraphrases.jsonl: 217 captions by eight writers with exact facts, a dev
part and a held-out part written in three batches, each before its first measurement; numbers and
known misses in docs/fact-reader.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from cim.shapes.clauses import UNREAD_NO_CONTENT, UNREAD_UNATTACHED, SentenceReader
from cim.shapes.discourse import Context
from cim.shapes.facts import Facts
from cim.shapes.lexicon import split_sentences, tag
from cim.shapes.phrases import chunk

__all__ = [
    "UNREAD_NO_CONTENT",
    "UNREAD_UNATTACHED",
    "Reading",
    "SentenceReading",
    "read_caption",
    "read_facts",
]


@dataclass(frozen=True)
class SentenceReading:
    """One sentence: its text, the facts it states, and whether it could be read (else why not)."""

    text: str
    facts: Facts
    read: bool
    reason: str = ""


@dataclass(frozen=True)
class Reading:
    """The facts of a caption and its sentences. Collective attributes ("all yellow") count in
    `facts` only, since they bind to shapes named in other sentences."""

    facts: Facts
    sentences: tuple[SentenceReading, ...]

    @property
    def unread(self) -> tuple[int, ...]:
        """Indices of the sentences that could not be read."""
        return tuple(i for i, s in enumerate(self.sentences) if not s.read)

    @property
    def unread_share(self) -> float:
        """Unread sentences / sentences (0.0 for a caption without sentences)."""
        return len(self.unread) / len(self.sentences) if self.sentences else 0.0


def read_caption(text: str) -> Reading:
    """The facts of `text` with one `SentenceReading` per sentence (see the module docstring)."""
    if not isinstance(text, str):
        raise ValueError(f"read_caption needs a str, got {type(text).__name__}")
    context = Context()
    sentences = []
    for sentence in split_sentences(text):
        facts, read, reason = SentenceReader(chunk(tag(sentence)), context).read()
        sentences.append(SentenceReading(sentence, facts, read, reason))
    facts = Facts().union(*(s.facts for s in sentences))
    return Reading(context.with_collective(facts), tuple(sentences))


def read_facts(text: str) -> Facts:
    """All facts that `text` states over the shapes vocabulary (see the module docstring)."""
    if not isinstance(text, str):
        raise ValueError(f"read_facts needs a str, got {type(text).__name__}")
    return read_caption(text).facts
