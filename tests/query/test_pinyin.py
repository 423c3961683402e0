"""The pinyin rewriter: pinyin with or without spaces and tones becomes the catalog's Chinese
words, and English never does."""
from __future__ import annotations

import pytest

pytest.importorskip("pypinyin")

from shoprank.engine import ShopRank
from shoprank.index.live import CatalogWrite
from shoprank.query.pinyin import PinyinRewriter, PinyinVocabulary, split_run
from shoprank.query.plan import QueryPlan
from shoprank.types import Product, Query


@pytest.fixture(scope="module")
def engine(fake_engine):
    settings = fake_engine.settings.model_copy(update={"query_rewriters": ["pinyin"]})
    return ShopRank(fake_engine.artifacts, settings, fake_engine.text_encoder, fake_engine.image_encoder)


def read(engine: ShopRank, text: str) -> str | None:
    plan = engine.understand(Query(text=text))
    assert all(r.origin == "pinyin" and r.replaces for r in plan.rewrites)
    return plan.text if plan.rewrites else None


@pytest.mark.parametrize(("typed", "chinese"), [
    ("beibao", "背包"), ("bei bao", "背包"), ("BeiBao", "背包"), ("bēi bāo", "背包"), ("bei1 bao1", "背包"),
    ("nvshi yujiaku", "女士瑜伽裤"), ("nüshi yujiaku", "女士瑜伽裤"), ("nushiyujiaku", "女士瑜伽裤"),
    ("dengshan beibao", "登山背包"), ("hongse beibao", "红色背包"), ("paobuxie", "跑步鞋"),
    ("taoci kafeibei", "陶瓷咖啡杯"),
])
def test_pinyin_reads_as_the_catalogs_chinese(engine, typed, chinese):
    assert read(engine, typed) == chinese


@pytest.mark.parametrize("english", [
    "bag", "pants", "backpack", "red backpack", "men", "women", "long", "hang", "she", "tie", "man", "ban", "pan",
    "change", "hoodie", "coffee mug under 15", "shoe", "bei", "be ibao", "t-shirt", "xl", "mp3", "beibao 15",
])
def test_never_on_english_or_what_does_not_segment(engine, english):
    assert read(engine, english) is None


def test_chinese_and_mixed_queries_are_left_alone(engine):
    assert read(engine, "背包") is None and read(engine, "红色 beibao") is None


def test_beibao_finds_what_背包_finds(engine):
    by_pinyin, by_chinese = engine.search(Query(text="beibao", k=5)), engine.search(Query(text="背包", k=5))
    assert by_pinyin.query_text == "背包" and [r.reason for r in by_pinyin.rewrites] == ["beibao → 背包 (pinyin)"]
    assert [h.product.id for h in by_pinyin.hits] == [h.product.id for h in by_chinese.hits]
    assert by_pinyin.hits and "backpack" in by_pinyin.hits[0].product.title.lower()


def test_runs_are_cut_at_known_words():
    assert split_run("红色登山背包", {"红色", "背包", "包"}, 2) == ["红色", "登山", "背包"]
    assert split_run("帆布托特包", {"包"}, 1) == ["帆布托特", "包"]


def test_a_homophone_reads_as_the_more_frequent_word():
    vocab = PinyinVocabulary()
    vocab.add_words(["手表"], 1)
    vocab.add_words(["首表"], 3)
    assert vocab.words["shoubiao"].chinese == "首表"


def test_a_product_written_live_brings_its_words(tmp_path, fake_settings, demo_catalog):
    from shoprank.catalog import Catalog

    settings = fake_settings.model_copy(update={"query_rewriters": ["pinyin"], "home": tmp_path})
    engine = ShopRank.build(Catalog(list(demo_catalog)[:5]), settings.index_dir("d"), settings)
    rewriter = engine.understanding.rewriters[0]
    assert isinstance(rewriter, PinyinRewriter)
    assert read(engine, "yumaorong") is None
    engine.write([CatalogWrite.put(Product(id="down", title="Down Jacket 羽绒服", price=99.0))])
    assert read(engine, "yumaorong") is None and read(engine, "yurongfu") == "羽绒服"
    assert engine.search(Query(text="yurongfu", k=1)).hits[0].product.id == "down"


def test_plan_without_text():
    assert PinyinRewriter().rewrite(QueryPlan(text=None), None) == []  # type: ignore[arg-type]


def test_without_the_query_extra_it_is_off_by_default_and_named_when_asked_for(monkeypatch):
    import sys

    from shoprank.config import Settings, default_rewriters
    from shoprank.query import REWRITERS
    from shoprank.registry import MissingExtraError

    assert default_rewriters() == ["pinyin", "typo", "synonym"]
    monkeypatch.setitem(sys.modules, "pypinyin", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "shoprank.query.pinyin", raising=False)
    assert default_rewriters() == ["typo", "synonym"] and Settings().query_rewriters == ["typo", "synonym"]
    with pytest.raises(MissingExtraError, match=r"shoprank\[query\]"):
        REWRITERS.create("pinyin")
