"""What logging an impression adds to a search.

(a) ``ImpressionLog.append`` alone: one SQLite WAL commit without fsync, per call.
(b) A whole search as the HTTP route runs it (experiment lookup, search, impression built and
    written) on Luma, with impression logging on and off, alternating per query (on, off, off,
    on, ...) over the 480 WANDS queries plus the Chinese ones, several rounds; the query
    embeddings are cached first so the encoder's variance does not drown the difference.

    python benchmarks/impressions.py [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import DATA_DIR, ZH, percentiles, save, table, wands_queries
from shoprank.analytics.impressions import Impression, SQLiteImpressionLog, new_search_id
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.service.routes.search import _search_logged
from shoprank.service.schemas import SearchRequest
from shoprank.types import Query


def append_cost(n: int = 5000) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        log = SQLiteImpressionLog(Path(tmp) / "imp.sqlite", None, None, auto_retention=False)
        ms = []
        for i in range(n):
            imp = Impression(search_id=new_search_id(), ts=time.time(), kind="text", query=f"query {i % 50}",
                             products=tuple(f"p{i + j}" for j in range(10)), user_id=f"u{i % 300}", ranker="linear",
                             latency_ms=12.0, candidates=200)
            t0 = time.perf_counter()
            log.append(imp)
            ms.append((time.perf_counter() - t0) * 1000)
        log.close()
    return percentiles(ms)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    micro = append_cost()
    print(f"ImpressionLog.append: p50 {micro['p50_ms'] * 1000:.0f} µs, p99 {micro['p99_ms'] * 1000:.0f} µs "
          f"({micro['n']} calls)")
    home = Path(tempfile.mkdtemp())
    repo_var = Path(__file__).resolve().parents[1] / "var"
    for shared in ("cache", "models", "indexes"):
        (home / shared).symlink_to(repo_var / shared)
    on = Settings(home=home, data_dir=DATA_DIR, impressions_db=home / "bench-impressions.sqlite",
                  events_db=home / "bench-events.sqlite")
    off = on.model_copy(update={"log_impressions": False})
    engine = ShopRank.open(on.index_dir("luma"), on)
    queries = wands_queries() + ZH
    for q in queries:  # warm: embeddings cached, the impression log opened
        engine.search(Query(text=q, k=10))
    engine.settings = on
    _search_logged(engine, Query(text="warm", k=10), SearchRequest(q="warm"), "text")
    times: dict[str, list[float]] = {"on": [], "off": []}
    paired: list[float] = []
    for r in range(args.rounds):
        for i, q in enumerate(queries):
            order = ("on", "off") if (i + r) % 2 == 0 else ("off", "on")
            got = {}
            for mode in order:
                engine.settings = on if mode == "on" else off
                body = SearchRequest(q=q, user_id=f"u{i % 50}")
                t0 = time.perf_counter()
                _search_logged(engine, Query(text=q, k=10, user_id=body.user_id), body, "text")
                got[mode] = (time.perf_counter() - t0) * 1000
                times[mode].append(got[mode])
            paired.append(got["on"] - got["off"])
    engine.settings = on
    rows = [{"impressions": mode, **percentiles(ms)} for mode, ms in times.items()]
    print(table(rows, ["impressions", "n", "p50_ms", "p90_ms", "p99_ms", "mean_ms"]))
    added = statistics.median(times["on"]) - statistics.median(times["off"])
    print(f"search p50 added by impression logging: {added:+.3f} ms; median of per-query paired differences "
          f"{statistics.median(paired):+.3f} ms; load before: {load:.2f}; logged {engine.impressions.count()}")
    print("results:", save("impressions", {"load_before": load, "append": micro, "search": rows,
                                           "p50_added_ms": added, "paired_median_ms": statistics.median(paired)}))


if __name__ == "__main__":
    main()
