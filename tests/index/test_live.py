"""Catalog writes while serving: puts, price changes and deletes are searchable at once,
survive a restart, reach other processes through the write log, and follow a rebuild."""
from __future__ import annotations

import pytest

from fakes import MARKER, broken_png, photo, shop_catalog
from shoprank.catalog import Catalog
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.index.live import WRITE_LOG, CatalogWrite, SQLiteCatalogLog
from shoprank.types import CAPS, Filters, Product, Query


@pytest.fixture
def settings(tmp_path):
    return Settings(home=tmp_path, text_encoder="hashing", image_encoder="none", profile_store="memory")


@pytest.fixture
def engine(settings):
    return ShopRank.build(shop_catalog("A", marker_at=137), settings.index_dir("shop"), settings)


def ids(engine: ShopRank, text: str, k: int = 10, **kw) -> list[str]:
    return [h.product.id for h in engine.search(Query(text=text, k=k, collapse_variants=False, **kw)).hits]


def lamp(pid: str = "N-1", title: str = "Quibbleton Desk Lamp", **kw) -> Product:
    return Product(id=pid, title=title, description="A lamp for the desk.", categories=["Home/Lighting"],
                   price=30.0, **kw)


def test_a_new_product_is_found_by_the_next_search(engine):
    n_before = len(engine.artifacts.catalog.products)
    [seq] = engine.write([CatalogWrite.put(lamp())])
    assert seq == 1 and engine.catalog_seq == 1
    assert ids(engine, "quibbleton")[:1] == ["N-1"]
    assert engine.product("N-1").title == "Quibbleton Desk Lamp"
    assert engine.artifacts.catalog.position("N-1") == n_before
    # Every retriever and the ranker's columns cover the new position.
    hit = engine.search(Query(text="quibbleton desk lamp", k=1, explain=True)).hits[0]
    assert hit.product.id == "N-1" and {"bm25", "text"} <= set(hit.retrievers)
    engine.write([CatalogWrite.put(lamp("N-2", "Quibbleton Desk Lamp, large"))])
    assert [h.product.id for h in engine.similar("N-1", 3)][:1] == ["N-2"]
    assert any(s.product_id == "N-1" for s in engine.suggest("quibb"))


def test_a_price_change_is_made_in_place_without_encoding(engine):
    p = engine.product("A-0137")
    pos = engine.artifacts.catalog.position("A-0137")
    n = len(engine.artifacts.catalog.products)
    engine.write([CatalogWrite.put(p.model_copy(update={"price": 999.0, "stock": 0}))])
    assert engine.artifacts.catalog.position("A-0137") == pos and len(engine.artifacts.catalog.products) == n
    hit = engine.search(Query(text=MARKER, k=1, out_of_stock_last=False)).hits[0]
    assert hit.product.id == "A-0137" and hit.product.price == 999.0 and not hit.product.in_stock
    assert engine.pipeline.extractor.prices[pos] == 999.0
    # Out of stock, but the one product matching the query: it stays above unrelated in-stock items.
    assert ids(engine, MARKER)[0] == "A-0137"
    assert "A-0137" not in ids(engine, MARKER, filters=Filters(in_stock=True))
    assert "A-0137" not in ids(engine, MARKER, filters=Filters(price_max=100.0))


def test_a_deleted_product_never_comes_back(engine):
    engine.write([CatalogWrite.put(lamp())])
    assert "N-1" in ids(engine, "quibbleton") and "A-0137" in ids(engine, MARKER)
    engine.write([CatalogWrite.delete("A-0137"), CatalogWrite.delete("N-1")])
    assert "A-0137" not in ids(engine, MARKER) and "N-1" not in ids(engine, "quibbleton lamp", k=100)
    assert engine.product("A-0137") is None
    assert all(h.product.id not in ("A-0137", "N-1") for h in engine.similar("A-0003", 100))
    assert all(s.product_id not in ("A-0137", "N-1") for s in engine.suggest("zorb") + engine.suggest("quib"))
    # Browsing their category finds nothing; the category list no longer counts them.
    assert engine.search(Query(k=10, filters=Filters(category="Home/Lighting"))).hits == []
    assert "Home/Lighting" not in {p.category for p in engine.artifacts.catalog.live()}


def test_a_content_change_moves_to_a_new_position(engine):
    old = engine.product("A-0137")
    engine.write([CatalogWrite.put(old.model_copy(update={"title": "Flurbish Lamp"}))])
    assert ids(engine, "flurbish")[:1] == ["A-0137"]
    assert "A-0137" not in ids(engine, MARKER)  # the old title no longer finds it
    assert ids(engine, "flurbish lamp", k=300).count("A-0137") == 1


