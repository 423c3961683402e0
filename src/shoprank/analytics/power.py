"""How many sessions an experiment needs: power by resampling logged sessions.

Given what each session of a finished experiment produced, draw ``n`` sessions with
replacement many times, run the experiment's test on each draw, and report the share of
draws with p below the level (the power at ``n``). The smallest ``n`` with power ≥ 0.8 is
the number of sessions the experiment needed (beyond the logged number it extrapolates,
as any bootstrap power estimate does).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

from shoprank.analytics.stats import sign_test


def interleaving_power(per_session: Sequence[tuple[int, int]], n: int, resamples: int = 500,
                       level: float = 0.01, seed: int = 0) -> float:
    """``per_session``: (pages won by control, pages won by treatment) of each session; each
    session prefers the arm that won more of its pages, and the sign test counts sessions
    (a session's pages share one shopper, so they are not independent trials)."""
    wins = np.asarray(per_session, dtype=np.int64).reshape(-1, 2)
    if not len(wins):
        return 0.0
    pref = np.sign(wins[:, 1] - wins[:, 0])
    rng = np.random.default_rng(seed)
    draws = pref[rng.integers(0, len(pref), size=(resamples, n))]
    a, b = (draws < 0).sum(axis=1), (draws > 0).sum(axis=1)
    return float(np.mean([sign_test(int(x), int(y)) < level for x, y in zip(a, b)]))


def ab_power(control: Sequence[float], treatment: Sequence[float], n: int, resamples: int = 500,
             level: float = 0.01, seed: int = 0) -> float:
    """``control``/``treatment``: one value per session (shopper) in each arm; ``n`` sessions
    are split evenly between the arms, as a 50/50 split would; Welch's t-test."""
    a, b = np.asarray(control, float), np.asarray(treatment, float)
    half = n // 2
    if half < 2 or len(a) < 2 or len(b) < 2:
        return 0.0
    rng = np.random.default_rng(seed)
    xa = a[rng.integers(0, len(a), size=(resamples, half))]
    xb = b[rng.integers(0, len(b), size=(resamples, n - half))]
    with np.errstate(invalid="ignore", divide="ignore"):
        p = stats.ttest_ind(xa, xb, axis=1, equal_var=False).pvalue
    return float(np.mean(np.nan_to_num(p, nan=1.0) < level))


def sessions_needed(power: Callable[[int], float], grid: Sequence[int], target: float = 0.8) -> tuple[int | None,
                                                                                                   dict[int, float]]:
    """The smallest ``n`` in ``grid`` whose power reaches ``target`` (None: none does), and
    the power at every ``n`` tried."""
    curve: dict[int, float] = {}
    for n in sorted(grid):
        curve[n] = power(n)
        if curve[n] >= target:
            return n, curve
    return None, curve
