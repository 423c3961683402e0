"""The default ranker trained on labelled sets and checked on a set it never saw (real data, small samples)."""
from __future__ import annotations

import pytest

from conftest import DATA_DIR, needs_luma
from shoprank.evaluation.transfer import BASELINES, cross_check, fit_default, labelled_rows
from shoprank.ranking import load_ranker
from shoprank.ranking.default import DefaultRanker

pytestmark = [needs_luma, pytest.mark.skipif(not (DATA_DIR / "relevance").is_dir(),
                                             reason=f"labelled sets not found under {DATA_DIR} (SHOPRANK_DATA_DIR)")]


@pytest.fixture(scope="module")
def sets(settings):
    pytest.importorskip("lightgbm", reason="pip install 'shoprank[ltr]'")
    s = settings.model_copy(update={"text_encoder": "hashing", "image_encoder": "none", "ranker": "linear"})
    return labelled_rows("crowdflower", s, max_queries=12), labelled_rows("homedepot", s, max_queries=40)


def test_trained_on_one_set_it_is_scored_on_every_query_of_the_other(sets):
    cf, hd = sets
    rep, name = cross_check(cf, hd, "hashing", num_rounds=20)
    assert name == "default (trained on crowdflower)" and set(rep.means) == {name, *BASELINES}
    assert len(rep.per_query[name]["ndcg@10"]) == len(hd.cands) == rep.queries
    assert rep.means[name]["ndcg@10"] > 0.2  # far above a random order of ~200 candidates


def test_each_set_teaches_what_it_varies_and_the_rest_falls_back(sets):
    cf, hd = sets
    both = fit_default([cf, hd], "hashing", num_rounds=20)
    assert both.trained_on == ["crowdflower", "homedepot"] and both.text_encoder == "hashing"
    assert {"user_category", "cf_score", "has_image", "rating"} <= set(both.fallback)
    # Home Depot's products have titles only: its rows never vary the description features.
    assert "bm25_description" in fit_default([hd], "hashing", num_rounds=20).fallback
    assert "bm25_description" not in both.fallback and "bm25_title" not in both.fallback


def test_the_command_saves_a_servable_model_and_the_cross_set_tables(runner_env, tmp_path):
    from typer.testing import CliRunner

    from shoprank.cli import app

    out = CliRunner().invoke(app, ["train-default", "--text-encoder", "hashing", "--max-queries", "12",
                                   "--rounds", "20", "--out", str(tmp_path / "m"), "--report", str(tmp_path / "r")])
    assert out.exit_code == 0, out.output
    assert isinstance(load_ranker(tmp_path / "m"), DefaultRanker)
    tables = (tmp_path / "r" / "cross-set-hashing.md").read_text()
    assert "default (trained on crowdflower) on homedepot" in tables and "default (trained on homedepot)" in tables


@pytest.fixture
def runner_env(tmp_path, monkeypatch):
    from shoprank.config import get_settings

    monkeypatch.setenv("SHOPRANK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHOPRANK_DATA_DIR", str(DATA_DIR))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
