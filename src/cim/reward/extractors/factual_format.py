"""Reading the text a FACTUAL scene-graph parser generates into fact tuples (pure Python, no model).

The FACTUAL flan-t5 parsers (Li et al., ACL 2023; `lizhuang144/flan-t5-base-VG-factual-sg`, the parser
CAPTURE uses) are prompted with "Generate Scene Graph: <caption>" and write facts in parentheses joined by
" , ", e.g. "( man , ride , horse ) , ( horse , is , brown ) , ( boys , is , 2 ) , ( pole )". The format
follows the FACTUAL release (its training data `data/factual_sg/*.csv` and `factual_scene_graph/utils.py`,
`parser/scene_graph_parser.py`): a triple whose predicate is "is" is an attribute (a number there is a
count), any other triple a relation, a lone "( entity )" an object.

Rules of `parse_factual` (every element lower-cased, stripped, inner whitespace collapsed):
- an echoed "Generate Scene Graph:" prefix is dropped, and so are the node markers of the FACTUAL-ID
  models ("v:", "pv:" before a word, ":<digits>" after one);
- facts are the pieces between closing brackets, each starting after its last "(" (or, where that bracket
  is missing, after the separating commas), so missing or doubled brackets and odd spacing
  ("(man,ride,horse)", "man , ride , horse ) , ( horse , is , brown") still read;
- a piece splits on commas into parts: 3 non-empty parts are (s, "is", value) → an attribute (counts
  included: ("attribute", "boys", "2")) or (s, r, o) → a relation; 1 part is an object; any other shape
  (2 parts of a triple cut short, more than 3, an empty part) keeps only its first part as an object, and a
  piece without a first part ("( , is , red )", "( )") states nothing;
- when the generation was cut at its token limit (`truncated=True`), the unfinished last piece keeps only
  its first part as an object, as the FACTUAL release does;
- duplicates collapse (a set), and every entity an attribute or relation names is also an object.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

FactTuple = tuple[str, ...]

PROMPT = "Generate Scene Graph: "
_ID_MARKERS = re.compile(r"\b(?:pv|v):|:\d+\b")
_EDGE = " \t\r\n[]{}"


def _norm(part: str) -> str:
    return " ".join(part.lower().split())


def _pieces(text: str, truncated: bool) -> list[tuple[list[str], bool]]:
    """(parts, finished) per fact: the pieces between closing brackets, split on commas."""
    chunks = text.split(")")
    pieces = []
    for i, chunk in enumerate(chunks):
        # A fact starts after its "("; where that bracket is missing, after the separating commas.
        chunk = chunk.rsplit("(", 1)[1] if "(" in chunk else chunk.strip(" \t\r\n,")
        parts = [_norm(p) for p in chunk.strip(_EDGE).split(",")]
        if any(parts):
            pieces.append((parts, not (truncated and i == len(chunks) - 1)))
    return pieces


def parse_factual(text: str, truncated: bool = False) -> frozenset[FactTuple]:
    """The fact tuples of one FACTUAL output string (see the module docstring for the rules)."""
    text = text.strip()
    if text.lower().startswith(PROMPT.strip().lower()):
        text = text[len(PROMPT.strip()) :]
    text = _ID_MARKERS.sub("", text)
    facts: set[FactTuple] = set()
    for parts, finished in _pieces(text, truncated):
        if not parts[0]:
            continue  # no subject: nothing to attach the rest to
        if finished and len(parts) == 3 and all(parts):
            subject, predicate, obj = parts
            if predicate == "is":
                facts.add(("attribute", subject, obj))
            else:
                facts |= {("relation", subject, predicate, obj), ("object", obj)}
        facts.add(("object", parts[0]))
    return frozenset(facts)


def merge(sets: Iterable[frozenset[FactTuple]]) -> frozenset[FactTuple]:
    """The union of the fact sets of a caption's sentences (entities unify by name)."""
    return frozenset().union(*sets)
