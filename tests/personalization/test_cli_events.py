"""`shoprank events import`: a real log into the durable store, bad lines reported."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from conftest import DATA_DIR
from shoprank.cli import app
from shoprank.personalization.store.sqlite import SQLiteEventLog

OTTO = DATA_DIR / "behaviour" / "otto_sample" / "train.jsonl"


@pytest.mark.skipif(not OTTO.is_file(), reason=f"OTTO sample not found at {OTTO} (set SHOPRANK_DATA_DIR)")
def test_import_otto_into_the_event_log(tmp_path, monkeypatch):
    from shoprank.config import get_settings

    log_file = tmp_path / "log.jsonl"
    log_file.write_text(OTTO.read_text() + "{not json\n")
    monkeypatch.setenv("SHOPRANK_EVENTS_DB", str(tmp_path / "events.sqlite"))
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(app, ["events", "import", "otto", str(log_file)])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    assert "imported 862 events (1 bad lines)" in out.output
    log = SQLiteEventLog(tmp_path / "events.sqlite")
    assert log.count() == 862 and log.count("otto-0") > 0
    log.close()
