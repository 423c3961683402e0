"""Collaborative models are fitted once and shared: a process opening personalization loads the
fit another made on the same events instead of fitting its own (Personalizer.load_or_train)."""
from __future__ import annotations

import threading

import pytest

from fakes import tiny_catalog
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.personalization.collaborative import ItemItemCF
from shoprank.personalization.online import Personalizer
from shoprank.personalization.store.models import FileCFModelStore
from shoprank.personalization.store.sqlite import MemoryProfileStore, SQLiteEventLog
from shoprank.types import Event

ITEMS = ["demo-backpack-green", "demo-coffee-mug-blue", "demo-running-shoe-red", "demo-wrist-watch-red"]


@pytest.fixture
def fits(monkeypatch) -> list[int]:
    """Counts ItemItemCF fits (each train fits two: "for you" and "bought together")."""
    calls: list[int] = []
    real = ItemItemCF.fit

    def counting(self, events):
        calls.append(1)
        return real(self, events)

    monkeypatch.setattr(ItemItemCF, "fit", counting)
    return calls


def shoppers(n: int) -> list[Event]:
    """Shopper i bought items i and i + 1 (of four, round): every item has two neighbours."""
    return [Event(user_id=f"u{i}", product_id=ITEMS[(i + j) % 4], type=kind)
            for i in range(n) for j in (0, 1) for kind in ("click", "purchase")]


def opened(fake_engine, tmp_path) -> tuple[Personalizer, FileCFModelStore]:
    """A personalizer over the log and model folder in ``tmp_path``, as a new process opens them."""
    p = Personalizer(fake_engine.pipeline.extractor.signals, SQLiteEventLog(tmp_path / "events.sqlite"),
                     MemoryProfileStore())
    return p, FileCFModelStore(tmp_path / "models")


def test_the_second_personalizer_loads_the_first_ones_fit(fake_engine, tmp_path, fits):
    first, store = opened(fake_engine, tmp_path)
    first.record(shoppers(6), now=1.0)
    assert first.load_or_train("itemitem", store) is False and len(fits) == 2
    second, store2 = opened(fake_engine, tmp_path)
    assert second.load_or_train("itemitem", store2) is True and len(fits) == 2
    second.catch_up()  # its own profile store: fold the log in, as opening does
    assert second.for_you("u0") == first.for_you("u0") != []
    assert second.bought_together(ITEMS[2]) == first.bought_together(ITEMS[2]) != []


def test_a_fit_of_other_events_is_not_loaded(fake_engine, tmp_path, fits):
    first, store = opened(fake_engine, tmp_path)
    first.record(shoppers(4), now=1.0)
    first.load_or_train("itemitem", store)
    first.record([Event(user_id="u9", product_id=ITEMS[0], type="click")], now=2.0)  # one more event
    again, _ = opened(fake_engine, tmp_path)
    assert again.load_or_train("itemitem", store) is False and len(fits) == 4
    first.forget("u9")  # fewer events: the forgotten shopper must not come back from a saved fit
    assert opened(fake_engine, tmp_path)[0].load_or_train("itemitem", store) is False and len(fits) == 6
    assert opened(fake_engine, tmp_path)[0].load_or_train("itemitem", store) is True and len(fits) == 6
    # Another log with as many events and the same last seq, beside the same model folder.
    other = Personalizer(fake_engine.pipeline.extractor.signals, SQLiteEventLog(tmp_path / "other.sqlite"),
                         MemoryProfileStore())
    other.record(shoppers(4), now=1.0)
    other.record([Event(user_id="u9", product_id=ITEMS[0], type="click")], now=2.0)
    other.events.delete_user("u9")
    assert other.load_or_train("itemitem", store) is False and len(fits) == 8


def test_processes_opening_together_fit_once(fake_engine, tmp_path, fits):
    opened(fake_engine, tmp_path)[0].record(shoppers(6), now=1.0)
    loaded: list[bool] = []
    ps = [opened(fake_engine, tmp_path) for _ in range(3)]
    threads = [threading.Thread(target=lambda p=p, s=s: loaded.append(p.load_or_train("itemitem", s)))
               for p, s in ps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(loaded) == [False, True, True] and len(fits) == 2


def test_an_unreadable_saved_fit_is_fitted_again(fake_engine, tmp_path, fits):
    p, store = opened(fake_engine, tmp_path)
    p.record(shoppers(4), now=1.0)
    store.folder.mkdir(parents=True)
    store.path("itemitem").write_bytes(b"not a zip")
    assert p.load_or_train("itemitem", store) is False and len(fits) == 2
    assert opened(fake_engine, tmp_path)[0].load_or_train("itemitem", store) is True


def test_a_reopened_engine_loads_the_models_its_first_open_fitted(tmp_path, fits):
    s = Settings(home=tmp_path / "home", text_encoder="hashing", image_encoder="palette", profile_store="memory")
    engine = ShopRank.build(tiny_catalog(tmp_path / "cat"), s.index_dir("tiny"), s)
    engine.personalizer.record([Event(user_id=f"u{i}", product_id=pid, type="purchase")
                                for i in range(4) for pid in ("mug-red", "hoodie-red")])
    assert ShopRank.open(s.index_dir("tiny"), s).personalizer.recommender is not None and len(fits) == 2
    again = ShopRank.open(s.index_dir("tiny"), s).personalizer
    assert len(fits) == 2 and again.recommender is not None and again.for_you("u0") == []  # saw both already
    assert (s.home / "models" / "cf-itemitem.zip").is_file()
