"""Analytics over impressions joined to events; experiment readouts; power by resampling."""
from __future__ import annotations

import random

import numpy as np
import pytest

from shoprank.analytics.impressions import Impression
from shoprank.analytics.power import ab_power, interleaving_power, sessions_needed
from shoprank.analytics.report import ab_readout, analyze, join, metrics
from shoprank.personalization.store.base import StoredEvent
from shoprank.types import Event


def _imp(sid: str, query: str | None, products: tuple[str, ...], user: str = "u", arm: str | None = None,
         teams: tuple[str, ...] | None = None, ts: float = 1e9, latency: float = 10.0,
         experiment: str | None = None) -> Impression:
    return Impression(search_id=sid, ts=ts, kind="text", products=products, query=query, user_id=user, arm=arm,
                      teams=teams, latency_ms=latency, ranker="linear", experiment=experiment)


def _ev(seq: int, sid: str | None, pid: str, etype: str = "click", position: int | None = None,
        user: str = "u") -> StoredEvent:
    return StoredEvent(seq, Event(user_id=user, product_id=pid, type=etype, search_id=sid,
                                  position=position), 1e9)


def test_join_and_metrics():
    imps = [_imp("s1", "bag", ("a", "b", "c")), _imp("s2", "bag", ("b", "a")), _imp("s3", "zzz", ()),
            _imp("s4", "mug", ("m1", "m2"))]
    events = [_ev(1, "s1", "c", position=3), _ev(2, "s1", "b"),  # position looked up
              _ev(3, "s1", "b", "cart"), _ev(4, "s1", "b", "purchase"),
              _ev(5, "s2", "x"),  # not on that page: ignored
              _ev(6, None, "a")]  # no search: not in analytics
    views = join(imps, events)
    assert views[0].clicks == {2, 3} and views[0].carts == 1 and views[0].purchases == 1
    assert views[1].clicks == frozenset()
    m = metrics(views)
    assert m["searches"] == 4 and m["ctr@1"] == 0 and m["ctr@3"] == 0.25 and m["mrr"] == pytest.approx(0.5 / 4)
    assert m["conversion"] == 0.25 and m["zero_results"] == 0.25 and m["latency_p50_ms"] == 10.0
    rep = analyze(imps, events)
    assert rep.zero_result_queries == [("zzz", 1)]
    assert rep.no_click_queries == [("mug", 1)]  # "bag" got clicks; "zzz" showed nothing
    assert rep.click_positions == {2: 1, 3: 1}
    assert rep.queries[0]["query"] == "bag" and rep.queries[0]["searches"] == 2
    assert "| all | 4 |" in rep.markdown()


def test_ab_readout_is_per_shopper_and_finds_a_real_difference():
    rng = random.Random(0)
    imps, events = [], []
    for u in range(200):
        arm = "b" if u % 2 else "a"
        for s in range(3):
            sid = f"{u}-{s}"
            imps.append(_imp(sid, "q", ("p1", "p2", "p3"), user=f"u{u}", arm=arm, experiment="x"))
            if rng.random() < (0.6 if arm == "b" else 0.3):
                events.append(_ev(len(events) + 1, sid, "p1", position=1, user=f"u{u}"))
    views = join(imps, events)
    r = ab_readout(views, "a", "b", "ctr@1")
    assert r.n_control == r.n_treatment == 100  # shoppers, not searches
    assert r.delta == pytest.approx(r.treatment - r.control) and 0.2 < r.delta < 0.4
    assert r.p_value < 1e-6 and r.ci[0] < r.delta < r.ci[1]
    rep = analyze(imps, events)  # the experiment is found in the impressions without being named
    assert rep.experiments[0].name == "x" and rep.experiments[0].kind == "ab" and rep.experiments[0].units == 200


def test_interleaving_readout_credits_teams():
    # Shoppers u0..u19 with two pages each: page 2i placed by a first, page 2i+1 by b first; clicks on
    # position 1 of every b-first page and of every other a-first page.
    imps = [_imp(f"s{i}", "q", ("p1", "p2"), user=f"u{i // 2}", teams=("b", "a") if i % 2 else ("a", "b"),
                 experiment="il", arm="interleaved") for i in range(40)]
    events = [_ev(i + 1, f"s{i}", "p1", position=1, user=f"u{i // 2}") for i in range(40) if i % 2 or i % 4 == 0]
    rep = analyze(imps, events)
    il = rep.experiments[0].interleaving
    assert (il["wins_a"], il["wins_b"], il["ties"]) == (10, 20, 10)  # pages
    # per shopper: u even-indexed pair (i % 4 == 0 clicked) one win each -> neither; the others prefer b
    assert (il["prefer_a"], il["prefer_b"], il["prefer_neither"]) == (0, 10, 10)
    assert il["delta"] == pytest.approx(0.25) and il["p_value"] == pytest.approx(2 / 1024)
    assert il["ci_lo"] > 0


def test_power_grows_with_sessions_and_interleaving_wins_on_a_clear_signal():
    rng = np.random.default_rng(0)
    sessions = [(int(a), int(b)) for a, b in zip(rng.binomial(4, 0.3, 300), rng.binomial(4, 0.45, 300))]
    small, big = interleaving_power(sessions, 10), interleaving_power(sessions, 400)
    assert small < 0.3 and big > 0.95
    no_effect = [(a, a) for a, _ in sessions]
    assert interleaving_power(no_effect, 400) == 0.0
    a, b = rng.normal(0.50, 0.3, 300), rng.normal(0.55, 0.3, 300)
    assert ab_power(a, b, 20) < ab_power(a, b, 1600) and ab_power(a, b, 3) == 0.0
    n, curve = sessions_needed(lambda k: interleaving_power(sessions, k), (10, 50, 100, 200, 400))
    assert n is not None and curve[n] >= 0.8 and all(p < 0.8 for k, p in curve.items() if k < n)
    assert sessions_needed(lambda k: 0.0, (10, 20))[0] is None
