"""What query understanding adds to a text search: rewriters (pinyin, typo, synonym) and the
merchandising rules stage on, against both off, on the same index, side by side.

    python benchmarks/understanding_latency.py --index luma
    python benchmarks/understanding_latency.py --index scaling-200000 --home var/bench-scaling --text-encoder minilm

(the 200k index is the one ``benchmarks/scaling.py --sizes 200000`` builds)

Queries: the 480 WANDS shopper queries, each again with one seeded typo (the typo path), and the
Chinese queries with their pinyin. Two engines share the index and encoders: "off" (no rewriters,
no rules) and "on" (the defaults). Each round searches every query with one then the other
(alternating which goes first), so both see the same machine; rounds are repeated and the
figures are per query over all rounds:

- *read*: the text steps alone (normalization, rewriters, parsing), off and on;
- *search*: a whole search with the query's encodings cached (a second search of the same text),
  so the rewriters' and rules' cost is not hidden in encoder noise;
- *search + encode*: a whole search with the encoding cache cleared first (an unsure correction's
  alternatives are encoded too).
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import DATA_DIR, ZH, machine, percentiles, save, table, wands_queries
from pinyin_queries import forms
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.types import Query
from typo_robustness import misspell


def queries(seed: int) -> list[str]:
    wands = wands_queries()
    typos = [misspell(q, 1, random.Random(f"{seed}-{i}")) for i, q in enumerate(wands)]
    pinyin = [forms([z.split()[0]])["by syllable"] for z in ZH]
    return wands + typos + ZH + pinyin


def engines(index: str, home: Path | None, text_encoder: str) -> tuple[ShopRank, ShopRank]:
    kw: dict = {"data_dir": DATA_DIR, "log_impressions": False, "profile_store": "memory",
                "text_encoder": text_encoder}
    if home is not None:
        kw["home"] = home
    if index.startswith("scaling-"):  # as benchmarks/scaling.py serves it
        kw.update(retrieve_k=200, rerank_k=200)
    on_settings = Settings(**kw)
    on = ShopRank.open(on_settings.index_dir(index), on_settings)
    off_settings = on_settings.model_copy(update={"query_rewriters": [], "search_rules": []})
    off = ShopRank(on.artifacts, off_settings, on.text_encoder, on.image_encoder, ranker=on.ranker)
    return off, on


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", default="luma")
    ap.add_argument("--home", type=Path, default=None, help="settings home (default: the configured one)")
    ap.add_argument("--text-encoder", default="e5")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    off, on = engines(args.index, args.home, args.text_encoder)
    texts = queries(args.seed)
    for e in (off, on):  # warm-up: models loaded, vocabularies built, encodings cached
        for t in texts:
            e.search(Query(text=t, k=10))
    ms: dict[str, dict[str, list[float]]] = {k: {"off": [], "on": []} for k in ("read", "search + encode", "search")}
    added: dict[str, list[float]] = {k: [] for k in ms}
    art = on.artifacts
    encode_ms: list[float] = []  # the encoding step of the uncached searches (a check that it ran)
    for r in range(args.rounds):
        for i, t in enumerate(texts):
            order = (("off", off), ("on", on)) if (i + r) % 2 == 0 else (("on", on), ("off", off))
            got: dict[str, dict[str, float]] = {k: {} for k in ms}
            for label, e in order:
                got["read"][label] = timed(lambda e=e, t=t: e.understanding.read_text(t, art))
                e.understanding.encode_text.cache_clear()
                t0 = time.perf_counter()
                res = e.search(Query(text=t, k=10))
                got["search + encode"][label] = (time.perf_counter() - t0) * 1000
                encode_ms.append(res.timings_ms["encode"])
                # The same text again: its encodings are cached now.
                got["search"][label] = timed(lambda e=e, t=t: e.search(Query(text=t, k=10)))
            for k, pair in got.items():
                for label, v in pair.items():
                    ms[k][label].append(v)
                added[k].append(pair["on"] - pair["off"])
    rows = []
    for k, pair in ms.items():
        off_p, on_p = percentiles(pair["off"]), percentiles(pair["on"])
        rows.append({"index": args.index, "products": len(art.catalog), "measure": k, "queries": len(texts),
                     "runs": off_p["n"], "off p50": off_p["p50_ms"], "on p50": on_p["p50_ms"],
                     "added p50": round(on_p["p50_ms"] - off_p["p50_ms"], 3),
                     "off p99": off_p["p99_ms"], "on p99": on_p["p99_ms"],
                     "added p99": round(on_p["p99_ms"] - off_p["p99_ms"], 3),
                     "median paired diff": round(statistics.median(added[k]), 3)})
    print(f"{machine()}; rewriters on: {[w.name for w in on.understanding.rewriters]}, "
          f"rules on: {on.settings.search_rules}; encoding in the uncached searches: "
          f"p50 {statistics.median(encode_ms):.2f} ms")
    print(table(rows, list(rows[0])))
    save(f"understanding_latency_{args.index}", {"args": {**vars(args), "home": str(args.home)}, "rows": rows})


if __name__ == "__main__":
    main()
