"""The impression log: round trip, paging, forgetting, retention, concurrent writers."""
from __future__ import annotations

import threading
import time

from shoprank.analytics import impressions as mod
from shoprank.analytics.impressions import Impression, ImpressionLog, SQLiteImpressionLog, new_search_id


def _imp(ts: float, user: str | None = "u1", session: str | None = None, products=("p1", "p2")) -> Impression:
    return Impression(search_id=new_search_id(), ts=ts, kind="text", products=tuple(products), query="red bag",
                      user_id=user, session_id=session, filters={"colors": ["red"]}, ranker="linear",
                      experiment="e1", arm="a", teams=("a", "b") if len(products) == 2 else None, candidates=7,
                      latency_ms=12.5, personalized=True)


def test_round_trip_and_time_ordered_paging(tmp_path, monkeypatch):
    log = SQLiteImpressionLog(tmp_path / "imp.sqlite", None, None)
    first = _imp(100.0)
    log.append(first)
    assert log.get(first.search_id) == first
    assert log.get("nope") is None
    monkeypatch.setattr(mod, "SCAN_PAGE", 3)  # several pages, and ties on ts across a page boundary
    more = [_imp(200.0 + (i // 2)) for i in range(10)]
    assert log.extend(more) == 10
    got = list(log.scan())
    assert len(got) == 11 and len({i.search_id for i in got}) == 11
    assert [i.ts for i in got] == sorted(i.ts for i in got)
    assert [i.ts for i in log.scan(since=201.0, until=203.0)] == [201.0, 201.0, 202.0, 202.0]


def test_forget_deletes_a_shoppers_impressions_and_their_sessions(tmp_path):
    log = SQLiteImpressionLog(tmp_path / "imp.sqlite", None, None)
    log.extend([_imp(1e9, "ann", "s-ann"), _imp(1e9, None, "s-ann"), _imp(1e9, "bob"),
                _imp(1e9, "mal", "bob"), _imp(1e9, "cy", "s-ann")])
    assert log.sessions_of("ann") == {"s-ann"} and log.sessions_of("mal") == {"bob"}
    assert log.forget("ann", {"s-ann"}) == 2  # not cy's search in a session id ann also used
    # A session id is free text: "mal" searched as session "bob"; forgetting mal spares user bob.
    assert log.forget("mal", {"bob"}) == 1
    assert sorted(i.user_id for i in log.scan()) == ["bob", "cy"]
    assert log.forget("nobody") == 0


def test_retention_anonymizes_then_deletes(tmp_path):
    day = 86400.0
    now = 1_800_000_000.0
    log = SQLiteImpressionLog(tmp_path / "imp.sqlite", anonymize_after_s=30 * day, retention_s=365 * day,
                        auto_retention=False)
    fresh, old, ancient = _imp(now - day, "a", "s"), _imp(now - 40 * day, "b", "s2"), _imp(now - 400 * day, "c")
    log.extend([fresh, old, ancient])
    assert log.enforce_retention(now) == (1, 1)
    kept = {i.search_id: i for i in log.scan()}
    assert set(kept) == {fresh.search_id, old.search_id}
    assert kept[old.search_id].user_id is None and kept[old.search_id].session_id is None
    assert kept[old.search_id].query == "red bag" and kept[old.search_id].products == ("p1", "p2")
    assert kept[fresh.search_id].user_id == "a"
    assert log.enforce_retention(now) == (0, 0)


def test_concurrent_writers_lose_nothing(tmp_path):
    log = SQLiteImpressionLog(tmp_path / "imp.sqlite", None, None)
    other = SQLiteImpressionLog(tmp_path / "imp.sqlite", None, None)  # a second process's connection, as it were
    written: list[str] = []
    lock = threading.Lock()

    def write(target: ImpressionLog) -> None:
        for _ in range(50):
            imp = _imp(1e9)
            target.append(imp)
            with lock:
                written.append(imp.search_id)

    threads = [threading.Thread(target=write, args=(log if i % 2 else other,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {i.search_id for i in log.scan()} == set(written) and len(written) == 300


def test_appends_enforce_retention_in_the_background(tmp_path):
    log = SQLiteImpressionLog(tmp_path / "imp.sqlite", anonymize_after_s=None, retention_s=86400.0)
    old = _imp(time.time() - 2 * 86400.0, products=("p",) * 3)
    log.append(old)  # the first append of a process starts a retention pass
    deadline = time.monotonic() + 10
    while log.get(old.search_id) is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert log.get(old.search_id) is None
