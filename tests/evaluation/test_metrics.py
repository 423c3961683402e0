import pytest

pytest.importorskip("ranx", reason="pip install 'shoprank[eval]'")

from shoprank.evaluation.metrics import evaluate_run


# ranx compiles its metrics with numba on first use (~25 s in a fresh environment): slow tier.
@pytest.mark.slow
def test_metrics_agree_with_hand_computation():
    qrels = {"q1": {"a": 3, "b": 1}, "q2": {"c": 2}, "q3": {"x": 1}}
    run = {"q1": {"a": 0.9, "c": 0.8, "b": 0.5}, "q2": {"a": 0.7, "c": 0.4}}  # q3 returned nothing
    means, per_q = evaluate_run(qrels, run)
    # q1 ranks a(3), c(0), b(1): DCG = 3/log2(2) + 1/log2(4) = 3.5; ideal = 3 + 1/log2(3).
    ndcg_q1 = 3.5 / (3 + 1 / 1.5849625007211562)
    ndcg_q2 = (2 / 1.5849625007211562) / 2  # c at rank 2
    assert per_q["ndcg@10"]["q1"] == pytest.approx(ndcg_q1)
    assert per_q["ndcg@10"]["q2"] == pytest.approx(ndcg_q2)
    assert per_q["ndcg@10"]["q3"] == 0.0
    assert means["ndcg@10"] == pytest.approx((ndcg_q1 + ndcg_q2) / 3)
    # AP(q1) = (1/1 + 2/3) / 2; AP(q2) = 1/2.  RR: 1, 1/2, 0.  Recall: 1, 1, 0.
    assert means["map@100"] == pytest.approx(((1 + 2 / 3) / 2 + 0.5) / 3)
    assert means["mrr@100"] == pytest.approx(1.5 / 3)
    assert means["recall@100"] == pytest.approx(2 / 3)


@pytest.mark.slow
def test_a_single_metric_is_returned_by_name():
    qrels = {"q1": {"a": 3, "b": 1}, "q2": {"c": 2}}
    run = {"q1": {"b": 0.9, "a": 0.5}, "q2": {"c": 1.0}}
    means, per_q = evaluate_run(qrels, run, ["mrr@100"])
    assert means == {"mrr@100": pytest.approx(1.0)}
    assert per_q["mrr@100"] == {"q1": 1.0, "q2": 1.0}


def test_paired_p_value():
    from shoprank.evaluation.harness import EvalReport
    from shoprank.evaluation.report import markdown_table, paired_p

    rep = EvalReport("toy", 4, 10)
    rep.means = {"bm25": {m: 0.5 for m in ("ndcg@10", "map@100", "mrr@100", "recall@100")},
                 "lambdamart": {m: 0.6 for m in ("ndcg@10", "map@100", "mrr@100", "recall@100")}}
    rep.per_query = {"bm25": {"ndcg@10": {"a": 0.5, "b": 0.4, "c": 0.6, "d": 0.5}},
                     "lambdamart": {"ndcg@10": {"a": 0.6, "b": 0.5, "c": 0.75, "d": 0.55}}}
    # differences 0.1, 0.1, 0.15, 0.05: mean 0.1, sd 0.0408 -> t = 4.899 with 3 df -> p = 0.0163
    assert paired_p(rep, "lambdamart", "bm25") == pytest.approx(0.0163, abs=5e-4)
    assert "LambdaMART vs best baseline (bm25) on ndcg@10: +0.1000 (+20.0%)" in markdown_table(rep)
