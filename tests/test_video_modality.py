"""Touch-list (a) end to end: a "fake_video" modality (a stand-in beside the real "video") is added
the way a developer adds one, on a copy of the package (one spec appended to ``MODALITIES``, one
source-and-encoder file, its two registration lines), and an engine over that copy retrieves it,
computes its ranking feature, explains and serves it, while the shipped default ranker still loads
and scores exactly as the unmodified package does on the other features.

``MODALITIES`` is read at import time (the feature registry, the retrievers, the builder, the
query photo's encoding), so the edited copy runs in a child process (tests/video_engine.py)."""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import shoprank
from shoprank.ranking.base import CandidateBatch

pytest.importorskip("lightgbm", reason="pip install 'shoprank[ltr]'")
from shoprank.ranking.default import DefaultRanker, default_ranker

pytestmark = pytest.mark.slow  # a child process over a copy of the package

TESTS = Path(__file__).resolve().parent
FAKE = TESTS / "index" / "video_source.py"  # the fake modality: its spec, encoder and source


def _spec_call() -> str:
    """The source text of the fake's ``VIDEO = ModalitySpec(...)``: the line a developer appends."""
    text = FAKE.read_text()
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["VIDEO"]:
            segment = ast.get_source_segment(text, node.value)
            assert segment is not None  # indented as the tuple's other items
            return segment.replace("\n" + " " * node.value.col_offset, "\n    ")
    raise AssertionError(f"no VIDEO spec in {FAKE}")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path}: {old!r} is not where a developer would edit"
    path.write_text(text.replace(old, new))


