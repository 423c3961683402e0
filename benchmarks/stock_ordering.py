"""What each out-of-stock rule costs in relevance, and where a sold-out exact match ends up.

    python benchmarks/stock_ordering.py [--homedepot-queries 300]

The rule: an out-of-stock product drops below the in-stock ones scoring within ``band`` of the
query's candidate score range above it (``shoprank.search.demote_out_of_stock``); band 0 keeps
its rank, band 1 is the old rule (after every in-stock product).

* Labelled sets (CrowdFlower; a Home Depot query sample on request): no stock there, so a seeded
  random 20 % of products is marked out of stock (3 seeds). Each query is ranked once by the
  default ranker (top 200), then reordered by each band. nDCG@10 uses the judgments unchanged (what
  relevance a rule gives up); "buyable nDCG@10" counts a sold-out product as irrelevant (what a
  shopper who buys now gets); in_stock@10 is the share of the top 10 that can be bought.
* Luma: every product model's exact title as the query, that model out of stock (and a seeded
  20 % of the others): the rank of the sold-out exact match, variants collapsed.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import DATA_DIR, save, table
from shoprank.catalog import Catalog
from shoprank.engine import ShopRank
from shoprank.evaluation.datasets import load_dataset
from shoprank.evaluation.metrics import evaluate_run
from shoprank.search import demote_out_of_stock
from shoprank.types import Query
from signals_common import luma_engine, settings

BANDS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0)
SEEDS = (0, 1, 2)
OUT_SHARE = 0.2


def _ranked(engine: ShopRank, text: str, k: int = 200) -> tuple[list[str], list[str], np.ndarray]:
    """(product ids, group ids, scores) of the served ranking, stock ignored."""
    hits = engine.search(Query(text=text, k=k, collapse_variants=False, out_of_stock_last=False)).hits
    return ([h.product.id for h in hits], [h.product.group_id for h in hits],
            np.array([h.score for h in hits], np.float64))


def labelled(name: str, max_queries: int | None) -> list[dict]:
    ds = load_dataset(name, DATA_DIR, **({"max_queries": max_queries} if max_queries else {}))
    s = settings(text_encoder="e5", image_encoder="none")
    root = s.index_dir(f"stock-{name}-{max_queries or 'all'}")
    try:
        engine = ShopRank.open(root, s)
    except FileNotFoundError:
        engine = ShopRank.build(Catalog(ds.products), root, s)
    ranked = {qid: _ranked(engine, text) for qid, text in ds.queries.items() if ds.qrels.get(qid)}
    all_ids = sorted(p.id for p in ds.products)
    rows = []
    for band in BANDS:
        ndcg, buy, share = [], [], []
        for seed in SEEDS:
            out = set(random.Random(seed).sample(all_ids, int(OUT_SHARE * len(all_ids))))
            run, buy_qrels, top = {}, {}, []
            for qid, (ids, _, scores) in ranked.items():
                buyable = np.array([i not in out for i in ids], bool)
                order = demote_out_of_stock(np.arange(len(ids)), scores, buyable, band)
                run[qid] = {ids[j]: float(len(order) - r) for r, j in enumerate(order)}
                buy_qrels[qid] = {p: g for p, g in ds.qrels[qid].items() if p not in out}
                top.append(buyable[order[:10]].mean() if len(order) else 1.0)
            ndcg.append(evaluate_run(ds.qrels, run, ["ndcg@10"])[0]["ndcg@10"])
            buy.append(evaluate_run(buy_qrels, run, ["ndcg@10"])[0]["ndcg@10"])
            share.append(float(np.mean(top)))
        rows.append({"set": name, "queries": len(ranked), "band": band, "ndcg@10": round(float(np.mean(ndcg)), 4),
                     "buyable_ndcg@10": round(float(np.mean(buy)), 4), "in_stock@10": round(float(np.mean(share)), 3)})
    return rows


def luma() -> list[dict]:
    engine = luma_engine()
    models = {p.group_id: p for p in engine.artifacts.catalog.products if p.parent_id is None}
    groups = sorted(models)
    ranked = {g: _ranked(engine, models[g].title) for g in groups}
    rows = []
    for band in BANDS:
        ranks: list[int] = []
        for seed in SEEDS:
            rng = random.Random(seed)
            for g in groups:
                out = {x for x in groups if x != g and rng.random() < OUT_SHARE} | {g}
                _, gids, scores = ranked[g]
                buyable = np.array([x not in out for x in gids], bool)
                order = demote_out_of_stock(np.arange(len(gids)), scores, buyable, band)
                collapsed = list(dict.fromkeys(gids[j] for j in order))
                ranks.append(collapsed.index(g) + 1 if g in collapsed else 10_000)
        r = np.array(ranks)
        rows.append({"set": "luma", "queries": len(groups), "band": band, "median_rank": float(np.median(r)),
                     "rank_1": round(float((r == 1).mean()), 3), "top_10": round(float((r <= 10).mean()), 3),
                     "mean_rank_capped_50": round(float(np.minimum(r, 50).mean()), 2)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--homedepot-queries", type=int, default=0, help="also a Home Depot sample of this many queries")
    args = ap.parse_args()
    sets = labelled("crowdflower", None)
    if args.homedepot_queries:
        sets += labelled("homedepot", min(args.homedepot_queries, 1000))
    lum = luma()
    print(table(sets, list(sets[0])))
    print(table(lum, list(lum[0])))
    print("results:", save("stock_ordering", {"bands": BANDS, "seeds": SEEDS, "out_share": OUT_SHARE,
                                              "labelled": sets, "luma": lum}))


if __name__ == "__main__":
    main()
