"""Kill -9 `shoprank index` at every stage of a rebuild: the index always opens, and its BM25
hits map to the products of the catalog it was built from; the next rebuild succeeds."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fakes import MARKER, shop_catalog, shop_rows, write_jsonl
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.index.crashpoints import CRASH_ENV, CRASH_STAGES
from shoprank.index.generations import IndexHome

SRC = Path(__file__).resolve().parents[2] / "src"
pytestmark = pytest.mark.slow  # child processes (about 1.5 s each)
OLD, NEW = "A-0137", "B-0042"  # the marker product of the served catalog and of the one being indexed


def _settings(home: Path) -> Settings:
    return Settings(home=home, text_encoder="hashing", image_encoder="none", profile_store="memory")


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    """An index with two generations (so that a rebuild has one to remove), and the next catalog."""
    home = tmp_path_factory.mktemp("seed")
    ShopRank.build(shop_catalog("A0", marker_at=11), _settings(home).index_dir("shop"), _settings(home))
    ShopRank.build(shop_catalog("A", marker_at=137), _settings(home).index_dir("shop"), _settings(home))
    write_jsonl(home / "next.jsonl", shop_rows("B", marker_at=42))
    return home


def _index(home: Path, crash_at: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SHOPRANK_HOME": str(home), "SHOPRANK_TEXT_ENCODER": "hashing",
           "SHOPRANK_IMAGE_ENCODER": "none", CRASH_ENV: crash_at,
           "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)}
    return subprocess.run([sys.executable, "-m", "shoprank.cli", "index", str(home / "next.jsonl"), "--name", "shop"],
                          env=env, capture_output=True, text=True, timeout=120)


def _assert_hits_map_to_their_products(engine: ShopRank, marker: str) -> None:
    assert engine.search(MARKER, k=1).hits[0].product.id == marker
    art = engine.artifacts
    for product in art.catalog.products[::37]:  # titles are unique: each must find its own product
        pos, _ = art.lexical.search(product.title, 1)[0]
        assert art.catalog.products[pos].id == product.id


@pytest.mark.parametrize("stage", CRASH_STAGES)
def test_sigkill_during_a_rebuild_leaves_a_consistent_index(seed, tmp_path, stage):
    home = tmp_path / "home"
    shutil.copytree(seed, home)
    root = _settings(home).index_dir("shop")

    killed = _index(home, stage)
    assert killed.returncode == -9, killed.stderr[-2000:]  # it reached the stage and died there

    published = CRASH_STAGES.index(stage) >= CRASH_STAGES.index("switched")
    served = ShopRank.open(root, _settings(home))
    assert served.generation == ("gen-000003" if published else "gen-000002")
    _assert_hits_map_to_their_products(served, NEW if published else OLD)

    rebuilt = _index(home, "")
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    home_ = IndexHome(root)
    assert home_.current() == "gen-000004"
    # The crashed build's leftovers are gone; the generation served above is the previous one, kept.
    assert sorted(os.listdir(root)) == [".lock", "CURRENT", served.generation, "gen-000004"]
    assert served.reload() is True and served.generation == "gen-000004"
    _assert_hits_map_to_their_products(served, NEW)
