"""Score a captions JSONL file row by row into an output JSONL; bad rows become error records.

Input lines: {"id", "caption", and "image" (path, relative to the file) or "source_id" (gallery id)}.
Output lines: the input's id and line plus the score fields, or an "error" field. Rows are written
as each batch finishes, so a crash loses at most one batch, and `resume` skips lines already written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cim.errors import InputError
from cim.gallery.items import open_image
from cim.io import iter_jsonl
from cim.reward.scorer import CIMScorer
from cim.reward.sources import Source


@dataclass(frozen=True)
class _Row:
    line: int
    id: Any
    caption: str
    source: Source


def _parse(path: Path, line: int, value: dict[str, Any] | InputError, scorer: CIMScorer) -> _Row:
    """A scorable row, or raise the InputError its record should carry."""
    if isinstance(value, InputError):
        raise value
    where = {"source": str(path), "line": line}
    caption = value.get("caption")
    if not isinstance(caption, str) or not caption.strip():
        raise InputError("field 'caption' must be a non-empty string", **where)
    if isinstance(value.get("source_id"), str):
        if value["source_id"] not in scorer.gallery:
            raise InputError(f"unknown source id {value['source_id']!r}: not in the gallery", **where)
        return _Row(line, value.get("id"), caption, value["source_id"])
    if isinstance(value.get("image"), str) and value["image"]:
        image_path = (path.parent / value["image"]).resolve()
        try:
            image = open_image(str(image_path))
        except InputError as error:
            raise InputError(str(error), **where) from error
        return _Row(line, value.get("id"), caption, image)
    raise InputError("needs an 'image' path or a 'source_id'", **where)


def _done_lines(out: Path) -> set[int]:
    done = set()
    for _, record in iter_jsonl(out):
        if isinstance(record, dict) and isinstance(record.get("line"), int):
            done.add(record["line"])
    return done


def _batches(rows: Iterator[_Row | dict[str, Any]], size: int) -> Iterator[list[_Row | dict[str, Any]]]:
    batch: list[_Row | dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if sum(isinstance(r, _Row) for r in batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def score_file(
    scorer: CIMScorer,
    captions: str | Path,
    out: str | Path,
    batch_rows: int = 256,
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Score every row of `captions` into `out`; returns the summary of all records in `out`."""
    captions, out = Path(captions), Path(out)
    if not captions.is_file():
        raise InputError("captions file not found", source=str(captions))
    done = _done_lines(out) if resume and out.is_file() else set()

    def rows() -> Iterator[_Row | dict[str, Any]]:
        for line, value in iter_jsonl(captions):
            if line in done:
                continue
            try:
                yield _parse(captions, line, value, scorer)
            except InputError as error:
                row_id = value.get("id") if isinstance(value, dict) else None
                yield {"id": row_id, "line": line, "error": str(error)}

    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a" if resume else "w", encoding="utf-8") as stream:
        for batch in _batches(rows(), batch_rows):
            good = [row for row in batch if isinstance(row, _Row)]
            scores = iter(scorer.score([r.caption for r in good], [r.source for r in good]))
            for row in batch:
                record = {"id": row.id, "line": row.line, **next(scores).to_dict()} if isinstance(row, _Row) else row
                stream.write(json.dumps(record) + "\n")
            stream.flush()
            if progress:
                progress(len(batch))
    return summarise(out)


def _mean_se(values: list[float]) -> tuple[float, float]:
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = sum(values) / n
    if n == 1:
        return mean, math.nan
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def summarise(out: str | Path) -> dict[str, Any]:
    """Counts, means and standard errors of reward, QIR and GRC over a scored JSONL file."""
    records = [value for _, value in iter_jsonl(Path(out)) if isinstance(value, dict)]
    scored = [r for r in records if "error" not in r]
    summary: dict[str, Any] = {"rows": len(records), "scored": len(scored), "errors": len(records) - len(scored)}
    for field in ("reward", "qir", "grc"):
        summary[f"{field}_mean"], summary[f"{field}_se"] = _mean_se([r[field] for r in scored])
    summary["truncated"] = sum(bool(r["truncated"]) for r in scored)
    summary["tokens_mean"] = _mean_se([r["n_tokens"] for r in scored])[0]
    return summary