def test_writes_survive_a_restart_and_reach_another_process(engine, settings):
    engine.write([CatalogWrite.put(lamp()), CatalogWrite.delete("A-0137")])
    other = ShopRank.open(settings.index_dir("shop"), settings)  # a restart, or a second server
    assert other.catalog_seq == 2 and ids(other, "quibbleton")[:1] == ["N-1"] and other.product("A-0137") is None
    engine.write([CatalogWrite.put(lamp("N-2", "Snorkwidget Lamp"))])
    assert other.product("N-2") is None
    assert other.writer.sync() == 1 and ids(other, "snorkwidget")[:1] == ["N-2"]
    assert other.writer.sync() == 0


def test_a_rebuild_folds_the_log_in_and_later_writes_follow(engine, settings):
    engine.write([CatalogWrite.put(lamp())])
    root = settings.index_dir("shop")
    live = Catalog(engine.artifacts.catalog.live())
    ShopRank.build(live, root, settings, catalog_seq=engine.catalog_seq)  # compaction
    engine.write([CatalogWrite.put(lamp("N-2", "Snorkwidget Lamp"))])  # lands between build and reload
    assert engine.reload() is True
    assert engine.artifacts.manifest["catalog_seq"] == 1 and engine.catalog_seq == 2
    assert ids(engine, "quibbleton")[:1] == ["N-1"] and ids(engine, "snorkwidget")[:1] == ["N-2"]
    # The new generation holds N-1 in its built index, not as an added document.
    assert engine.artifacts.catalog.position("N-1") < 301


def test_a_rebuild_from_a_file_replaces_earlier_writes(engine, settings):
    engine.write([CatalogWrite.put(lamp())])
    ShopRank.build(shop_catalog("A", marker_at=137), settings.index_dir("shop"), settings)
    assert engine.reload() is True and engine.product("N-1") is None


@pytest.mark.slow  # threads for seconds
def test_searches_during_writes_and_a_generation_switch_all_succeed(engine, settings):
    import threading

    errors: list[BaseException] = []
    gone: set[str] = set()  # ids whose delete was acknowledged
    seen_gone: list[str] = []
    stop = threading.Event()
    searches = [0]

    def search() -> None:
        while not stop.is_set():
            try:
                before = set(gone)
                res = engine.search(Query(text="lamp quibbleton chair", k=20, collapse_variants=False))
                seen_gone.extend(h.product.id for h in res.hits if h.product.id in before)
                engine.similar("A-0003", 5)
                engine.suggest("qui")
                searches[0] += 1
            except BaseException as e:  # any failure counts
                errors.append(e)

    threads = [threading.Thread(target=search) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(40):
            engine.write([CatalogWrite.put(lamp(f"N-{i}", f"Quibbleton Lamp {i}")),
                          CatalogWrite.put(engine.product("A-0001").model_copy(update={"price": float(i)}))])
            if i % 3 == 2:
                engine.write([CatalogWrite.delete(f"N-{i - 1}")])
                gone.add(f"N-{i - 1}")
            if i == 20:  # a rebuild lands and is switched to while searches and writes go on
                ShopRank.build(Catalog(engine.artifacts.catalog.live()), settings.index_dir("shop"), settings,
                               catalog_seq=engine.catalog_seq)
                assert engine.reload()
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:3]
    assert searches[0] > 20 and seen_gone == []
    assert engine.product("A-0001").price == 39.0 and engine.artifacts.catalog.n_live == 300 + 40 - len(gone)


def test_a_logged_photo_that_no_longer_decodes_never_stops_a_start(tmp_path):
    """An acknowledged write named a good photo; the file later broke on disk. Replaying the
    log at start raised SyntaxError (broken PNG file) and the server would not start."""
    s = Settings(home=tmp_path, text_encoder="hashing", image_encoder="palette", profile_store="memory")
    engine = ShopRank.build(shop_catalog("A", n=40), s.index_dir("shop"), s)
    path = tmp_path / "lamp.png"
    engine.write([CatalogWrite.put(lamp(images=[photo(path, "green")]))])
    assert engine.product("N-1").images == [str(path)]
    broken_png(path)
    restarted = ShopRank.open(s.index_dir("shop"), s)
    assert restarted.catalog_seq == 1 and restarted.product("N-1").images == []  # served without it
    assert ids(restarted, "quibbleton")[:1] == ["N-1"]


def test_a_logged_title_longer_than_the_caps_is_cut_at_replay(engine, settings):
    """A 900 KB title acknowledged before the caps: the write is kept, cut to the title cap, and
    the restarted server's first autocomplete answers."""
    huge = Product.model_construct(**{**lamp().model_dump(), "title": "Quibbleton " + "ba " * 300_000})
    log = SQLiteCatalogLog(settings.index_dir("shop") / WRITE_LOG)
    log.append([CatalogWrite.put(huge)])
    log.close()
    restarted = ShopRank.open(settings.index_dir("shop"), settings)
    assert restarted.product("N-1").title.startswith("Quibbleton ba ba")
    assert len(restarted.product("N-1").title) <= CAPS["title"].kept
    assert [x.product_id for x in restarted.suggest("quibb")] == ["N-1"]
