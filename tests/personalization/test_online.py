"""The personalizer over the demo catalog: events change the very next search."""
from __future__ import annotations

import pytest

from shoprank.personalization.online import Personalizer
from shoprank.personalization.store.sqlite import MemoryProfileStore, SQLiteEventLog, SQLiteProfileStore
from shoprank.types import Event, Query


@pytest.fixture
def personalized(demo_engine, tmp_path):
    """The demo engine serving with its own fresh stores for this test."""
    events = SQLiteEventLog(tmp_path / "events.sqlite")
    pers = Personalizer(demo_engine.pipeline.extractor.signals, events, MemoryProfileStore())
    saved = demo_engine.attach_personalizer(pers)
    yield demo_engine, pers
    demo_engine.attach_personalizer(saved)
    events.close()


def _ids(engine, text, user=None, personalize=True, k=6):
    return [h.product.id for h in engine.search(Query(text=text, k=k, user_id=user, personalize=personalize)).hits]


def test_cold_start_user_gets_the_unpersonalized_ranking(personalized):
    engine, _ = personalized
    res = engine.search(Query(text="backpack", k=6, user_id="nobody-yet"))
    assert not res.personalized
    assert [h.product.id for h in res.hits] == _ids(engine, "backpack")


def test_clicks_change_the_next_search(personalized):
    engine, pers = personalized
    before = _ids(engine, "backpack", "ann")
    # Ann keeps clicking green things (a green hoodie, green mug, green watch, ...).
    greens = [p.id for p in engine.artifacts.catalog if p.attr("color") == ["Green"] and "backpack" not in p.id]
    pers.record([Event(user_id="ann", product_id=pid, type="click", ts=1000.0 + i) for i, pid in enumerate(greens)])
    res = engine.search(Query(text="backpack", k=6, user_id="ann", explain=True))
    after = [h.product.id for h in res.hits]
    assert res.personalized
    assert after[0] == "demo-backpack-green" and before[0] != "demo-backpack-green"
    assert res.hits[0].contributions["user_color"] > 0
    # The switch: the same user, personalization off, gets the unpersonalized ranking.
    assert _ids(engine, "backpack", "ann", personalize=False) == before


def test_profile_affinities_follow_event_weights(personalized):
    engine, pers = personalized
    assert pers.unknown_products([Event(user_id="bo", product_id="demo-wrist-watch-red", type="click")]) == [0]
    pers.record([Event(user_id="bo", product_id="demo-running-shoe-red", type="click", ts=10.0),
                 Event(user_id="bo", product_id="demo-coffee-mug-blue", type="purchase", ts=10.0)])
    p = pers.profile("bo")
    assert p.n_events == 2 and p.last_seq > 0
    colors = p.affinity_share("color:")
    # A purchase (5) weighs five times a click (1): blue 5/6, red 1/6.
    assert colors["color:blue"] == pytest.approx(5 / 6) and colors["color:red"] == pytest.approx(1 / 6)
    assert set(p.vectors) >= {"text", "image"}


def test_older_events_fade_with_the_half_life(demo_engine, tmp_path):
    events = SQLiteEventLog(tmp_path / "e.sqlite")
    pers = Personalizer(demo_engine.pipeline.extractor.signals, events, MemoryProfileStore(), half_life_s=100.0)
    pers.record([Event(user_id="cy", product_id="demo-running-shoe-red", type="click", ts=0.0),
                 Event(user_id="cy", product_id="demo-running-shoe-blue", type="click", ts=100.0)])
    colors = pers.profile("cy").affinity_share("color:")
    # One half-life later the red click counts half as much as the new blue one.
    assert colors["color:red"] == pytest.approx(1 / 3) and colors["color:blue"] == pytest.approx(2 / 3)
    events.close()


