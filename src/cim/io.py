"""Reading JSONL input with line-numbered errors, and atomic writes."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from cim.errors import InputError


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any] | InputError]]:
    """Yield (line number, parsed object or the error for that line); blank lines are skipped.

    Errors are yielded, not raised, so one bad line does not lose the others.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", source=str(path))
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                yield number, InputError(f"not UTF-8 text ({error.reason} at byte {error.start})", source=str(path), line=number)
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                yield number, InputError(f"malformed JSON: {error.msg} (column {error.colno})", source=str(path), line=number)
                continue
            if not isinstance(value, dict):
                yield number, InputError(f"expected a JSON object, got {type(value).__name__}", source=str(path), line=number)
                continue
            yield number, value


def read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """All (line number, object) pairs of a JSONL file; the first bad line raises."""
    rows = []
    for number, value in iter_jsonl(path):
        if isinstance(value, InputError):
            raise value
        rows.append((number, value))
    return rows


@contextmanager
def atomic_write(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write to a temporary file beside `path`, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
    try:
        with os.fdopen(handle, mode) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path, value: Any) -> None:
    """Atomically write pretty JSON."""
    with atomic_write(path) as stream:
        json.dump(value, stream, indent=2, sort_keys=True)
        stream.write("\n")
