"""Plain progress lines for output that is not a terminal (a log file, `nohup`, CI).

A live bar redraws one line in place, so where stderr is a file it shows nothing until the end. There, long
stages print a line such as `building gallery: 6400/20000 (32%), 65.1/s, ETA 3m29s` at most every
`$CIM_PROGRESS_EVERY` seconds (default 30), and always at a stage's first and last report.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

PROGRESS_EVERY_ENV = "CIM_PROGRESS_EVERY"
DEFAULT_EVERY_S = 30.0


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def progress_line(stage: str, done: int, total: int | None, elapsed: float) -> str:
    """`stage: done/total (p%), rate/s, ETA …`; without a total, `stage: done, rate/s`; no rate at the start."""
    rate = done / elapsed if elapsed > 0 else None
    counts = f"{done}/{total} ({100 * done / total:.0f}%)" if total else f"{done}"
    speed = f", {rate:.2f}/s" if rate is not None else ""
    eta = f", ETA {_duration((total - done) / rate)}" if total and rate and done < total else ""
    return f"{stage}: {counts}{speed}{eta}"


class ProgressLines:
    """A (stage, done, total) callback that writes plain progress lines, at most one per `every` seconds and
    stage, plus each stage's first report and its completion."""

    def __init__(self, stream: TextIO | None = None, every: float | None = None) -> None:
        self.stream = stream
        self.every = float(os.environ.get(PROGRESS_EVERY_ENV, DEFAULT_EVERY_S)) if every is None else every
        self._stage: str | None = None
        self._start = self._last = 0.0

    def __call__(self, stage: str, done: int, total: int | None = None) -> None:
        now = time.monotonic()
        if stage != self._stage:
            self._stage, self._start, self._last = stage, now, float("-inf")
        finished = total is not None and done >= total
        if finished or now - self._last >= self.every:
            self._last = now
            print(progress_line(stage, done, total, now - self._start), file=self.stream or sys.stderr, flush=True)


def on_terminal(stream: TextIO | None = None) -> bool:
    """Whether `stream` (default stderr) is a terminal, where live bars work."""
    stream = stream or sys.stderr
    return hasattr(stream, "isatty") and stream.isatty()
