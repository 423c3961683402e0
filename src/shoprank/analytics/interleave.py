"""Team-draft interleaving: compare two rankers on one results page per search.

Team draft (Radlinski, Kurup & Joachims, "How does clickthrough data reflect retrieval quality?",
CIKM 2008): the two rankers take turns, like captains picking teams, each adding its best product not
yet on the page; the team with fewer picks goes next and a coin decides ties. A search is credited to
the team whose products got more clicks (Chapelle, Joachims, Radlinski & Yue, "Large-scale validation
and analysis of interleaved search evaluation", TOIS 2012); equal clicks, none included, is a tie.
Interleaving needs far fewer searches than an A/B test to detect the same difference, because both
rankers are judged by the same shopper on the same page.
"""
from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from shoprank.analytics.stats import bootstrap_mean_ci, sign_test


def team_draft(a: Sequence[str], b: Sequence[str], k: int,
               rng: random.Random) -> tuple[list[str], list[str]]:
    """Interleave rankings ``a`` and ``b`` into at most ``k`` ids; returns (ids, team of each position)."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    ranked = {"a": a, "b": b}
    cursor = {"a": 0, "b": 0}
    picks = {"a": 0, "b": 0}
    used: set[str] = set()
    ids: list[str] = []
    teams: list[str] = []

    def next_free(team: str) -> str | None:
        ranking, i = ranked[team], cursor[team]
        while i < len(ranking) and ranking[i] in used:
            i += 1
        cursor[team] = i
        return ranking[i] if i < len(ranking) else None

    while len(ids) < k:
        if picks["a"] != picks["b"]:
            team = "a" if picks["a"] < picks["b"] else "b"
        else:
            team = "a" if rng.random() < 0.5 else "b"
        item = next_free(team)
        if item is None:  # this ranker is exhausted: the other keeps picking
            team = "b" if team == "a" else "a"
            item = next_free(team)
            if item is None:
                break
        used.add(item)
        ids.append(item)
        teams.append(team)
        picks[team] += 1
    return ids, teams


def credit(teams: Sequence[str], clicked_positions: Iterable[int]) -> str | None:
    """The team ("a" or "b") with more clicks on its products, or None on a tie; positions are 1-based.

    Repeated positions count once; positions outside the page are ignored.
    """
    clicks = {"a": 0, "b": 0}
    for pos in set(clicked_positions):
        if 1 <= pos <= len(teams):
            clicks[teams[pos - 1]] += 1
    if clicks["a"] == clicks["b"]:
        return None
    return "a" if clicks["a"] > clicks["b"] else "b"


@dataclass
class InterleavingResult:
    """Win/loss/tie counts over interleaved searches.

    ``delta = (wins_b - wins_a) / n``: positive means ``b`` is better. It is twice Chapelle et al.'s
    ``Delta_AB = (wins_A + ties / 2) / n - 1/2`` with the sides swapped, i.e. ``-2 * Delta_AB``; it is
    also the mean of the per-search outcomes +1 (b), -1 (a), 0 (tie), which is what
    :meth:`bootstrap_ci` resamples.
    """

    wins_a: int
    wins_b: int
    ties: int

    @property
    def n(self) -> int:
        return self.wins_a + self.wins_b + self.ties

    @property
    def delta(self) -> float:
        return (self.wins_b - self.wins_a) / self.n if self.n else 0.0

    @property
    def p_value(self) -> float:
        """Sign test on wins vs losses; ties carry no preference and are left out."""
        return sign_test(self.wins_a, self.wins_b)

    def outcomes(self) -> np.ndarray:
        return np.concatenate([np.ones(self.wins_b), -np.ones(self.wins_a), np.zeros(self.ties)])

    def bootstrap_ci(self, seed: int = 0, n_resamples: int = 10_000, alpha: float = 0.05) -> tuple[float, float]:
        """Percentile bootstrap interval of :attr:`delta`; (0.0, 0.0) with no searches."""
        if not self.n:
            return 0.0, 0.0
        _, lo, hi = bootstrap_mean_ci(self.outcomes(), n_resamples=n_resamples, alpha=alpha, seed=seed)
        return lo, hi


def tally(outcomes: Iterable[str | None]) -> InterleavingResult:
    """Count :func:`credit` outcomes."""
    counts = {"a": 0, "b": 0, None: 0}
    for o in outcomes:
        if o not in counts:
            raise ValueError(f"outcome must be 'a', 'b' or None, got {o!r}")
        counts[o] += 1
    return InterleavingResult(counts["a"], counts["b"], counts[None])
