"""What every :class:`~shoprank.analytics.experiment_store.ExperimentStore` backend must do."""
from __future__ import annotations

import time

import pytest

from shoprank.analytics.experiment_store import ExperimentStore
from shoprank.analytics.experiments import Arm, Experiment
from stores.contract import StoreContract


def experiment(name: str = "e1", share: float = 0.5) -> Experiment:
    return Experiment(name=name, kind="ab", control=Arm(name="a"), treatment=Arm(name="b", personalize=False),
                      treatment_share=share)


def eventually(read, want, within_s: float = 3.0):
    """``read()`` once it equals ``want``, polling: another process's put is seen within about a second."""
    deadline = time.monotonic() + within_s
    while (got := read()) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    return got


class ExperimentStoreContract(StoreContract[ExperimentStore]):
    def test_none_runs_at_first(self):
        assert self.open().get() is None

    def test_put_is_seen_at_once_by_its_own_handle(self):
        store = self.open()
        store.put(experiment("e1"))
        assert store.get() == experiment("e1")
        store.put(experiment("e2", 0.1))
        assert store.get() == experiment("e2", 0.1)
        store.put(experiment("e2", 0.1))  # the same again: nothing changes
        assert store.get() == experiment("e2", 0.1)
        store.put(None)
        assert store.get() is None
        store.put(None)  # stopping what is not running is fine
        assert store.get() is None

    @pytest.mark.slow  # waits out the re-read interval (about 2 s)
    def test_another_handle_sees_a_put_within_a_second_or_so(self):
        a, b = self.open(), self.open()
        assert b.get() is None
        a.put(experiment("e1"))
        assert eventually(b.get, experiment("e1")) == experiment("e1")
        a.put(None)
        assert eventually(b.get, None) is None

    def test_the_experiment_survives_reopen(self):
        self.open().put(experiment("e1"))
        assert self.open().get() == experiment("e1")

    def test_get_is_cheap(self):
        store = self.open()
        store.put(experiment("e1"))
        t0 = time.perf_counter()
        for _ in range(10_000):
            store.get()
        assert time.perf_counter() - t0 < 1.0  # it runs in every search
