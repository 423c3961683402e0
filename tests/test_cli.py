"""`shoprank index`: a mistyped catalog is one line on stderr and a non-zero exit, not a traceback."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from shoprank.cli import app


@pytest.fixture
def runner(tmp_path, monkeypatch):
    from shoprank.config import get_settings

    monkeypatch.setenv("SHOPRANK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHOPRANK_TEXT_ENCODER", "hashing")
    monkeypatch.setenv("SHOPRANK_IMAGE_ENCODER", "none")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.mark.parametrize(("name", "says"), [("missing.csv", "no such catalog file"),
                                            ("shop.xml", "unsupported catalog format '.xml'"),
                                            ("shop", "unsupported catalog format '(none)'")])
def test_a_bad_catalog_argument_is_one_line_and_exit_2(runner, tmp_path, name, says):
    (tmp_path / "shop.xml").write_text("<shop/>")
    (tmp_path / "shop").write_text("")
    out = runner.invoke(app, ["index", str(tmp_path / name), "--name", "t"])
    assert out.exit_code == 2 and isinstance(out.exception, SystemExit)
    assert len(out.stderr.splitlines()) == 1 and out.stderr.startswith(f"error: {tmp_path / name}: {says}")
    assert not (tmp_path / "home" / "indexes").exists()


def test_a_missing_magento_folder_is_one_line(runner, tmp_path):
    out = runner.invoke(app, ["index", "--magento", str(tmp_path / "nope"), "--name", "t"])
    assert out.exit_code == 2 and len(out.stderr.splitlines()) == 1 and "no fixtures/ folder" in out.stderr


def test_an_unreadable_file_is_reported_and_the_others_are_indexed(runner, tmp_path):
    good, corrupt = tmp_path / "good.csv", tmp_path / "bad.parquet"
    good.write_text("id,title\np1,Canvas Backpack\np2,Wool Beanie\np1,Again\n")
    corrupt.write_bytes(b"PAR1 not really parquet")
    out = runner.invoke(app, ["index", str(corrupt), str(good), "--name", "t"])
    assert out.exit_code == 0, out.output
    assert f"skipped file {corrupt}: cannot read (ArrowInvalid)" in out.stderr
    assert f"skipped row {good}:4: duplicate id 'p1'" in out.stderr
    assert "indexed 2 products" in out.stdout and "1 rows skipped, 0 warnings, 1 files unreadable" in out.stdout


def test_update_applies_rows_as_writes_and_compact_folds_them_in(runner, tmp_path):
    from shoprank.config import get_settings
    from shoprank.engine import ShopRank

    base, more = tmp_path / "base.jsonl", tmp_path / "more.jsonl"
    base.write_text('{"id": "a", "title": "Red Mug"}\n{"id": "b", "title": "Blue Bowl"}\n')
    more.write_text('{"id": "c", "title": "Quibbleton Lamp"}\n{"id": "a", "title": "Red Mug", "price": 3}\n')
    assert runner.invoke(app, ["index", str(base), "--name", "t"]).exit_code == 0
    out = runner.invoke(app, ["index", str(more), "--name", "t", "--update"])
    assert out.exit_code == 0 and "applied 2 products as catalog writes 1..2" in out.stdout
    engine = ShopRank.open(get_settings().index_dir("t"), get_settings())
    assert engine.search("quibbleton", k=1).hits[0].product.id == "c" and engine.product("a").price == 3
    out = runner.invoke(app, ["index", "--name", "t", "--compact"])
    assert out.exit_code == 0 and "compacted 3 products up to catalog write 2" in out.stdout
    assert engine.reload() and engine.artifacts.manifest["catalog_seq"] == 2 and engine.product("c") is not None
