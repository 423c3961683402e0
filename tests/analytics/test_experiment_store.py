"""The file experiment store's own behaviour (its contract suite: tests/stores/experiment_store_contract.py)."""
from __future__ import annotations

import json

from shoprank.analytics.experiment_store import FileExperimentStore
from shoprank.analytics.experiments import Arm, Experiment

EXP = Experiment(name="e1", kind="interleave", control=Arm(name="a"), treatment=Arm(name="b", fusion="linear"))


def test_written_as_json_at_its_path_by_rename(tmp_path):
    path = tmp_path / "home" / "experiment.json"
    store = FileExperimentStore(path)
    store.put(EXP)
    assert json.loads(path.read_text())["name"] == "e1"
    assert sorted(p.name for p in path.parent.iterdir()) == ["experiment.json"]  # no temp file left


def test_a_file_edited_into_garbage_keeps_the_last_good_experiment(tmp_path, caplog):
    path = tmp_path / "experiment.json"
    writer, reader = FileExperimentStore(path), FileExperimentStore(path, recheck_s=0.0)
    writer.put(EXP)
    assert reader.get() == EXP
    path.write_text('{"name": "e2", "kind": "ab"')  # torn, or hand-edited
    assert reader.get() == EXP and "not a valid experiment" in caplog.text
    path.unlink()
    assert reader.get() is None
