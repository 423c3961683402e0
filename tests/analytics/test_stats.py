from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from shoprank.analytics.stats import Readout, bootstrap_mean_ci, bootstrap_p, sign_test, welch_test


def test_sign_test_known_values():
    assert sign_test(10, 0) == pytest.approx(2 / 1024)
    assert sign_test(0, 10) == pytest.approx(2 / 1024)
    assert sign_test(0, 0) == 1.0
    assert sign_test(5, 5) == pytest.approx(1.0)
    assert sign_test(60, 40) == pytest.approx(stats.binomtest(60, 100).pvalue)
    with pytest.raises(ValueError):
        sign_test(-1, 3)


def test_bootstrap_ci_contains_true_mean_and_is_reproducible():
    x = np.random.default_rng(1).normal(2.0, 1.0, 400)
    mean, lo, hi = bootstrap_mean_ci(x, seed=5)
    assert mean == pytest.approx(x.mean())
    assert lo < 2.0 < hi and lo < mean < hi
    # Close to the normal-theory interval: half-width 1.96 * s / sqrt(n).
    assert (hi - lo) / 2 == pytest.approx(1.96 * x.std(ddof=1) / 20, rel=0.1)
    assert bootstrap_mean_ci(x, seed=5) == (mean, lo, hi)
    assert bootstrap_mean_ci([3.0]) == (3.0, 3.0, 3.0)
    with pytest.raises(ValueError):
        bootstrap_mean_ci([])


def test_bootstrap_ci_chunks_large_samples(monkeypatch):
    import shoprank.analytics.stats as st

    monkeypatch.setattr(st, "_CHUNK_CELLS", 1000)  # forces many chunks of 3 resamples for n = 300
    x = np.random.default_rng(2).exponential(1.0, 300)
    mean, lo, hi = st.bootstrap_mean_ci(x, n_resamples=2000)
    assert lo < 1.0 < hi and hi - lo < 0.5


def test_bootstrap_p():
    rng = np.random.default_rng(4)
    assert bootstrap_p(rng.normal(0.5, 1.0, 200)) < 0.001
    assert bootstrap_p(np.array([-1.0, 1.0, -2.0, 2.0])) == 1.0
    assert bootstrap_p([0.3, 0.3, 0.3], n_resamples=99) == 0.01  # no spread: only the +1 term
    x = rng.normal(0.15, 1.0, 300)
    p = bootstrap_p(x, n_resamples=5000, seed=1)
    assert p * 5001 == pytest.approx(round(p * 5001))  # a count over 5000 resamples, +1 corrected
    assert p == pytest.approx(stats.ttest_1samp(x, 0.0).pvalue, abs=0.02)  # agrees with the t-test here


def test_welch_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.0, 1.0, 50), rng.normal(0.5, 3.0, 80)
    delta, p = welch_test(a, b)
    assert delta == pytest.approx(b.mean() - a.mean())
    assert p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)


def test_welch_degenerate_cases():
    assert welch_test([1.0], [1.0, 2.0, 3.0]) == (1.0, 1.0)
    assert welch_test([2.0, 2.0], [2.0, 2.0, 2.0]) == (0.0, 1.0)
    assert welch_test([1.0, 1.0], [2.0, 2.0]) == (1.0, 0.0)
    delta, p = welch_test([], [1.0, 2.0])
    assert math.isnan(delta) and p == 1.0


def test_readout_significant():
    r = Readout("ctr", 0.10, 0.11, 0.01, (0.004, 0.016), 0.003, 1000, 1000, "welch")
    assert r.significant() and not r.significant(level=0.001)
    assert not Readout("ctr", 0.1, 0.1, 0.0, (-0.01, 0.01), 0.2, 10, 10, "welch").significant(0.05)
