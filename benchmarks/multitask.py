"""Multi-task CTR / CVR heads (ESMM, position-aware) learned from logged impressions — simulated.

Simulated Luma shoppers (shoprank.evaluation.traffic) use a real server over HTTP, with the
default (personalized) ranking; their impressions and events are the training log. Rows are
(search, shown product) with the product's features for the query, its position, click and
purchase; shoppers are split 80/20 into train and test. Reported: AUC of the heads on the
test shoppers' impressions, and nDCG@10 against the shoppers' hidden grades (mean over a
population) for rankings of every query's 200 candidates by the linear ranker and by the
heads blended with different conversion weights. All figures are simulated.

    python benchmarks/multitask.py [--sessions 600 --searches 8]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from common import DATA_DIR, OUT, REPO, save, table
from server_process import start_server, stop_server
from shoprank.analytics.impressions import SQLiteImpressionLog
from shoprank.analytics.report import join
from shoprank.catalog import Catalog, load_magento
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.evaluation.metrics import evaluate_run
from shoprank.evaluation.simulator import ShopperModel, make_shoppers
from shoprank.evaluation.traffic import TRAFFIC_QUERIES, HttpShop, drive
from shoprank.personalization.store.sqlite import SQLiteEventLog
from shoprank.ranking.linear import LinearRanker
from shoprank.ranking.multitask import Blend, ImpressionRows, MultiTaskRanker, auc
from shoprank.types import Query

ADMIN = "multitask-admin-key"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=600)
    ap.add_argument("--searches", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    home = Path(tempfile.mkdtemp())
    for shared in ("cache", "models"):
        (home / shared).symlink_to(REPO / "var" / shared)
    settings = Settings(home=home, data_dir=DATA_DIR)
    engine = ShopRank.build(Catalog(load_magento(DATA_DIR / "magento_luma").products), settings.index_dir("luma"),
                            settings)
    products = engine.artifacts.catalog.products
    model = ShopperModel(products)
    shoppers = make_shoppers(products, args.sessions, args.seed + 100, queries=TRAFFIC_QUERIES)
    env = {"SHOPRANK_HOME": str(home), "SHOPRANK_DATA_DIR": str(DATA_DIR), "SHOPRANK_ADMIN_KEY": ADMIN,
           "SHOPRANK_RATE_SEARCH_PER_S": "0", "SHOPRANK_RATE_EVENTS_PER_S": "0", "SHOPRANK_CF_MODEL": "none"}
    url, proc = start_server("luma", env, OUT / "multitask_server.log")
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            traffic = drive(HttpShop(client, ADMIN), model, shoppers, args.searches, args.seed)
    finally:
        stop_server(proc)
    print(f"{traffic.searches} searches, {traffic.events} events in {traffic.seconds:.0f} s (simulated shoppers)")

    views = join(SQLiteImpressionLog(settings.impressions_path).scan(),
                 list(SQLiteEventLog(settings.events_path).scan()))
    cands = {q: engine.candidates(Query(text=q, k=200, collapse_variants=False)) for q in TRAFFIC_QUERIES}
    row_of = {q: {products[p].id: i for i, p in enumerate(c.positions)} for q, c in cands.items()}
    bought = defaultdict(set)
    for se in SQLiteEventLog(settings.events_path).scan():
        if se.event.type == "purchase" and se.event.search_id:
            bought[se.event.search_id].add(se.event.product_id)
    X, pos, clk, buy, grp = [], [], [], [], []
    for v in views:
        q = v.imp.query
        if q not in cands:
            continue
        for r, pid in enumerate(v.imp.products, 1):
            i = row_of[q].get(pid)
            if i is None:
                continue
            X.append(cands[q].X[i])
            pos.append(r)
            clk.append(r in v.clicks)
            buy.append(pid in bought[v.imp.search_id])
            grp.append(v.unit)
    rows = ImpressionRows(np.array(X, np.float32), np.array(pos), np.array(clk), np.array(buy),
                          np.full(len(X), np.nan), np.array(grp))
    units = np.unique(rows.group)
    rng = np.random.default_rng(args.seed)
    test_units = set(rng.choice(units, len(units) // 5, replace=False))
    is_test = np.array([g in test_units for g in rows.group])
    tr = ImpressionRows(*(a[~is_test] for a in (rows.X, rows.position, rows.click, rows.purchase, rows.grade,
                                                 rows.group)))
    mt = MultiTaskRanker.fit(tr, seed=args.seed)
    heads = mt.heads(rows.X[is_test])
    seen = np.array(mt.config["seen_by_position"] + [0.0] * 50)[np.clip(rows.position[is_test] - 1, 0, 59)]
    linear = LinearRanker(engine.settings.ranker_weights)
    lin_scores = linear.score(type(cands[TRAFFIC_QUERIES[0]].batch).from_features(rows.X[is_test]))
    te_click, te_buy = rows.click[is_test], rows.purchase[is_test]
    auc_rows = [
        {"predictor": "pCTR head", "AUC clicks": round(auc(heads["ctr"], te_click), 4),
         "AUC purchases": round(auc(heads["ctr"], te_buy), 4)},
        {"predictor": "P(seen | position) x pCTR", "AUC clicks": round(auc(heads["ctr"] * seen, te_click), 4),
         "AUC purchases": ""},
        {"predictor": "pCTCVR = pCTR x pCVR (ESMM)", "AUC clicks": "",
         "AUC purchases": round(auc(heads["ctcvr"], te_buy), 4)},
        {"predictor": "pCVR head, clicked rows", "AUC clicks": "",
         "AUC purchases": round(auc(heads["cvr"][te_click], te_buy[te_click]), 4)},
        {"predictor": "linear ranker score", "AUC clicks": round(auc(lin_scores, te_click), 4),
         "AUC purchases": round(auc(lin_scores, te_buy), 4)},
    ]
    print(f"{len(rows.X)} impression rows ({int(rows.click.sum())} clicks, {int(rows.purchase.sum())} purchases); "
          f"test shoppers {len(test_units)}; {mt.config['epochs_run']} epochs; learned P(seen | position 1..10) "
          f"{mt.config['seen_by_position']}")
    print(table(auc_rows, ["predictor", "AUC clicks", "AUC purchases"]))

    crowd = shoppers[:200]
    truth = {q: {products[p].id: g for p in model.matching(q)
                 if (g := round(float(np.mean([model.grade(s, q, products[p].id) for s in crowd])))) > 0}
             for q in TRAFFIC_QUERIES}
    rankers = {"linear ranker (hand-set)": linear}
    for name, w in (("pCTR only (w_cvr 0)", 0.0), ("blend w_cvr 0.5 (default)", 0.5), ("pCTCVR (w_cvr 1)", 1.0)):
        rankers[f"multi-task: {name}"] = MultiTaskRanker(mt.net, mt.mean, mt.std, Blend(w_cvr=w), mt.config)
    ndcg_rows = []
    for name, rk in rankers.items():
        run = {q: {products[p].id: float(s) for p, s in sorted(zip(c.positions, rk.score(c.batch)),
                                                                 key=lambda t: -t[1])[:100]}
               for q, c in cands.items()}
        m, _ = evaluate_run(truth, run, ("ndcg@10", "map@100"), name)
        ndcg_rows.append({"ranking": name, **{k: round(v, 4) for k, v in m.items()}})
    print(table(ndcg_rows, ["ranking", "ndcg@10", "map@100"]))
    print(f"load before: {load:.2f}")
    print("results:", save("multitask", {"args": vars(args), "load_before": load, "auc": auc_rows, "ndcg": ndcg_rows,
                                         "rows": len(rows.X), "config": mt.config}))


if __name__ == "__main__":
    main()
