"""What every :class:`~shoprank.search.rule_store.RuleStore` backend must do."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from shoprank.search.merch_rule import MerchRule
from shoprank.search.rule_store import RuleStore
from stores.contract import StoreContract, run_threads
from stores.experiment_store_contract import eventually


def rule(query: str = "backpack", *pins: str) -> MerchRule:
    return MerchRule(query=query, pin=list(pins) or ["p1"])


class RuleStoreContract(StoreContract[RuleStore]):
    def test_empty_at_first_and_opening_creates_nothing(self):
        store = self.open()
        assert store.rules() == {} and store.get("r1") is None
        assert not self.settings.rules_path.exists()  # (a file backend's file; nothing else to check here)

    def test_put_replace_delete_are_seen_at_once(self):
        store = self.open()
        store.put("r1", rule("backpack", "p1"))
        assert store.rules() == {"r1": rule("backpack", "p1")}
        store.put("r1", rule("backpack", "p2"))  # replaces
        store.put("r1", rule("backpack", "p2"))  # the same again: nothing changes
        store.put("r2", rule("tent"))
        assert store.rules() == {"r1": rule("backpack", "p2"), "r2": rule("tent")}
        assert store.delete("r1") is True
        assert store.delete("r1") is False
        assert store.rules() == {"r2": rule("tent")}

    def test_put_many_stores_every_rule(self):
        store = self.open()
        store.put_many({f"r{i}": rule(f"q{i}") for i in range(5)})
        assert sorted(store.rules()) == [f"r{i}" for i in range(5)]

    def test_another_handle_sees_a_change_within_a_second_or_so(self):
        a, b = self.open(), self.open()
        assert b.rules() == {}
        a.put("r1", rule())
        assert eventually(b.rules, {"r1": rule()}) == {"r1": rule()}
        a.delete("r1")
        assert eventually(b.rules, {}) == {}

    def test_rules_survive_reopen(self):
        store = self.open()
        store.put("r1", rule())
        store.close()
        assert self.open().rules() == {"r1": rule()}

    def test_concurrent_writers_lose_nothing(self):
        stores = [self.open() for _ in range(4)]

        def write(i: int) -> None:
            for j in range(10):
                stores[i].put(f"t{i}-{j}", rule(f"q{i}{j}"))

        run_threads(4, write)
        assert eventually(lambda: len(self.open().rules()), 40) == 40

    def test_reads_are_cheap(self):
        store = self.open()
        store.put_many({f"r{i}": rule(f"q{i}") for i in range(50)})
        t0 = time.perf_counter()
        for _ in range(10_000):
            store.rules()
        assert time.perf_counter() - t0 < 1.0  # it runs in every search


class CrossProcessRuleStoreContract(RuleStoreContract):
    """For a backend a second process reaches through ``Settings`` (files, a server): a change made
    there is applied here within about a second, not only one made by this process."""

    @pytest.mark.slow
    def test_a_change_from_another_process_is_seen_within_a_second_or_so(self):
        store = self.open()
        assert store.rules() == {}
        code = ("import sys; from shoprank import factory; from shoprank.config import Settings; "
                "from shoprank.search.merch_rule import MerchRule; "
                "s = Settings.model_validate_json(sys.argv[1]); "
                "factory.rule_store(s).put('r1', MerchRule(query='backpack', pin=['p1']))")
        subprocess.run([sys.executable, "-c", code, self.settings.model_dump_json()], check=True, timeout=120)
        assert eventually(store.rules, {"r1": rule()}) == {"r1": rule()}
