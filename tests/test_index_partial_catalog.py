"""A malformed catalog row is reported, and every other row is indexed and searchable."""
from __future__ import annotations

import json

from shoprank.catalog import Catalog, load_catalog_file
from shoprank.config import Settings
from shoprank.engine import ShopRank


def test_malformed_row_is_reported_and_the_rest_is_searchable(tmp_path, settings, text_encoder):
    f = tmp_path / "shop.csv"
    f.write_text(
        "id,title,description,categories,price\n"
        "b1,Canvas Backpack,A sturdy canvas backpack for school,Bags/Backpacks,39\n"
        "b2,Steel Water Bottle,Keeps drinks cold,Outdoor/Bottles,not-a-price\n"
        "b3,Wool Beanie,Warm knitted hat,Accessories/Hats,15\n"
        'b4,"Broken quote,Oops,Misc,3\n')
    res = load_catalog_file(f)
    assert [e.line for e in res.errors] == [3, 5]
    assert [p.id for p in res.products] == ["b1", "b3"]
    s = Settings(home=settings.home, image_encoder="none")
    engine = ShopRank.build(Catalog(res.products), tmp_path / "idx", s, text_encoder, None)
    assert engine.artifacts.manifest["products"] == 2
    assert engine.search("backpack", k=1).hits[0].product.id == "b1"
    assert engine.search("hat", k=1).hits[0].product.id == "b3"
    reopened = ShopRank.open(tmp_path / "idx", s)
    assert reopened.search("beanie", k=1).hits[0].product.id == "b3"
    assert json.loads((tmp_path / "idx" / "gen-000001" / "manifest.json").read_text())["image_encoder"] is None
