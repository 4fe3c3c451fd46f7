"""Fact extractors: captions → sets of ordered fact tuples, chosen by spec string ("name" or "name:argument").

Every extractor returns, per text, a frozenset of tagged tuples of three kinds:

- ("object", entity)
- ("attribute", entity, value), or ("attribute", entity, kind, value) where the kind is known (shapes)
- ("relation", subject, relation, object), ordered: ("circle", "left of", "square") ≠ ("square", "left of", "circle")

The sets are closed: every entity an attribute or relation names is also an object tuple.
Adding an extractor is one module with a `load(spec, device)` function plus one line in EXTRACTORS.
Entries name modules rather than import them, so checking a spec does not import torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from cim.encoders.registry import split_spec
from cim.errors import OptionError, UnknownNameError

FactTuple = tuple[str, ...]
"""("object", e) | ("attribute", e, [kind,] value) | ("relation", s, r, o)."""

# name → (module holding load(spec, device), how a spec names it; "name:<...>" means an argument is required)
EXTRACTORS: dict[str, tuple[str, str]] = {
    "shapes": ("cim.reward.extractors.shapes", "shapes"),
    "factual": ("cim.reward.extractors.factual", "factual:<hf id or folder>"),
}
DEFAULT_EXTRACTOR = "shapes"


@runtime_checkable
class FactExtractor(Protocol):
    """Texts → one closed frozenset of fact tuples per text (see the module docstring)."""

    spec: str

    def extract(self, texts: Sequence[str]) -> list[frozenset[FactTuple]]: ...


def check_extractor_spec(spec: str) -> str:
    """Return `spec` if it names a fact extractor correctly, else raise naming the valid specs."""
    if not isinstance(spec, str):
        raise OptionError(f"a fact extractor spec must be a string, got {spec!r}")
    name, argument = split_spec(spec)
    if name not in EXTRACTORS:
        raise UnknownNameError("fact extractor", spec, [usage for _, usage in EXTRACTORS.values()], sort=False)
    usage = EXTRACTORS[name][1]
    needs_argument = ":" in usage
    if needs_argument and not argument:
        raise OptionError(f"fact extractor {spec!r} needs a model: {usage!r}")
    if not needs_argument and argument is not None:
        raise OptionError(f"fact extractor {name!r} takes no argument")
    return spec


def load_extractor(spec: str = DEFAULT_EXTRACTOR, device: str | None = None) -> FactExtractor:
    """Load a fact extractor from its spec, e.g. "shapes" or "factual:lizhuang144/flan-t5-base-VG-factual-sg"."""
    check_extractor_spec(spec)
    module = importlib.import_module(EXTRACTORS[split_spec(spec)[0]][0])
    return module.load(spec, device=device)


def tuple_f1(query: frozenset[FactTuple], candidate: frozenset[FactTuple]) -> float:
    """F1 of the candidate's tuples against the query's: 2·|Q ∩ C| / (|Q| + |C|).

    Precision is |Q ∩ C| / |C| and recall |Q ∩ C| / |Q|; when either set is empty the F1 is 0 (nothing
    matches), and when both are empty it is 0 as well, so that re-ranking falls back on the cosine.
    """
    total = len(query) + len(candidate)
    return 2 * len(query & candidate) / total if total else 0.0


__all__ = [
    "DEFAULT_EXTRACTOR",
    "EXTRACTORS",
    "FactExtractor",
    "FactTuple",
    "check_extractor_spec",
    "load_extractor",
    "tuple_f1",
]
