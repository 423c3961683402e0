"""The Luma index the stock, photo-label and voice benchmarks read (built once under var/signals)."""
from __future__ import annotations

import os
from pathlib import Path

from common import DATA_DIR, REPO
from shoprank.catalog import Catalog, load_magento
from shoprank.config import Settings
from shoprank.engine import ShopRank

HOME = Path(os.environ.get("SHOPRANK_BENCH_HOME", REPO / "var" / "signals"))


def settings(**kw: object) -> Settings:
    return Settings(home=HOME, data_dir=DATA_DIR, log_impressions=False, profile_store="memory", **kw)  # type: ignore[arg-type]


def luma_engine(**kw: object) -> ShopRank:
    """The Luma index with the default encoders and ranker (built on first use)."""
    s = settings(**kw)
    root = s.index_dir("luma")
    try:
        return ShopRank.open(root, s)
    except FileNotFoundError:
        return ShopRank.build(Catalog(load_magento(DATA_DIR / "magento_luma").products), root, s)
