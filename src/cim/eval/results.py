"""Typed results of `cim eval`: per-file metric intervals and paired comparisons (JSON through pydantic)."""

from __future__ import annotations

from pydantic import BaseModel

from cim.reward.options import ScorerOptions


class Interval(BaseModel):
    """A metric's mean over captions with its 95% bootstrap interval, over n captions."""

    mean: float
    low: float
    high: float
    n: int


class Difference(BaseModel):
    """Mean of (candidate − baseline) over paired captions, its 95% interval and two-sided p-value."""

    difference: float
    low: float
    high: float
    p_value: float
    significant: bool


class Comparison(BaseModel):
    """A caption file against the first one (the baseline), metric by metric."""

    baseline: str
    candidate: str
    metrics: dict[str, Difference]


class Evaluation(BaseModel):
    """Everything `cim eval` measured: the scorer's options, each file's metrics, the paired comparisons."""

    reward: ScorerOptions
    gallery: str
    resamples: int
    files: dict[str, dict[str, Interval]]
    comparisons: list[Comparison] = []
    capture_skipped: str | None = None  # why CAPTURE did not run, when references were given
