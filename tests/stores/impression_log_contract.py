"""What every :class:`~shoprank.analytics.impressions.ImpressionLog` backend must do.

``make_store`` opens the log as ``self.settings`` configure it: records lose their ids after
30 days and go after 365 (``impression_anonymize_days`` / ``impression_retention_days``)."""
from __future__ import annotations

import time

from shoprank.analytics.impressions import Impression, ImpressionLog, new_search_id
from stores.contract import StoreContract, run_threads

DAY = 86400.0
NOW = time.time()  # recent records: a backend's own hourly retention never touches them


def imp(ts: float = NOW, user: str | None = "u1", session: str | None = None, products=("p1", "p2"),
        search_id: str | None = None) -> Impression:
    return Impression(search_id=search_id or new_search_id(), ts=ts, kind="text", products=tuple(products),
                      query="red bag", user_id=user, session_id=session, filters={"colors": ["red"]},
                      ranker="linear", experiment="e1", arm="a", teams=("a", "b") if len(products) == 2 else None,
                      candidates=7, latency_ms=12.5, personalized=True)


class ImpressionLogContract(StoreContract[ImpressionLog]):
    settings_overrides = {"impression_anonymize_days": 30.0, "impression_retention_days": 365.0}

    def test_round_trip(self):
        log = self.open()
        first = imp()
        log.append(first)
        bare = Impression(search_id=new_search_id(), ts=NOW, kind="browse", products=())
        assert log.extend([bare]) == 1 and log.extend([]) == 0
        assert log.get(first.search_id) == first and log.get(bare.search_id) == bare
        assert log.get("nope") is None and log.count() == 2

    def test_writing_a_search_id_again_replaces_it(self):
        log = self.open()
        sid = new_search_id()
        log.append(imp(search_id=sid, products=("p1",)))
        log.append(imp(search_id=sid, products=("p9", "p8")))
        assert log.count() == 1 and log.get(sid).products == ("p9", "p8")

    def test_scan_is_in_time_order_within_bounds(self):
        log = self.open()
        recs = [imp(NOW + (i // 2)) for i in range(10)]  # ties on ts
        log.extend(reversed(recs))
        got = list(log.scan())
        assert sorted(i.search_id for i in got) == sorted(i.search_id for i in recs)
        assert [(i.ts, i.search_id) for i in got] == sorted((i.ts, i.search_id) for i in recs)
        assert [i.ts for i in log.scan(since=NOW + 1, until=NOW + 3)] == [NOW + 1] * 2 + [NOW + 2] * 2

    def test_forget_deletes_a_shoppers_impressions_and_their_sessions(self):
        log = self.open()
        log.extend([imp(user="ann", session="s-ann"), imp(user=None, session="s-ann"), imp(user="bob"),
                    imp(user="mal", session="bob"), imp(user="cy", session="s-ann")])
        assert log.sessions_of("ann") == {"s-ann"} and log.sessions_of("mal") == {"bob"}
        assert log.forget("ann", {"s-ann"}) == 2  # not cy's search in a session id ann also used
        assert log.forget("mal", {"bob"}) == 1  # a session named like user bob: bob's own stay
        assert sorted(i.user_id for i in log.scan()) == ["bob", "cy"]

    def test_retention_anonymizes_then_deletes(self):
        log = self.open()
        later = NOW + 340 * DAY
        log.extend([imp(NOW, "ann", "s1"), imp(later, "bob", "s2")])
        assert log.enforce_retention(NOW + 31 * DAY) == (1, 0)
        got = {i.ts: i for i in log.scan()}
        assert (got[NOW].user_id, got[NOW].session_id, got[NOW].products) == (None, None, ("p1", "p2"))
        assert got[later].user_id == "bob"
        assert log.enforce_retention(NOW + 366 * DAY) == (0, 1)
        assert [i.ts for i in log.scan()] == [later]

    def test_two_handles_write_at_once_and_survive_reopen(self):
        a, b = self.open(), self.open()
        run_threads(2, lambda i: [(a, b)[i].append(imp(user=f"u{i}")) for _ in range(40)])
        assert a.count() == b.count() == 80
        a.close()
        assert self.open().count() == 80