def add_video_modality(root: Path) -> Path:
    """A copy of the package under ``root`` with the developer's edits, and nothing else."""
    pkg = root / "shoprank"
    shutil.copytree(Path(shoprank.__file__).parent, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    # 1. One spec, appended to the modalities.
    _edit(pkg / "modalities.py", "\n)\n\nBY_NAME", f"\n    {_spec_call()},\n)\n\nBY_NAME")
    # 2. One file: the source (pooling a product's frames) and the encoder of its frames.
    shutil.copy(FAKE, pkg / "index" / "sources" / "fake_video.py")
    # 3. Their registrations, beside the others.
    _edit(pkg / "index" / "sources" / "__init__.py", "\n\n__all__",
          '\nSOURCES.register("fake_video_frames", "shoprank.index.sources.fake_video:VideoFrames")\n\n__all__')
    _edit(pkg / "encoders" / "__init__.py", "\n\n__all__",
          '\nIMAGE_ENCODERS.register("fake-frames", "shoprank.index.sources.fake_video:FrameEncoder")\n\n__all__')
    return pkg


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> dict:
    """What the engine over the edited copy reports (tests/video_engine.py)."""
    root = tmp_path_factory.mktemp("video-pkg")
    add_video_modality(root)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(TESTS)])}
    done = subprocess.run([sys.executable, str(TESTS / "video_engine.py"), str(tmp_path_factory.mktemp("fake_video"))],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(out["package"]).resolve().is_relative_to(root.resolve())  # the copy ran, not the installed package
    return out


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> dict:
    """The same engine and queries on the unmodified package: the reference."""
    from video_engine import queries, tiny_video_engine

    folder = tmp_path_factory.mktemp("plain")
    engine = tiny_video_engine(folder)
    assert isinstance(engine.ranker, DefaultRanker)
    out = {}
    for name, q in queries(folder).items():
        batch = engine.candidates(q).batch
        out[name] = {"retrievers": engine.search(q).retrievers, "ids": batch.product_ids, "names": batch.names,
                     "X": batch.X, "scores": engine.ranker.score(batch)}
    return out


def test_the_packaged_default_ranker_loads_beside_the_new_feature(video):
    # Loaded as saved (SHOPRANK_RANKER_MODEL) and by default_ranker: not the linear ranker served in its stead.
    assert video["ranker"] == video["default_ranker"] == "DefaultRanker"
    assert video["ranker_reads"] == default_ranker("minilm").feature_names
    assert "cos_fake_video" in video["searches"]["photo"]["names"] and "cos_fake_video" not in video["ranker_reads"]


@pytest.mark.parametrize("name", ["photo", "text+photo"])
def test_a_photo_query_retrieves_and_features_the_video_modality(video, name):
    found = video["searches"][name]
    assert "fake_video" in found["retrievers"] and "image" in found["retrievers"]
    hits = found["hits"]
    assert hits and all("cos_fake_video" in h["features"] for h in hits)
    assert any("fake_video" in h["retrievers"] for h in hits)
    # The query photo is the green hoodie's: its one frame pools to itself.
    best = max(hits, key=lambda h: h["features"]["cos_fake_video"])
    assert best["id"] == "hoodie-green" and best["features"]["cos_fake_video"] == pytest.approx(1.0, abs=1e-5)
    for h in hits:  # the explanation adds up to the score
        assert sum(h["contributions"].values()) == pytest.approx(h["score"], abs=1e-4)


def test_a_text_query_leaves_the_video_modality_out(video):
    found = video["searches"]["text"]
    assert "fake_video" not in found["retrievers"]
    assert all(h["features"]["cos_fake_video"] == 0.0 for h in found["hits"])


def test_a_ranker_that_weighs_the_feature_explains_it(video):
    hits = video["linear"]
    assert hits and any(h["contributions"].get("cos_fake_video", 0.0) > 0 for h in hits)
    for h in hits:
        assert sum(h["contributions"].values()) == pytest.approx(h["score"], abs=1e-4)


def test_a_live_write_is_pooled_and_a_reopened_index_holds_the_modality(video):
    written = video["written"]
    assert written["rows"] == 1  # two frames, one pooled row
    assert written["cos_fake_video"] == pytest.approx(1.0, abs=1e-5) and "fake_video" in written["retrievers"]
    reopened = written["reopened"]
    assert "fake_video" in reopened["modalities"] and "fake_video" in reopened["retrievers"]
    assert "clip" in reopened["hits"]  # the write logged since the build is caught up


def test_the_service_answers_a_photo_search_with_the_video_retriever(video):
    served = video["served"]
    assert served["status"] == 200 and "fake_video" in served["retrievers"]
    assert served["results"][0]["id"] == video["searches"]["photo"]["hits"][0]["id"]
    assert any("fake_video" in r["retrievers"] for r in served["results"])


@pytest.mark.parametrize("name", ["photo", "text+photo", "text"])
def test_the_default_ranker_scores_the_other_features_exactly_as_before(video, name):
    found = video["searches"][name]
    # In the copy, with and without the cos_fake_video column.
    assert found["scores"] == found["scores_without_video"]
    # In the unmodified package, the same rows without that column.
    names = [n for n in found["names"] if n != "cos_fake_video"]
    X = np.array(found["X"], np.float32)[:, [found["names"].index(n) for n in names]]
    model = default_ranker("minilm")
    assert model.score(CandidateBatch(X, names=names)).tolist() == found["scores"]


def test_a_text_query_is_scored_as_the_unmodified_package_scores_it(video, plain):
    found, ref = video["searches"]["text"], plain["text"]
    assert found["retrievers"] == ref["retrievers"] and found["ids"] == ref["ids"]
    keep = [found["names"].index(n) for n in ref["names"]]
    assert ref["names"] == [n for n in found["names"] if n != "cos_fake_video"]
    assert np.array_equal(np.array(found["X"], np.float32)[:, keep], ref["X"])
    assert found["scores"] == ref["scores"].tolist()


@pytest.mark.parametrize("name", ["photo", "text+photo"])
def test_a_photo_query_keeps_every_other_feature_of_the_unmodified_package(video, plain, name):
    """The new retriever joins the fusion (``rrf`` moves); every other feature of a candidate is as before."""
    found, ref = video["searches"][name], plain[name]
    assert sorted(found["retrievers"]) == sorted([*ref["retrievers"], "fake_video"])
    at = {pid: i for i, pid in enumerate(ref["ids"])}
    shared = [i for i, pid in enumerate(found["ids"]) if pid in at]
    assert shared
    X = np.array(found["X"], np.float32)
    for n in ref["names"]:
        if n != "rrf":
            assert np.array_equal(X[shared, found["names"].index(n)],
                                  ref["X"][[at[found["ids"][i]] for i in shared], ref["names"].index(n)]), n
