"""What every :class:`~shoprank.query.synonym_store.SynonymStore` backend must do.

``make_store`` opens the synonym sets of the index at ``self.index_root``."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from shoprank.query.synonym_store import SynonymSet, SynonymStore
from stores.contract import StoreContract, run_threads

BAGS = SynonymSet(terms=["rucksack", "backpack", "knapsack"])
TEE = SynonymSet(input="tee", terms=["t-shirt"])


def eventually(read, want, within_s: float = 3.0):
    """``read()`` once it equals ``want``, polling: another process's edit is seen within about a second."""
    deadline = time.monotonic() + within_s
    while (got := read()) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    return got


class SynonymStoreContract(StoreContract[SynonymStore]):
    @property
    def index_root(self) -> Path:
        return self.tmp_path / "index"

    def test_empty_at_first_and_opening_creates_nothing(self):
        store = self.open()
        assert dict(store.sets().sets) == {}
        assert not self.index_root.exists() or not any(self.index_root.iterdir())

    def test_put_and_delete_are_seen_at_once_by_their_own_handle(self):
        store = self.open()
        v0 = store.sets().version
        assert store.put("bags", BAGS) is True
        assert store.sets().sets == {"bags": BAGS} and store.sets().version > v0
        assert store.put("bags", BAGS) is False  # the same again: replaced, still one set
        store.put("tee", TEE)
        assert store.sets().sets == {"bags": BAGS, "tee": TEE}
        assert store.delete("bags") is True and store.sets().sets == {"tee": TEE}
        assert store.delete("bags") is False

    def test_put_many_replaces_all_in_one_commit(self):
        store = self.open()
        store.put("old", TEE)
        store.put_many({"a": BAGS, "b": TEE})
        assert set(store.sets().sets) == {"old", "a", "b"}
        store.put_many({"c": BAGS}, replace_all=True)
        assert store.sets().sets == {"c": BAGS}

    def test_a_bad_id_is_refused(self):
        with pytest.raises(ValueError, match="synonym set id"):
            self.open().put("no spaces", BAGS)

    @pytest.mark.slow  # waits out the re-read interval (about 2 s)
    def test_another_handle_sees_an_edit_within_a_second_or_so(self):
        a, b = self.open(), self.open()
        assert dict(b.sets().sets) == {}
        a.put("bags", BAGS)
        assert eventually(lambda: dict(b.sets().sets), {"bags": BAGS}) == {"bags": BAGS}
        a.delete("bags")
        assert eventually(lambda: dict(b.sets().sets), {}) == {}

    def test_the_sets_survive_reopen(self):
        self.open().put("tee", TEE)
        assert self.open().sets().sets == {"tee": TEE}

    def test_concurrent_puts_from_two_handles_all_land(self):
        a, b = self.open(), self.open()
        run_threads(8, lambda i: (a if i % 2 else b).put(f"s{i}", SynonymSet(terms=[f"w{i}", f"x{i}"])))
        assert set(eventually(lambda: dict(self.open().sets().sets).keys(), {f"s{i}" for i in range(8)})) == \
            {f"s{i}" for i in range(8)}

    def test_sets_is_cheap(self):
        store = self.open()
        store.put("bags", BAGS)
        t0 = time.perf_counter()
        for _ in range(10_000):
            store.sets()
        assert time.perf_counter() - t0 < 1.0  # it runs in every search
