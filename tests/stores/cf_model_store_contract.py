"""What every :class:`~shoprank.personalization.store.models.CFModelStore` backend must do."""
from __future__ import annotations

import threading
import time

import numpy as np

from shoprank.personalization.collaborative import ItemItemCF
from shoprank.personalization.store.models import CFModelStore, CollaborativeFit, LogMark
from shoprank.types import Event
from stores.contract import StoreContract

HISTORY = [("p1", 1.0)]
ITEMS = ["p1", "p2", "p3", "p4"]


def fitted(n_owners: int = 6) -> ItemItemCF:
    events = [Event(session_id=f"s{i}", product_id=p, type="click")
              for i in range(n_owners) for p in ITEMS[: 2 + i % 3]]
    return ItemItemCF().fit(events)


def fit(kind: str = "itemitem", seq: int = 12, related: bool = True) -> CollaborativeFit:
    return CollaborativeFit(kind, LogMark("log-1", seq, seq), fitted(), fitted(4) if related else None,
                            fitted_at=1000.0)


def same_models(a: CollaborativeFit, b: CollaborativeFit) -> bool:
    def scores(m):
        return None if m is None else m.score(HISTORY, ITEMS).tobytes()

    return scores(a.recommender) == scores(b.recommender) and scores(a.related) == scores(b.related)


class CFModelStoreContract(StoreContract[CFModelStore]):
    def test_nothing_is_saved_at_first(self):
        assert self.open().load("itemitem") is None

    def test_a_saved_fit_loads_with_its_mark_and_the_same_scores(self):
        store = self.open()
        saved = fit()
        store.save(saved)
        got = store.load("itemitem")
        assert got is not None and (got.kind, got.mark, got.fitted_at) == ("itemitem", saved.mark, 1000.0)
        assert same_models(got, saved) and np.any(got.recommender.score(HISTORY, ITEMS))

    def test_a_model_that_could_not_be_fitted_stays_none(self):
        store = self.open()
        store.save(fit(related=False))
        got = store.load("itemitem")
        assert got is not None and got.related is None and got.recommender is not None

    def test_a_save_replaces_and_kinds_are_apart(self):
        store = self.open()
        store.save(fit(seq=1))
        store.save(fit(seq=2))
        store.save(fit("als", seq=3))
        assert store.load("itemitem").mark.last_seq == 2 and store.load("als").mark.last_seq == 3

    def test_another_handle_loads_it(self):
        self.open().save(fit())
        got = self.open().load("itemitem")
        assert got is not None and same_models(got, fit())

    def test_the_lock_is_held_by_one_handle_at_a_time(self):
        a, b = self.open(), self.open()
        order: list[str] = []
        holding = threading.Event()

        def second() -> None:
            holding.wait(10)
            with b.lock("itemitem"):
                order.append("b")

        t = threading.Thread(target=second)
        t.start()
        with a.lock("itemitem"):
            holding.set()
            time.sleep(0.2)  # b is waiting meanwhile
            order.append("a")
        t.join(10)
        assert order == ["a", "b"]
        with a.lock("als"), b.lock("itemitem"):  # one lock per kind
            pass
