"""Fact tuples of gallery captions, extracted lazily and memoised (a 1M-row gallery is never parsed whole)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from cim.gallery.store import Gallery
from cim.reward.extractors import FactExtractor, FactTuple


class GalleryFacts:
    """Each gallery row's caption tuples, extracted the first time the row is asked for, kept for the object's life."""

    def __init__(self, gallery: Gallery, extractor: FactExtractor) -> None:
        self.gallery = gallery
        self.extractor = extractor
        self._tuples: dict[int, frozenset[FactTuple]] = {}  # gallery row → its caption's tuples
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Rows extracted so far."""
        return len(self._tuples)

    def rows(self, rows: Sequence[int]) -> dict[int, frozenset[FactTuple]]:
        """Tuples of these gallery rows; rows seen for the first time are extracted in one call."""
        with self._lock:
            missing = sorted({r for r in rows if r not in self._tuples})
            if missing:
                captions = self.gallery.captions
                self._tuples.update(zip(missing, self.extractor.extract([captions[r] for r in missing])))
            return {r: self._tuples[r] for r in rows}
