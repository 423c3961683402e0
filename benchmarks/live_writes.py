"""Catalog writes while serving: from sending a write to the first search that reflects it, for
(a) a price and stock change, (b) a new product with text and a photo, (c) a delete; then the
update rate one admin client sustains while four clients search, and the searches' latency
with and without it. A real `shoprank serve` process over HTTP, on a copy of the index built in
a temporary home (the embedding cache is shared, so a warm rebuild encodes nothing).

    python benchmarks/live_writes.py                       # the Luma catalog
    python benchmarks/live_writes.py --catalog 50k         # ~50k products (CrowdFlower + Home Depot text)
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from common import DATA_DIR, REPO, percentiles, save, table, wands_queries
from server_process import start_server, stop_server
from shoprank.catalog import Catalog, load_magento
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.types import Product

ADMIN = "bench-admin"
LUMA_IMAGES = DATA_DIR / "magento_luma" / "images"


def _catalog(name: str) -> list[Product]:
    if name == "luma":
        return load_magento(DATA_DIR / "magento_luma").products
    from scaling import load_base

    return load_base()[0]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("bcdfghjklmnpqrstvwz") + rng.choice("aeiou") for _ in range(5))


def _until(c: httpx.Client, q: str, ok, t0: float, tries: int = 200, **filters) -> tuple[float, int]:
    """Search ``q`` until ``ok(results)``; (ms from t0 to that response, searches it took)."""
    for n in range(1, tries + 1):
        r = c.post("/search", json={"q": q, "k": 10, "collapse_variants": False, "out_of_stock_last": False,
                                    **filters})
        r.raise_for_status()
        if ok(r.json()["results"]):
            return (time.perf_counter() - t0) * 1000, n
    raise AssertionError(f"a write to {q!r} never became visible")


def _findable(c: httpx.Client, products: list[Product], n: int, rng: random.Random) -> list[Product]:
    """Products that their own title finds in the top 10 (so visibility can be checked by searching)."""
    out: list[Product] = []
    for p in rng.sample(products, min(len(products), 20 * n)):
        r = c.post("/search", json={"q": p.title, "k": 10, "collapse_variants": False}).json()["results"]
        if any(x["id"] == p.id for x in r):
            out.append(p)
            if len(out) == n:
                break
    return out


def visibility(c: httpx.Client, products: list[Product], photos: list[Path], n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    targets = _findable(c, products, 2 * n, rng)
    rows = []
    # (a) price and stock: nothing is encoded
    write_ms, vis_ms, tries = [], [], []
    for p in targets[:n]:
        price = round(rng.uniform(1, 999), 2)
        t0 = time.perf_counter()
        r = c.patch(f"/products/{p.id}", json={"price": price, "stock": rng.randrange(0, 50)})
        r.raise_for_status()
        write_ms.append((time.perf_counter() - t0) * 1000)
        # Filtered to the new price: the product is found once its new price is served (a new price
        # also moves it in the ranking, so the filter, not the rank, says the write is visible).
        ms, k = _until(c, p.title, lambda res, p=p: any(x["id"] == p.id for x in res), t0,
                       price_min=price, price_max=price)
        vis_ms.append(ms)
        tries.append(k)
    rows.append({"write": "(a) price + stock (PATCH)", **_row(write_ms, vis_ms, tries)})
    # (b) a new product with text and a photo: encoded (text passages, photo, labels) and added
    write_ms, vis_ms, tries = [], [], []
    for i in range(n):
        word = _word(rng)
        body = {"title": f"{word.title()} Travel Backpack", "description": f"A {word} backpack for day trips.",
                "categories": "Gear/Bags", "price": 49.0, "stock": 7,
                "images": str(photos[rng.randrange(len(photos))].relative_to(LUMA_IMAGES))}
        t0 = time.perf_counter()
        r = c.put(f"/products/NEW-{seed}-{i}", json=body)
        r.raise_for_status()
        write_ms.append((time.perf_counter() - t0) * 1000)
        ms, k = _until(c, word, lambda res, i=i: bool(res) and res[0]["id"] == f"NEW-{seed}-{i}", t0)
        vis_ms.append(ms)
        tries.append(k)
    rows.append({"write": "(b) new product, text + photo (PUT)", **_row(write_ms, vis_ms, tries)})
    # (c) a delete
    write_ms, vis_ms, tries = [], [], []
    for p in targets[n:2 * n]:
        t0 = time.perf_counter()
        c.delete(f"/products/{p.id}").raise_for_status()
        write_ms.append((time.perf_counter() - t0) * 1000)
        ms, k = _until(c, p.title, lambda res, p=p: all(x["id"] != p.id for x in res), t0)
        vis_ms.append(ms)
        tries.append(k)
    rows.append({"write": "(c) delete (DELETE)", **_row(write_ms, vis_ms, tries)})
    return rows


def _row(write_ms: list[float], vis_ms: list[float], tries: list[int]) -> dict:
    w, v = percentiles(write_ms), percentiles(vis_ms)
    return {"n": len(vis_ms), "write_p50_ms": w["p50_ms"], "write_p99_ms": w["p99_ms"],
            "visible_p50_ms": v["p50_ms"], "visible_p99_ms": v["p99_ms"], "max_searches": max(tries)}


def sustained(url: str, products: list[Product], seconds: float, with_updates: bool, seed: int) -> dict:
    """Four clients searching distinct WANDS queries; optionally one admin client changing prices."""
    queries = wands_queries()
    stop = threading.Event()
    lat: list[float] = []
    errors = [0]
    updates = [0]

    def search(t: int) -> None:
        rng = random.Random(seed + t)
        with httpx.Client(base_url=url, timeout=30) as c:
            while not stop.is_set():
                t0 = time.perf_counter()
                r = c.post("/search", json={"q": rng.choice(queries), "k": 10})
                lat.append((time.perf_counter() - t0) * 1000)
                errors[0] += r.status_code != 200

    def update() -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=url, timeout=30, headers={"X-API-Key": ADMIN}) as c:
            while not stop.is_set():
                p = rng.choice(products)
                r = c.patch(f"/products/{p.id}", json={"price": round(rng.uniform(1, 999), 2)})
                updates[0] += r.status_code == 200
                errors[0] += r.status_code not in (200, 404)  # 404: deleted by the visibility run

    threads = [threading.Thread(target=search, args=(t,)) for t in range(4)]
    if with_updates:
        threads.append(threading.Thread(target=update))
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    p = percentiles(lat)
    return {"load": "4 searchers + 1 updater" if with_updates else "4 searchers", "searches": len(lat),
            "search_p50_ms": p["p50_ms"], "search_p99_ms": p["p99_ms"], "updates": updates[0],
            "updates_per_s": round(updates[0] / seconds, 1), "errors": errors[0]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--catalog", choices=["luma", "50k"], default="luma")
    ap.add_argument("-n", type=int, default=40, help="writes of each kind")
    ap.add_argument("--seconds", type=float, default=20.0, help="per sustained-load run")
    args = ap.parse_args()
    products = _catalog(args.catalog)
    photos = sorted(LUMA_IMAGES.rglob("*.jpg"))
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        for shared in ("cache", "models"):  # warm: the build encodes nothing it encoded before
            (REPO / "var" / shared).mkdir(parents=True, exist_ok=True)
            (home / shared).symlink_to(REPO / "var" / shared)
        # The photo encoder too, for the 50k text catalog: the products written with a photo get one.
        settings = Settings(home=home, data_dir=DATA_DIR)
        t0 = time.perf_counter()
        ShopRank.build(Catalog(products), settings.index_dir("live"), settings)
        build_s = time.perf_counter() - t0
        env = {"SHOPRANK_HOME": str(home), "SHOPRANK_DATA_DIR": str(DATA_DIR), "SHOPRANK_ADMIN_KEY": ADMIN,
               "SHOPRANK_IMAGE_ROOT": str(LUMA_IMAGES), "SHOPRANK_RATE_SEARCH_PER_S": "0",
               "SHOPRANK_CF_MODEL": "none"}
        url, proc = start_server("live", env, home / "server.log")
        try:
            with httpx.Client(base_url=url, timeout=60, headers={"X-API-Key": ADMIN}) as c:
                c.post("/search", json={"q": "warm up"}).raise_for_status()
                vis = visibility(c, products, photos, args.n, seed=1)
            load = [sustained(url, products, args.seconds, False, 7), sustained(url, products, args.seconds, True, 7)]
        finally:
            stop_server(proc)
    print(f"{args.catalog}: {len(products)} products (index built in {build_s:.0f} s, warm cache), "
          f"load before: {os.getloadavg()[0]:.2f}")
    print(table(vis, list(vis[0])))
    print(table(load, list(load[0])))
    print("results:", save(f"live_writes_{args.catalog}", {"products": len(products), "visibility": vis,
                                                          "sustained": load}))


if __name__ == "__main__":
    main()
