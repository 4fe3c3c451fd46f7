"""Percentile bootstrap confidence intervals and paired bootstrap tests of mean differences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A mean with its percentile bootstrap confidence interval."""

    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class PairedTest:
    """Mean of (b − a) over paired items, its interval, and a two-sided bootstrap p-value."""

    difference: float
    low: float
    high: float
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05


def _resampled_means(values: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    return values[picks].mean(axis=1)


def bootstrap_interval(values: np.ndarray, resamples: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:
    """Mean and percentile interval; a single value gives a zero-width interval, no values NaN."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    means = _resampled_means(values, resamples, seed)
    tail = (1 - level) / 2
    return Interval(float(values.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail)))


def paired_bootstrap(a: np.ndarray, b: np.ndarray, resamples: int = 2000, level: float = 0.95, seed: int = 0) -> PairedTest:
    """Test mean(b − a) ≠ 0 by resampling items (rows of a and b are the same items)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {len(a)} vs {len(b)}")
    diff = b - a
    means = _resampled_means(diff, resamples, seed)
    tail = (1 - level) / 2
    # Two-sided: how often the resampled mean falls on the other side of zero (with the +1 correction).
    below, above = (np.sum(means <= 0) + 1) / (resamples + 1), (np.sum(means >= 0) + 1) / (resamples + 1)
    return PairedTest(float(diff.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail)),
                      float(min(1.0, 2 * min(below, above))))
