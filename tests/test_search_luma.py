"""End-to-end search behaviour on the real Magento Luma catalog."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from conftest import LUMA, needs_luma
from shoprank.types import Filters, Query

pytestmark = needs_luma


def _is_bag(p) -> bool:
    return p.category.startswith("Gear/Bags")


@pytest.mark.parametrize("text", ["backpack", "背包"])
def test_backpack_in_english_and_chinese_returns_bags(luma_engine, text):
    res = luma_engine.search(text, k=5)
    assert len(res.hits) == 5
    assert all(_is_bag(h.product) for h in res.hits), [h.product.title for h in res.hits]


def test_index_holds_every_product_and_photo(luma_engine):
    m = luma_engine.artifacts.manifest
    assert m["products"] == 2046 and m["images"] == 723
    assert len(luma_engine.artifacts.modalities["text"].vectors) == 2046


def _photo_bytes(path: Path, crop: float = 0.0) -> bytes:
    with Image.open(path) as im:
        im = im.convert("RGB")
        if crop:
            w, h = im.size
            im = im.crop((int(w * crop), int(h * crop), int(w * (1 - crop)), int(h * (1 - crop))))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=85)
        return buf.getvalue()


PHOTOS = ["m/b/mb02-gray-0.jpg", "m/h/mh01-black_main.jpg", "w/p/wp01-gray_main.jpg", "m/j/mj01-orange_main.jpg"]


@pytest.mark.parametrize("rel", PHOTOS)
@pytest.mark.parametrize("crop", [0.0, 0.08])
def test_product_photo_finds_the_product_or_its_variants(luma_engine, rel, crop):
    path = LUMA / "images" / "product" / rel
    owners = {p.group_id for p in luma_engine.artifacts.catalog if str(path) in p.images}
    assert owners, f"{rel} belongs to no product"
    res = luma_engine.search(Query(image=_photo_bytes(path, crop), k=3))
    assert all(c >= luma_engine.settings.photo_label_min_confidence for _, c in res.photo_labels)  # only sure ones
    assert any(h.product.group_id in owners for h in res.hits), [h.product.id for h in res.hits]


def test_filters_are_respected(luma_engine):
    res = luma_engine.search(Query(text="jacket", k=10, filters=Filters(category="Women", price_max=60)))
    assert res.hits
    for h in res.hits:
        assert h.product.category.startswith("Women/") and h.product.price <= 60


def test_variants_collapse_to_one_per_model(luma_engine):
    res = luma_engine.search("hoodie", k=10)
    groups = [h.product.group_id for h in res.hits]
    assert len(groups) == len(set(groups))
    raw = luma_engine.search(Query(text="hoodie", k=10, collapse_variants=False))
    assert len({h.product.group_id for h in raw.hits}) < 10


def test_parsed_colour_moves_matching_variant_up(luma_engine):
    res = luma_engine.search(Query(text="orange hoodie", k=5, explain=True))
    assert res.parsed.colors == ["orange"]
    top = res.hits[0]
    assert "orange" in [c.lower() for c in top.product.attr("color")]
    assert top.contributions["color_match"] > 0


def test_both_fusions_and_explanations(luma_engine):
    for fusion in ("rrf", "linear"):
        res = luma_engine.search(Query(text="yoga bag", k=5, fusion=fusion, explain=True))
        assert res.fusion == fusion and len(res.hits) == 5
        h = res.hits[0]
        assert sum(h.contributions.values()) == pytest.approx(h.score, abs=1e-4)
        assert set(h.features) >= {"bm25_title", "cos_text", "cos_label", "rrf"}


def test_similar_items_leave_out_own_variants(luma_engine):
    hits = luma_engine.similar("24-MB02", k=5)
    assert len(hits) == 5 and all(h.product.group_id != "24-MB02" for h in hits)
    assert sum(_is_bag(h.product) for h in hits) >= 3


def test_weights_come_from_settings(luma_engine):
    from shoprank.engine import ShopRank

    off = ("cos_text", "rrf", "bm25_title", "bm25_category", "bm25_description", "bm25_attributes")
    s = luma_engine.settings.model_copy(update={"ranker": "linear", "ranker_weights": {n: 0.0 for n in off},
                                                "retriever_weights": {"label": 0.0}})
    e = ShopRank(luma_engine.artifacts, s, luma_engine.text_encoder, luma_engine.image_encoder)
    assert e.pipeline.retriever.weights["label"] == 0.0 and e.pipeline.retriever.weights["bm25"] == 1.0
    h = e.search(Query(text="backpack", k=3, explain=True)).hits[0]
    assert "cos_text" not in h.contributions and "bm25_title" not in h.contributions
