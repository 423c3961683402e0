"""What listing matches first costs in relevance: nDCG@10 of the served order (hits that match the
query first, then the ones that only fill the page) against the ranker's own order, on the
labelled sets, from the same searches; and of the rule tried first and dropped (every keyword
match before every other hit).

A text query's matches are its keyword (BM25) matches; the served pipeline keeps each part in the
ranker's order. Both orders come from one search per query (k=200, variants not collapsed, stock
ignored): the ranker's order is the hits sorted by score.

    python benchmarks/matches_first.py [--homedepot-queries 500]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import ttest_rel

sys.path.insert(0, str(Path(__file__).parent))

from common import DATA_DIR, save, table
from shoprank.catalog import Catalog
from shoprank.engine import ShopRank
from shoprank.evaluation.datasets import load_dataset
from shoprank.evaluation.metrics import evaluate_run
from shoprank.types import Query
from signals_common import settings


def compare(name: str, max_queries: int | None) -> dict[str, object]:
    ds = load_dataset(name, DATA_DIR, **({"max_queries": max_queries} if max_queries else {}))
    s = settings(text_encoder="e5", image_encoder="none")
    root = s.index_dir(f"stock-{name}-{max_queries or 'all'}")  # the stock benchmark's index
    try:
        engine = ShopRank.open(root, s)
    except FileNotFoundError:
        engine = ShopRank.build(Catalog(ds.products), root, s)
    served: dict[str, dict[str, float]] = {}
    ranker: dict[str, dict[str, float]] = {}
    keyword: dict[str, dict[str, float]] = {}  # the rule rejected: every keyword match first
    changed = 0
    for qid, text in ds.queries.items():
        if not ds.qrels.get(qid):
            continue
        hits = engine.search(Query(text=text, k=200, collapse_variants=False, out_of_stock_last=False)).hits
        served[qid] = {h.product.id: float(len(hits) - r) for r, h in enumerate(hits)}
        by_score = sorted(hits, key=lambda h: -h.score)  # stable: ties keep the served order
        ranker[qid] = {h.product.id: float(len(hits) - r) for r, h in enumerate(by_score)}
        kw = sorted(by_score, key=lambda h: "bm25" not in h.retrievers)
        keyword[qid] = {h.product.id: float(len(hits) - r) for r, h in enumerate(kw)}
        changed += [h.product.id for h in hits[:10]] != [h.product.id for h in by_score[:10]]
    m_served, q_served = evaluate_run(ds.qrels, served, ["ndcg@10"])
    m_ranker, q_ranker = evaluate_run(ds.qrels, ranker, ["ndcg@10"])
    m_keyword, q_keyword = evaluate_run(ds.qrels, keyword, ["ndcg@10"])
    qids = sorted(q_served["ndcg@10"])
    c = np.array([q_keyword["ndcg@10"][q] for q in qids])
    a = np.array([q_served["ndcg@10"][q] for q in qids])
    b = np.array([q_ranker["ndcg@10"][q] for q in qids])
    return {"set": name, "queries": len(qids), "ranker order ndcg@10": round(m_ranker["ndcg@10"], 4),
            "matches first ndcg@10": round(m_served["ndcg@10"], 4), "diff": round(float((a - b).mean()), 4),
            "p": float(f"{ttest_rel(a, b).pvalue:.3g}") if (a != b).any() else 1.0, "top 10 changed": changed,
            "keyword matches first ndcg@10": round(m_keyword["ndcg@10"], 4),
            "its p vs ranker": float(f"{ttest_rel(c, b).pvalue:.3g}") if (c != b).any() else 1.0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--homedepot-queries", type=int, default=0, help="also a Home Depot sample of this many queries")
    args = ap.parse_args()
    rows = [compare("crowdflower", None)]
    if args.homedepot_queries:
        rows.append(compare("homedepot", min(args.homedepot_queries, 1000)))
    print(table(rows, list(rows[0])))
    print("results:", save("matches_first", {"rows": rows}))


if __name__ == "__main__":
    main()
