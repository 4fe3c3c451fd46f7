"""One row of a captions JSONL: {"id", "caption", and "image" (path, relative to the file) or "source_id"}."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cim.errors import InputError
from cim.gallery.items import open_image
from cim.gallery.store import Gallery
from cim.reward.sources import Source


@dataclass(frozen=True)
class CaptionRow:
    line: int
    id: Any
    caption: str
    source: Source  # a gallery id, or the decoded image
    source_id: str | None  # the gallery id when the source is in the gallery


def valid_id(value: Any) -> bool:
    """Whether a row id can be echoed back: a string or an integer (absent is allowed too)."""
    return value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def parse_caption_row(path: Path, line: int, value: dict[str, Any] | InputError, gallery: Gallery) -> CaptionRow:
    """A scorable row, or raise the InputError (naming file and line) that its record should carry."""
    if isinstance(value, InputError):
        raise value
    where = {"source": str(path), "line": line}
    if not valid_id(value.get("id")):
        raise InputError(f"field 'id' must be a string or an integer, got {value['id']!r}", **where)
    caption = value.get("caption")
    if not isinstance(caption, str) or not caption.strip():
        raise InputError("field 'caption' must be a non-empty string", **where)
    source_id = value.get("source_id")
    if isinstance(source_id, str):
        if source_id not in gallery:
            raise InputError(f"unknown source id {source_id!r}: not in the gallery", **where)
        return CaptionRow(line, value.get("id"), caption, source_id, source_id)
    if isinstance(value.get("image"), str) and value["image"]:
        try:
            image = open_image(str((path.parent / value["image"]).resolve()))
        except InputError as error:
            raise InputError(str(error), **where) from error
        return CaptionRow(line, value.get("id"), caption, image, None)
    raise InputError("needs an 'image' path or a 'source_id'", **where)