def test_forget_removes_user_and_session_data(personalized):
    engine, pers = personalized
    pers.record([Event(user_id="dee", session_id="s-dee", product_id="demo-backpack-red", type="cart"),
                 Event(session_id="s-dee", product_id="demo-backpack-blue", type="click"),
                 Event(user_id="other", product_id="demo-backpack-blue", type="click")])
    assert pers.profile("dee") is not None and pers.profile("s-dee") is not None
    gone = pers.forget("dee")
    assert (gone.events, gone.profiles) == (2, 2)
    assert pers.profile("dee") is None and pers.profile("s-dee") is None
    assert pers.events.count("dee") == 0 and pers.events.count("s-dee") == 0
    assert pers.events.count("other") == 1


def test_catch_up_folds_events_a_crash_left_out(demo_engine, tmp_path):
    """Events logged but never folded into a profile (the process died in between) are
    applied when the personalizer reopens; events already folded are not applied twice."""
    signals = demo_engine.pipeline.extractor.signals
    events = SQLiteEventLog(tmp_path / "e.sqlite")
    profiles = SQLiteProfileStore(tmp_path / "p.sqlite")
    pers = Personalizer(signals, events, profiles)
    pers.record([Event(user_id="eve", product_id="demo-backpack-red", type="click", ts=1.0)])
    events.append([Event(user_id="eve", product_id="demo-backpack-blue", type="cart", ts=2.0)], now=2.0)
    profiles.close()
    reopened = Personalizer(signals, events, SQLiteProfileStore(tmp_path / "p.sqlite"))
    assert reopened.profile("eve").n_events == 1
    assert reopened.catch_up() == 1
    assert reopened.profile("eve").n_events == 2
    assert reopened.catch_up() == 0
    events.close()


def test_collaborative_scores_reach_the_ranker(personalized):
    engine, pers = personalized
    # Many shoppers who carted the red backpack also bought the green watch.
    batch = []
    for i in range(30):
        batch += [Event(user_id=f"u{i}", product_id="demo-backpack-red", type="cart", ts=float(i)),
                  Event(user_id=f"u{i}", product_id="demo-wrist-watch-green", type="purchase", ts=float(i) + 1)]
    pers.record(batch)
    engine.personalization.train("itemitem")
    assert pers.bought_together("demo-backpack-red", 3)[0][0] == "demo-wrist-watch-green"
    pers.record([Event(user_id="fay", product_id="demo-backpack-red", type="click", ts=100.0)])
    assert pers.for_you("fay", 3)[0][0] == "demo-wrist-watch-green"
    res = engine.search(Query(text="watch", k=6, user_id="fay", explain=True))
    top = {h.product.id: h for h in res.hits}
    assert top["demo-wrist-watch-green"].features["cf_score"] > 0


def test_two_api_processes_share_profiles_through_redis(demo_engine, tmp_path, redis_url):
    """Server A records the event, server B serves the search: both see one profile."""
    from shoprank.personalization.store.redis import RedisProfileStore

    signals = demo_engine.pipeline.extractor.signals
    log_a, log_b = SQLiteEventLog(tmp_path / "e.sqlite"), SQLiteEventLog(tmp_path / "e.sqlite")
    a = Personalizer(signals, log_a, RedisProfileStore(redis_url, prefix="t2p:"))
    b = Personalizer(signals, log_b, RedisProfileStore(redis_url, prefix="t2p:"))
    saved = demo_engine.attach_personalizer(b)
    try:
        before = _ids(demo_engine, "hoodie", "gil")
        a.record([Event(user_id="gil", product_id=pid, type="cart", ts=float(i))
                  for i, pid in enumerate(["demo-t-shirt-yellow", "demo-coffee-mug-yellow",
                                           "demo-water-bottle-orange"])])
        res = demo_engine.search(Query(text="hoodie", k=6, user_id="gil"))
        assert res.personalized and res.profile_events == 3
        assert res.hits[0].product.id == "demo-hoodie-yellow" != before[0]
        assert b.forget("gil").events == 3 and a.profile("gil") is None
    finally:
        demo_engine.attach_personalizer(saved)
        log_a.close()
        log_b.close()
