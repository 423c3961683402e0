"""Significance for online experiments: sign test, bootstrap, Welch's t-test, and a readout record.

- Sign test: exact two-sided binomial test of wins vs losses at p = 0.5 (ties dropped), the usual test
  for interleaving preferences (Chapelle, Joachims, Radlinski & Yue, TOIS 2012).
- Bootstrap: percentile confidence interval of the mean and a shifted-null p-value (Efron & Tibshirani,
  "An Introduction to the Bootstrap", 1993, ch. 13 and 16.4).
- Welch's unequal-variance t-test (Welch, Biometrika 1947) for A/B metrics per user or per session.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

_CHUNK_CELLS = 2_000_000  # resampled values held at once: bounds memory whatever the sample size


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact binomial p of ``wins`` out of ``wins + losses`` at 0.5; 1.0 with no decided trials."""
    if wins < 0 or losses < 0:
        raise ValueError(f"wins and losses must be >= 0, got {wins}, {losses}")
    if wins + losses == 0:
        return 1.0
    return float(stats.binomtest(wins, wins + losses, 0.5).pvalue)


def _as_sample(values: Sequence[float] | np.ndarray) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        raise ValueError("need at least one value")
    return x


def _bootstrap_means(x: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """Means of ``n_resamples`` resamples with replacement, drawn in chunks of at most ``_CHUNK_CELLS`` values."""
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_CELLS // x.size)
    out = np.empty(n_resamples)
    for start in range(0, n_resamples, chunk):
        m = min(chunk, n_resamples - start)
        out[start:start + m] = x[rng.integers(0, x.size, size=(m, x.size))].mean(axis=1)
    return out


def bootstrap_mean_ci(values: Sequence[float] | np.ndarray, n_resamples: int = 10_000, alpha: float = 0.05,
                      seed: int = 0) -> tuple[float, float, float]:
    """(mean, lo, hi): the sample mean and its percentile bootstrap ``1 - alpha`` interval."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    x = _as_sample(values)
    means = _bootstrap_means(x, n_resamples, seed)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(x.mean()), float(lo), float(hi)


def bootstrap_p(values: Sequence[float] | np.ndarray, n_resamples: int = 10_000, seed: int = 0) -> float:
    """Two-sided p of "mean == 0" by the shift method.

    The sample is shifted to mean 0 (the null holds, the spread is kept) and resampled; p is the share of
    resampled means at least as far from 0 as the observed one, with the +1 correction so it is never 0.
    """
    x = _as_sample(values)
    observed = abs(float(x.mean()))
    null = _bootstrap_means(x - x.mean(), n_resamples, seed)
    # A little slack so float noise in a zero-spread null does not count as "as extreme".
    extreme = int(np.count_nonzero(np.abs(null) >= observed - 1e-12 * max(1.0, observed)))
    return (1 + extreme) / (1 + n_resamples)


def welch_test(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """(mean(b) - mean(a), two-sided p) by Welch's t-test.

    p is 1.0 when a side has fewer than 2 values, or both sides are constant and equal; both constant
    and different gives 0.0 (the t statistic is infinite). The delta is nan when a side is empty.
    """
    x = np.asarray(a, dtype=float).ravel()
    y = np.asarray(b, dtype=float).ravel()
    delta = float(y.mean() - x.mean()) if x.size and y.size else math.nan
    if x.size < 2 or y.size < 2:
        return delta, 1.0
    if np.ptp(x) == 0 and np.ptp(y) == 0:  # scipy warns and returns nan here
        return delta, 1.0 if delta == 0 else 0.0
    p = stats.ttest_ind(x, y, equal_var=False).pvalue
    return delta, float(p)


@dataclass(frozen=True)
class Readout:
    """One metric's result in an experiment: ``delta`` is treatment minus control."""

    metric: str
    control: float
    treatment: float
    delta: float
    ci: tuple[float, float]
    p_value: float
    n_control: int
    n_treatment: int
    test: str

    def significant(self, level: float = 0.01) -> bool:
        """Whether p is below ``level``; the strict 0.01 default allows for checking many metrics at once."""
        return self.p_value < level
