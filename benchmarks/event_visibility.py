"""Event → search visibility: from POST /events returning to a /search that reflects it.

Two set-ups, each with real `shoprank serve` processes over HTTP:
  one process   the event and the search go to the same server (SQLite profile store);
  two processes the event goes to server A, the search to server B; they share the
                SQLite event log and keep profiles in Redis (a throwaway redis-server).
A search "reflects" the event when its response says the profile used held that event
(``profile_events``); the client searches again at once until it does.

    python benchmarks/event_visibility.py                # Luma index in var/indexes/luma
    python benchmarks/event_visibility.py --index demo --events 100
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from common import percentiles, save, table
from redis_server import start_redis_server, stop_redis_server
from server_process import start_server, stop_server
from shoprank.config import Settings
from shoprank.index.generations import IndexHome

QUERIES = ["jacket", "backpack", "yoga pants", "hoodie", "shorts", "watch"]


def measure(post_url: str, search_url: str, products: list[str], n_events: int, users: int,
            seed: int = 0) -> dict[str, list[float]]:
    rng = random.Random(seed)
    seen: dict[str, int] = {}
    vis, post_ms, search_ms, retries = [], [], [], []
    with httpx.Client(base_url=post_url, timeout=30) as a, httpx.Client(base_url=search_url, timeout=30) as b:
        for q in QUERIES:  # warm the query-embedding cache and both servers
            b.post("/search", json={"q": q, "k": 10})
            a.post("/search", json={"q": q, "k": 10})
        for i in range(n_events):
            user = f"bench-{seed}-{i % users}"
            t0 = time.perf_counter()
            r = a.post("/events", json={"events": [{"user_id": user, "product_id": rng.choice(products),
                                                    "type": rng.choice(["click", "click", "cart"])}]})
            t1 = time.perf_counter()
            r.raise_for_status()
            seen[user] = seen.get(user, 0) + 1
            tries = 0
            while True:
                tries += 1
                s0 = time.perf_counter()
                res = b.post("/search", json={"q": rng.choice(QUERIES), "k": 10, "user_id": user}).json()
                s1 = time.perf_counter()
                search_ms.append((s1 - s0) * 1000)
                if res["profile_events"] >= seen[user]:
                    break
            vis.append((s1 - t1) * 1000)
            post_ms.append((t1 - t0) * 1000)
            retries.append(tries - 1)
    return {"visibility": vis, "post": post_ms, "search": search_ms, "retries": retries}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", default="luma")
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--users", type=int, default=20)
    args = ap.parse_args()
    settings = Settings()
    products = [p.id for p in IndexHome(settings.index_dir(args.index)).open()[1].catalog]
    rows, raw = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # One client sends everything: its rate limits are off, or it would measure the 429s.
        base = {"SHOPRANK_HOME": str(settings.home.resolve()), "SHOPRANK_CF_MODEL": "none",
                "SHOPRANK_RATE_SEARCH_PER_S": "0", "SHOPRANK_RATE_EVENTS_PER_S": "0"}

        env = {**base, "SHOPRANK_EVENTS_DB": str(tmp / "one.sqlite"), "SHOPRANK_PROFILE_STORE": "sqlite"}
        url, proc = start_server(args.index, env, tmp / "one.log")
        try:
            raw["one process (SQLite profiles)"] = measure(url, url, products, args.events, args.users, seed=1)
        finally:
            stop_server(proc)

        redis_url, redis_proc = start_redis_server(tmp / "redis")
        env = {**base, "SHOPRANK_EVENTS_DB": str(tmp / "two.sqlite"), "SHOPRANK_PROFILE_STORE": "redis",
               "SHOPRANK_REDIS_URL": redis_url}
        url_a, proc_a = start_server(args.index, env, tmp / "a.log")
        url_b, proc_b = start_server(args.index, env, tmp / "b.log")
        try:
            raw["two processes (Redis profiles)"] = measure(url_a, url_b, products, args.events, args.users, seed=2)
        finally:
            stop_server(proc_a)
            stop_server(proc_b)
            stop_redis_server(redis_proc)

    for name, m in raw.items():
        v, p, s = percentiles(m["visibility"]), percentiles(m["post"]), percentiles(m["search"])
        rows.append({"setup": name, "events": v["n"], "visible p50 ms": v["p50_ms"], "visible p99 ms": v["p99_ms"],
                     "POST /events p50 ms": p["p50_ms"], "search p50 ms": s["p50_ms"], "search p99 ms": s["p99_ms"],
                     "searches not yet reflecting": sum(m["retries"])})
    cols = list(rows[0])
    print(table(rows, cols))
    print(save("event_visibility", {"index": args.index, "rows": rows}))


if __name__ == "__main__":
    main()
