"""What every :class:`~shoprank.personalization.store.base.EventLog` backend must do."""
from __future__ import annotations

from shoprank.personalization.store.base import EventLog
from shoprank.types import Event
from stores.contract import StoreContract, run_threads


def ev(product: str = "p1", user: str | None = None, session: str | None = "s1", type: str = "view",
       ts: float | None = None, query: str | None = None, event_id: str | None = None) -> Event:
    return Event(user_id=user, session_id=session, product_id=product, type=type, ts=ts, query=query,
                 event_id=event_id)


class EventLogContract(StoreContract[EventLog]):
    def test_append_returns_increasing_seqs_and_fills_ts(self):
        elog = self.open()
        events = [ev("p1"), ev("p2", ts=50.0), ev("p3")]
        stored = elog.append(events, now=1000.0)
        assert [s.event for s in stored] == events
        seqs = [s.seq for s in stored]
        assert seqs == sorted(seqs) and len(set(seqs)) == 3
        assert [s.ts for s in stored] == [1000.0, 50.0, 1000.0]
        more = elog.append([ev("p4")], now=2000.0)
        assert more[0].seq > seqs[-1] and more[0].ts == 2000.0

    def test_append_nothing(self):
        elog = self.open()
        assert elog.append([], now=1.0) == []
        assert elog.count() == 0

    def test_scan_gives_back_what_was_appended_in_order(self):
        elog = self.open()
        stored = elog.append([ev("p1", user="u1", query="red dress"), ev("p2", ts=5.0), ev("p3", type="purchase")],
                             now=10.0)
        stored += elog.append([ev("p4", session="s2")], now=11.0)
        assert list(elog.scan()) == stored

    def test_scan_after_and_until_seq(self):
        elog = self.open()
        stored = elog.append([ev(f"p{i}") for i in range(5)], now=1.0)
        assert list(elog.scan(after_seq=stored[1].seq)) == stored[2:]
        assert list(elog.scan(after_seq=stored[-1].seq)) == []
        assert list(elog.scan(after_seq=stored[0].seq, until_seq=stored[2].seq)) == stored[1:3]
        assert [s.seq for s in elog.scan("s1", after_seq=stored[2].seq)] == [s.seq for s in stored[3:]]

    def test_scan_by_owner_matches_user_or_session(self):
        elog = self.open()
        a = elog.append([ev("p1", user="u1", session="s1")], now=1.0)[0]
        b = elog.append([ev("p2", user=None, session="s1")], now=2.0)[0]
        c = elog.append([ev("p3", user="u1", session="s2")], now=3.0)[0]
        d = elog.append([ev("p4", user="u2", session="s3")], now=4.0)[0]
        assert list(elog.scan("u1")) == [a, c]
        assert list(elog.scan("s1")) == [a, b]
        assert list(elog.scan("s3")) == [d]
        assert list(elog.scan("nobody")) == []

    def test_count(self):
        elog = self.open()
        elog.append([ev("p1", user="u1", session="s1"), ev("p2", session="s1"), ev("p3", user="u2", session="s2")],
                    now=1.0)
        assert elog.count() == 3
        assert elog.count("s1") == 2
        assert elog.count("u1") == 1
        assert elog.count("u2") == 1 and elog.count("s2") == 1
        assert elog.count("nobody") == 0

    def test_an_event_id_logged_before_by_its_owner_is_a_duplicate(self):
        elog = self.open()
        first = elog.append([ev("p1", user="u1", event_id="e1")], now=1.0)[0]
        again = elog.append([ev("p1", user="u1", event_id="e1"), ev("p2", user="u2", event_id="e1"),
                             ev("p3", user="u1", event_id="e1")], now=2.0)
        assert again[0].duplicate and again[0].seq == first.seq and again[0].event.product_id == "p1"
        assert not again[1].duplicate  # another owner's id space
        assert again[2].duplicate and again[2].seq == first.seq  # the earlier event, not this one
        assert elog.count() == 2

    def test_sessions_of_and_has_user(self):
        elog = self.open()
        elog.append([ev("p1", user="u1", session="s1"), ev("p2", user="u1", session="s2"),
                     ev("p3", user="u1", session="s1"), ev("p4", user="u1", session=None),
                     ev("p5", user="u2", session="s3"), ev("p6", session="s4")], now=1.0)
        assert elog.sessions_of("u1") == {"s1", "s2"}
        assert elog.sessions_of("u2") == {"s3"}
        assert elog.sessions_of("nobody") == set()
        assert elog.has_user("u1") and not elog.has_user("s4") and not elog.has_user("nobody")

    def test_delete_owner_removes_user_and_session_matches(self):
        elog = self.open()
        elog.append([ev("p1", user="u1", session="s1"), ev("p2", user="u1", session="s2"),
                     ev("p3", session="u1"), ev("p4", user="u2", session="s3")], now=1.0)
        assert elog.delete_owner("u1") == 3
        assert elog.count("u1") == 0 and elog.count() == 1
        assert [s.event.product_id for s in elog.scan()] == ["p4"]
        assert elog.delete_owner("u1") == 0
        assert elog.delete_owner("s3") == 1 and elog.count() == 0

    def test_delete_user_spares_what_names_another_user(self):
        elog = self.open()
        elog.append([ev("p1", user="ann", session="s-ann"), ev("p2", session="s-ann"),
                     ev("p3", user="cy", session="s-ann"), ev("p4", user="bob")], now=1.0)
        assert elog.delete_user("ann", {"s-ann"}) == 2
        assert sorted(s.event.product_id for s in elog.scan()) == ["p3", "p4"]
        assert not elog.has_user("ann") and elog.has_user("cy")

    def test_seqs_are_not_reused_after_deletes(self):
        elog = self.open()
        last = elog.append([ev("p1", session="gone"), ev("p2", session="gone")], now=1.0)[-1]
        elog.delete_owner("gone")
        assert elog.append([ev("p3")], now=2.0)[0].seq > last.seq

    def test_events_and_identity_survive_close_and_reopen(self):
        log = self.open()
        stored = log.append([ev("p1", user="u1"), ev("p2", ts=3.0)], now=9.0)
        log_id = log.log_id()
        log.close()
        log = self.open()
        assert list(log.scan()) == stored and log.log_id() == log_id
        assert log.append([ev("p3")], now=10.0)[0].seq > stored[-1].seq

    def test_concurrent_appends_lose_nothing(self):
        elog = self.open()
        n_threads, per_thread = 4, 200
        acked: list[list[int]] = [[] for _ in range(n_threads)]

        def work(i: int) -> None:
            for j in range(per_thread):
                acked[i] += [s.seq for s in elog.append([ev(f"t{i}-{j}", session=f"s{i}")], now=float(j))]

        run_threads(n_threads, work)
        all_seqs = [s for seqs in acked for s in seqs]
        assert len(set(all_seqs)) == n_threads * per_thread
        assert elog.count() == n_threads * per_thread
        assert [s.seq for s in elog.scan()] == sorted(all_seqs)
        for i in range(n_threads):
            assert [s.event.product_id for s in elog.scan(f"s{i}")] == [f"t{i}-{j}" for j in range(per_thread)]

    def test_two_logs_on_one_store_see_each_other(self):
        a, b = self.open(), self.open()

        def work(i: int) -> None:
            log = (a, b)[i]
            for j in range(50):
                log.append([ev(f"{i}-{j}", session=f"s{i}")], now=1.0)

        run_threads(2, work)
        for log in (a, b):
            assert log.count() == 100
            assert {s.event.product_id for s in log.scan()} == {f"{i}-{j}" for i in range(2) for j in range(50)}
        assert a.log_id() == b.log_id()
