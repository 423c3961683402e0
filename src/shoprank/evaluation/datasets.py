"""Labelled product-search sets: products, queries and graded judgments (qrels).

Gains follow each dataset's own scale, as integers (ranx needs integer relevance):

- CrowdFlower "Search Results Relevance": median rating 1..4 -> gain 0..3.
- Home Depot "Product Search Relevance": mean rating 1..3 in thirds -> gain 0..6 (``round((r - 1) * 3)``).
- ESCI (KDD Cup 2022): E=1, S=0.1, C=0.01, I=0, scaled by 100 -> 100/10/1/0 (same ratios).
"""
from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from shoprank.catalog.normalize import html_to_text
from shoprank.types import Product


@dataclass
class LabelledSet:
    name: str
    queries: dict[str, str]                   # query id -> text
    qrels: dict[str, dict[str, int]]          # query id -> product id -> gain
    products: list[Product] = field(default_factory=list)
    note: str = ""

    @property
    def searchable(self) -> bool:
        """Judged products come with text, so the set can be indexed and searched."""
        return bool(self.products)


def _pid(*parts: str) -> str:
    return hashlib.sha1("\x00".join(parts).encode()).hexdigest()[:12]


def _sample_queries(queries: list[str], max_queries: int | None, seed: int) -> set[str]:
    if max_queries is None or max_queries >= len(queries):
        return set(queries)
    return set(random.Random(seed).sample(sorted(queries), max_queries))


def load_crowdflower(path: Path, max_queries: int | None = None, seed: int = 0) -> LabelledSet:
    df = pd.read_csv(path)
    keep = _sample_queries(df["query"].unique().tolist(), max_queries, seed)
    df = df[df["query"].isin(keep)]
    products: dict[str, Product] = {}
    qids = {q: f"cf-{i}" for i, q in enumerate(sorted(keep))}
    qrels: dict[str, dict[str, int]] = {qid: {} for qid in qids.values()}
    for row in df.itertuples(index=False):
        title = str(row.product_title).strip() or "untitled"
        desc = html_to_text(row.product_description if isinstance(row.product_description, str) else "")
        pid = _pid(title, desc)
        products.setdefault(pid, Product(id=pid, title=title, description=desc))
        qrels[qids[row.query]][pid] = max(qrels[qids[row.query]].get(pid, 0), int(row.median_relevance) - 1)
    return LabelledSet("crowdflower", {v: k for k, v in qids.items()}, qrels, list(products.values()))


def load_homedepot(path: Path, max_queries: int | None = None, seed: int = 0) -> LabelledSet:
    try:
        df = pd.read_csv(path, encoding="utf-8")
    except UnicodeDecodeError:
        df = pd.read_csv(path, encoding="latin-1")
    keep = _sample_queries(df["search_term"].unique().tolist(), max_queries, seed)
    df = df[df["search_term"].isin(keep)]
    qids = {q: f"hd-{i}" for i, q in enumerate(sorted(keep))}
    qrels: dict[str, dict[str, int]] = {qid: {} for qid in qids.values()}
    products: dict[str, Product] = {}
    for row in df.itertuples(index=False):
        pid = str(row.product_uid)
        products.setdefault(pid, Product(id=pid, title=str(row.product_title)))
        qrels[qids[row.search_term]][pid] = int(round((float(row.relevance) - 1) * 3))
    return LabelledSet("homedepot", {v: k for k, v in qids.items()}, qrels, list(products.values()))


ESCI_GAINS = {100.0: 100, 10.0: 10, 1.0: 1, 0.0: 0}


def load_esci_judgments(judgments: Path, products: list[Product] | None = None) -> LabelledSet:
    """ESCI-format judgments (OpenSearch search-relevance export). Product text is not in the
    file: pass ``products`` keyed by ASIN to make the set searchable."""
    data = json.loads(judgments.read_text())
    queries, qrels = {}, {}
    for i, item in enumerate(data["judgmentRatings"]):
        qid = f"esci-{i}"
        queries[qid] = item["query"]
        qrels[qid] = {r["docId"]: ESCI_GAINS[round(float(r["rating"]), 3)] for r in item["ratings"]}
    note = "" if products else "ESCI judgments carry ASINs only; the product texts are not in the data bundle"
    return LabelledSet("esci", queries, qrels, products or [], note)


def load_wands_queries(path: Path) -> LabelledSet:
    df = pd.read_csv(path, sep="\t")
    queries = {f"wands-{r.query_id}": r.query for r in df.itertuples(index=False)}
    return LabelledSet("wands", queries, {}, [], "WANDS product.csv and label.csv are not in the data bundle")


def load_judgments(path: Path, products: list[Product], name: str | None = None) -> LabelledSet:
    """Graded judgments over a catalog one serves, e.g. click-derived ones
    (`shoprank analytics --judgments`): CSV ``query,product_id,grade[,score,impressions]``.
    Judged products no longer in ``products`` are left out."""
    from shoprank.analytics.clickmodel import read_judgments

    known = {p.id for p in products}
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    missing = 0
    for j in read_judgments(path):
        if j.product_id not in known:
            missing += 1
            continue
        qid = "j-" + _pid(j.query)
        queries[qid] = j.query
        qrels.setdefault(qid, {})[j.product_id] = j.grade
    note = f"{missing} judged products are not in the catalog" if missing else ""
    return LabelledSet(name or path.stem, queries, qrels, products, note)


LOADERS: dict[str, tuple[str, Callable[..., LabelledSet]]] = {
    "crowdflower": ("relevance/crowdflower/train.csv", load_crowdflower),
    "homedepot": ("relevance/homedepot/train.csv", load_homedepot),
    "esci": ("esci/esci_us_judgments.json", load_esci_judgments),
    "wands": ("wands/query.csv", load_wands_queries),
}


def load_dataset(name: str, data_dir: Path, **kwargs) -> LabelledSet:
    """Load a labelled set by name from the data bundle."""
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(LOADERS)}")
    rel, loader = LOADERS[name]
    path = data_dir / rel
    if not path.is_file():
        raise FileNotFoundError(f"{name}: {path} not found")
    return loader(path, **kwargs)
