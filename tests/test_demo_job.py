"""The README's main job: `shoprank demo` builds its own catalog, indexes it and answers queries."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from shoprank.types import Query

pytestmark = pytest.mark.slow  # a child process


def test_demo_command_builds_and_searches(tmp_path):
    env = {**os.environ, "SHOPRANK_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "shoprank.cli", "demo", "--no-serve"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "indexed 54 products, 54 images" in out.stdout
    assert (tmp_path / "indexes" / "demo" / "CURRENT").read_text().strip() == "gen-000001"
    assert (tmp_path / "indexes" / "demo" / "gen-000001" / "manifest.json").is_file()
    line = next(ln for ln in out.stdout.splitlines() if "'red backpack'" in ln)
    assert line.split(": ", 1)[1].startswith("Red ") and "Backpack" in line


def test_demo_search_english_chinese_and_photo(demo_engine):
    assert demo_engine.search("red backpack", k=1).hits[0].product.id == "demo-backpack-red"
    top = demo_engine.search("女士瑜伽裤", k=3).hits
    assert all(h.product.category == "Women/Bottoms/Pants" for h in top)
    mug = demo_engine.search("coffee mug under 15", k=5)
    assert mug.parsed.price_max == 15
    assert mug.hits[0].product.category == "Home/Kitchen/Mugs" and mug.hits[0].product.price <= 15
    p = demo_engine.product("demo-wrist-watch-green")
    with Image.open(p.images[0]) as im:
        buf = io.BytesIO()
        im.convert("RGB").rotate(8, fillcolor="white").save(buf, "JPEG")
    hits = demo_engine.search(Query(image=buf.getvalue(), k=3)).hits
    assert hits[0].product.id == "demo-wrist-watch-green"
    assert Path(p.images[0]).is_file()
