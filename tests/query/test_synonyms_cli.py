"""`shoprank synonyms import FILE` and `shoprank synonyms list`."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from shoprank.cli import app
from shoprank.config import get_settings


@pytest.fixture
def runner(tmp_path, monkeypatch, demo_catalog):
    from shoprank.engine import ShopRank

    monkeypatch.setenv("SHOPRANK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHOPRANK_TEXT_ENCODER", "hashing")
    monkeypatch.setenv("SHOPRANK_IMAGE_ENCODER", "none")
    monkeypatch.setenv("SHOPRANK_PROFILE_STORE", "memory")
    get_settings.cache_clear()
    ShopRank.build(demo_catalog, get_settings().index_dir("demo"), get_settings())
    yield CliRunner()
    get_settings.cache_clear()


def test_import_then_list_then_search(runner, tmp_path):
    from shoprank.engine import ShopRank

    f = tmp_path / "synonyms.txt"
    f.write_text("# bags\nrucksack, backpack, knapsack\ntee => t-shirt\nlonely\n", encoding="utf-8")
    out = runner.invoke(app, ["synonyms", "import", str(f), "--name", "demo"])
    assert out.exit_code == 0, out.output
    assert "imported 2 synonym sets (1 bad lines); 2 in demo" in out.stdout
    assert "skipped line 4: a multi-way set needs at least two different terms" in out.stderr
    again = runner.invoke(app, ["synonyms", "import", str(f), "--name", "demo"])
    assert "2 in demo" in again.stdout  # the same sets are kept once
    listed = runner.invoke(app, ["synonyms", "list", "--name", "demo"])
    lines = sorted(line.split("\t")[1] for line in listed.stdout.splitlines())
    assert lines == ["rucksack = backpack = knapsack", "tee → t-shirt"]
    engine = ShopRank.open(get_settings().index_dir("demo"), get_settings())
    assert [r.text for r in engine.search("rucksack").rewrites] == ["backpack", "knapsack"]
    f.write_text("bag, tote\n", encoding="utf-8")
    runner.invoke(app, ["synonyms", "import", str(f), "--name", "demo", "--replace"])
    listed = runner.invoke(app, ["synonyms", "list", "--name", "demo"])
    assert [line.split("\t")[1] for line in listed.stdout.splitlines()] == ["bag = tote"]


def test_an_unknown_index_is_one_line(runner, tmp_path):
    f = tmp_path / "s.txt"
    f.write_text("a, b\n")
    out = runner.invoke(app, ["synonyms", "list", "--name", "nope"])
    assert out.exit_code == 2 and len(out.stderr.splitlines()) == 1 and "no shoprank index at" in out.stderr
    out = runner.invoke(app, ["synonyms", "import", str(f), "--name", "nope"])
    assert out.exit_code == 2 and "no shoprank index at" in out.stderr
