import re
from pathlib import Path

import pytest
from PIL import Image

from shoprank.catalog import load_catalog_file
from shoprank.catalog.demo import write_demo_catalog

_CJK = re.compile(r"[\u4e00-\u9fff]")


def test_demo_catalog_loads_with_images(tmp_path):
    path = write_demo_catalog(tmp_path)
    assert path == tmp_path / "products.jsonl"
    res = load_catalog_file(path)
    assert res.errors == []
    products = res.products
    assert len(products) >= 40
    assert len({p.id for p in products}) == len(products)
    assert sum(bool(_CJK.search(p.title)) for p in products) >= len(products) // 2
    assert sum(p.category.startswith("Bags/") for p in products) >= 5
    assert all(p.attr("color") and p.price and p.description for p in products)
    for p in products:
        img = Path(p.images[0])
        assert img.is_file(), img
        with Image.open(img) as im:
            assert im.size == (320, 320)


@pytest.mark.slow  # draws the demo's photos twice
def test_demo_catalog_is_deterministic_and_overwrites(tmp_path):
    first = write_demo_catalog(tmp_path).read_bytes()
    image = tmp_path / "images" / "demo-backpack-red.png"
    pixels = image.read_bytes()
    assert write_demo_catalog(tmp_path).read_bytes() == first
    assert image.read_bytes() == pixels
