"""Score a captions JSONL file row by row into an output JSONL; bad rows become error records.

Input lines: {"id", "caption", and "image" (path, relative to the file) or "source_id" (gallery id)}.
Output lines: the input's id and line plus the score fields, or an "error" field. Rows are written
as each batch finishes, so a crash loses at most one batch, and `resume` skips lines already written.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cim.errors import InputError
from cim.io import iter_jsonl
from cim.reward.caption_rows import CaptionRow, parse_caption_row, valid_id
from cim.reward.scorer import CIMScorer


def _done_lines(out: Path) -> set[int]:
    done = set()
    for _, record in iter_jsonl(out):
        if isinstance(record, dict) and isinstance(record.get("line"), int):
            done.add(record["line"])
    return done


def _batches(rows: Iterator[CaptionRow | dict[str, Any]], size: int) -> Iterator[list[CaptionRow | dict[str, Any]]]:
    batch: list[CaptionRow | dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if sum(isinstance(r, CaptionRow) for r in batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def check_output_path(captions: Path, out: Path) -> None:
    """Refuse an output path that is the input file (through links too): writing it would destroy the input."""
    captions, out = Path(captions), Path(out)
    same = os.path.samefile(captions, out) if captions.exists() and out.exists() else captions.resolve() == out.resolve()
    if same:
        raise InputError("--out is the captions file itself; choose another output path", source=str(out))


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
    check_output_path(captions, out)
    done = _done_lines(out) if resume and out.is_file() else set()

    def rows() -> Iterator[CaptionRow | dict[str, Any]]:
        for line, value in iter_jsonl(captions):
            if line in done:
                continue
            try:
                yield parse_caption_row(captions, line, value, scorer.gallery)
            except InputError as error:
                row_id = value.get("id") if isinstance(value, dict) else None
                yield {"id": row_id if valid_id(row_id) else None, "line": line, "error": str(error)}

    batches = _batches(rows(), batch_rows)
    first = next(batches, None)  # the output is opened (and truncated) only once the input has been read this far
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a" if resume else "w", encoding="utf-8") as stream:
        for batch in itertools.chain([first] if first is not None else [], batches):
            _write_batch(scorer, batch, stream)
            if progress:
                progress(len(batch))
    return summarise(out)


def _write_batch(scorer: CIMScorer, batch: list[CaptionRow | dict[str, Any]], stream: Any) -> None:
    """Score a batch's good rows in one call and write every row's record (always valid JSON)."""
    good = [row for row in batch if isinstance(row, CaptionRow)]
    scores = iter(scorer.score([r.caption for r in good], [r.source for r in good]))
    for row in batch:
        record = {"id": row.id, "line": row.line, **next(scores).model_dump()} if isinstance(row, CaptionRow) else row
        stream.write(json.dumps(record, allow_nan=False) + "\n")
    stream.flush()


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
