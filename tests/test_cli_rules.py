"""`shoprank rules list | import FILE | delete ID`: the rules PUT /admin/rules keeps, from the command line."""
from __future__ import annotations

import json

import pytest

from fakes import cli_runner
from shoprank.cli import app
from shoprank.config import get_settings


@pytest.fixture
def runner(tmp_path, monkeypatch):
    yield from cli_runner(tmp_path, monkeypatch)


def test_import_list_delete(runner, tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps([{"id": "bags", "query": "backpack", "pin": ["p1"]},
                                {"id": "tents", "category": "Camping", "hide": ["p2"], "active_until": 1}]))
    out = runner.invoke(app, ["rules", "import", str(path)])
    assert out.exit_code == 0, out.output
    assert "imported 2 rules; 2 stored" in out.output
    listed = [json.loads(line) for line in runner.invoke(app, ["rules", "list"]).output.splitlines()]
    assert listed == [{"id": "bags", "active": True, "query": "backpack", "pin": ["p1"]},
                      {"id": "tents", "active": False, "category": "Camping", "hide": ["p2"], "active_until": 1.0}]
    assert runner.invoke(app, ["rules", "delete", "bags"]).exit_code == 0
    out = runner.invoke(app, ["rules", "delete", "bags"])
    assert out.exit_code == 2 and "no rule 'bags'" in out.output
    assert [json.loads(line)["id"] for line in runner.invoke(app, ["rules", "list"]).output.splitlines()] == ["tents"]


def test_a_bad_rule_file_imports_nothing_and_says_why(runner, tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"ok": {"query": "tent", "pin": ["p1"]}, "bad": {"query": "tent"}}))
    out = runner.invoke(app, ["rules", "import", str(path)])
    assert out.exit_code == 2 and "rule 'bad'" in out.output and "at least one of pin" in out.output
    assert runner.invoke(app, ["rules", "list"]).output == ""


def test_import_checks_product_ids_against_an_index(runner, tmp_path, demo_catalog):
    from shoprank.engine import ShopRank

    settings = get_settings()
    ShopRank.build(demo_catalog, settings.index_dir("demo"), settings)
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"bags": {"query": "backpack", "pin": ["demo-backpack-red", "nope"]}}))
    out = runner.invoke(app, ["rules", "import", str(path), "--index", "demo"])
    assert out.exit_code == 2 and "unknown product ids ['nope'] in index 'demo'" in out.output
    path.write_text(json.dumps({"bags": {"query": "backpack", "pin": ["demo-backpack-red"]}}))
    assert runner.invoke(app, ["rules", "import", str(path), "--index", "demo"]).exit_code == 0
    out = runner.invoke(app, ["rules", "import", str(path), "--index", "nowhere"])
    assert out.exit_code == 2 and "no index 'nowhere'" in out.output
