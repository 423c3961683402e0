from __future__ import annotations

import random

import numpy as np
import pytest

from shoprank.analytics.interleave import InterleavingResult, credit, tally, team_draft


def test_team_draft_invariants():
    rng = random.Random(0)
    a = [f"p{i}" for i in range(12)]
    b = [f"p{i}" for i in (3, 0, 13, 7, 1, 14, 2, 15, 9, 4, 16, 5)]
    for _ in range(200):
        ids, teams = team_draft(a, b, 10, rng)
        assert len(ids) == 10 == len(teams) and len(set(ids)) == 10
        assert set(teams) <= {"a", "b"}
        for team, ranking in (("a", a), ("b", b)):
            picked = [ranking.index(i) for i, t in zip(ids, teams) if t == team]
            assert picked == sorted(picked)  # each team's picks follow its own ranking
            # Each pick is the team's best item not already on the page when it picked.
            for pos, (item, t) in enumerate(zip(ids, teams)):
                if t == team:
                    assert item == next(x for x in ranking if x not in ids[:pos])
        # Both rankers have 10+ items, so turns alternate fairly.
        for n in range(1, 11):
            assert abs(teams[:n].count("a") - teams[:n].count("b")) <= 1


def test_team_draft_exhaustion_and_small_k():
    rng = random.Random(1)
    ids, teams = team_draft(["x"], ["y", "x", "z", "w"], 10, rng)
    assert sorted(ids) == ["w", "x", "y", "z"] and len(set(ids)) == 4
    assert teams.count("a") <= 1
    assert team_draft(["x", "y"], ["x", "y"], 0, rng) == ([], [])
    assert team_draft([], [], 5, rng) == ([], [])
    with pytest.raises(ValueError):
        team_draft(["x"], ["x"], -1, rng)


def test_team_draft_first_pick_is_a_coin_flip():
    rng = random.Random(2)
    first = [team_draft(["x", "y"], ["y", "x"], 2, rng)[1][0] for _ in range(2000)]
    assert abs(first.count("a") - 1000) < 100


def test_credit():
    teams = ["a", "b", "a", "b"]
    assert credit(teams, []) is None
    assert credit(teams, [1]) == "a"
    assert credit(teams, [2, 4, 1]) == "b"
    assert credit(teams, [1, 2]) is None
    assert credit(teams, [2, 9, 0, -1]) == "b"  # out-of-range positions ignored
    assert credit(teams, [3, 3, 2]) is None  # a position counts once


def simulate(a: list[str], b: list[str], relevance: dict[str, float], n: int, seed: int) -> InterleavingResult:
    """Shoppers examine rank r with 1/r and click relevant products (position-based clicks)."""
    rng = random.Random(seed)
    outcomes = []
    for _ in range(n):
        ids, teams = team_draft(a, b, 10, rng)
        clicks = [r for r, pid in enumerate(ids, 1) if rng.random() < relevance.get(pid, 0.0) / r]
        outcomes.append(credit(teams, clicks))
    return tally(outcomes)


def test_identical_rankers_split_evenly():
    ranking = [f"p{i}" for i in range(20)]
    relevance = {f"p{i}": 0.9 if i % 3 == 0 else 0.1 for i in range(20)}
    result = simulate(ranking, list(ranking), relevance, 3000, seed=3)
    assert result.n == 3000 and result.ties > 0
    assert abs(result.delta) < 0.03
    assert result.p_value > 0.01
    lo, hi = result.bootstrap_ci()
    assert lo < 0 < hi


def test_ranker_placing_relevant_items_higher_wins():
    relevant = {"r1": 0.9, "r2": 0.8, "r3": 0.7}
    worse = [f"n{i}" for i in range(6)] + ["r1", "r2", "r3"] + [f"n{i}" for i in range(6, 12)]
    better = ["r1", "n0", "r2", "n1", "r3"] + [f"n{i}" for i in range(2, 12)]
    result = simulate(worse, better, relevant, 500, seed=4)
    assert result.wins_b > result.wins_a and result.delta > 0
    assert result.p_value < 0.01
    lo, hi = result.bootstrap_ci()
    assert 0 < lo <= result.delta <= hi
    swapped = simulate(better, worse, relevant, 500, seed=4)
    assert swapped.delta < 0 and swapped.p_value < 0.01


def test_tally_and_result():
    r = tally(["a", "b", "b", None, "b"])
    assert (r.wins_a, r.wins_b, r.ties, r.n) == (1, 3, 1, 5)
    assert r.delta == pytest.approx(2 / 5)
    assert r.p_value == pytest.approx(0.625)  # 3 of 4 decided at 0.5, two-sided
    assert np.mean(r.outcomes()) == pytest.approx(r.delta)
    empty = tally([])
    assert (empty.n, empty.delta, empty.p_value, empty.bootstrap_ci()) == (0, 0.0, 1.0, (0.0, 0.0))
    with pytest.raises(ValueError):
        tally(["c"])
