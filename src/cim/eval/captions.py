"""Caption files for evaluation: every row valid, ids unique, optionally all from one shapes split."""

from __future__ import annotations

from pathlib import Path

from cim.errors import CIMError, InputError
from cim.gallery.store import Gallery
from cim.io import iter_jsonl
from cim.reward.caption_rows import CaptionRow, parse_caption_row


def read_eval_captions(path: Path, gallery: Gallery, split: str | None = None) -> list[CaptionRow]:
    """All rows of a captions JSONL; the first bad row raises an error naming file and line."""
    from cim.shapes import scene_from_id

    path = Path(path)
    if not path.is_file():
        raise InputError("captions file not found", source=str(path))
    rows: list[CaptionRow] = []
    first_line: dict[str, int] = {}
    for line, value in iter_jsonl(path):
        row = parse_caption_row(path, line, value, gallery)
        if not isinstance(row.id, str) or not row.id:
            raise InputError("field 'id' must be a non-empty string", source=str(path), line=line)
        if row.id in first_line:
            raise InputError(f"duplicate id {row.id!r} (first on line {first_line[row.id]})", source=str(path), line=line)
        first_line[row.id] = line
        if split is not None:
            try:
                scene_split = scene_from_id(row.id).id.split("-")[1]
            except CIMError as error:
                raise InputError(f"id {row.id!r} is not a shapes scene id ({error})", source=str(path), line=line) from None
            if scene_split != split:
                raise InputError(f"id {row.id!r} is from split {scene_split!r}, expected {split!r}", source=str(path), line=line)
        rows.append(row)
    if not rows:
        raise InputError("no captions", source=str(path))
    return rows


def shapes_ids(rows: list[CaptionRow]) -> bool:
    """Whether every row's id names a shapes scene (so fact metrics apply)."""
    from cim.shapes import scene_from_id

    try:
        for row in rows:
            scene_from_id(row.id)
    except CIMError:
        return False
    return True
