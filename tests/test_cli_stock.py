"""`shoprank search` says which results cannot be bought now."""
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


def test_search_results_show_stock(runner, tmp_path):
    shop = tmp_path / "shop.jsonl"
    shop.write_text('{"id": "bag-kids", "title": "Kids Sleeping Bag", "stock": 0}\n'
                    '{"id": "bag-adult", "title": "Adult Sleeping Bag", "stock": 4}\n')
    assert runner.invoke(app, ["index", str(shop), "--name", "s"]).exit_code == 0
    out = runner.invoke(app, ["search", "sleeping bag", "--name", "s"])
    assert out.exit_code == 0, out.output
    lines = {ln.split()[2]: ln for ln in out.stdout.splitlines() if "Sleeping Bag" in ln}
    assert lines["bag-kids"].endswith("[out of stock]") and "out of stock" not in lines["bag-adult"]
