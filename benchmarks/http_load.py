"""HTTP load on the Luma index: distinct real text queries at concurrency 1, 4 and 16.

    python benchmarks/http_load.py                      # 20 s per level, one server process
    python benchmarks/http_load.py --seconds 30 --levels 1 4 16 32 --search-threads 2

Starts ``shoprank serve`` as a child process (building the Luma index first if needed), then
keeps ``c`` keep-alive connections busy with POST /search (k=10) for a fixed time per level,
cycling through ~10k distinct shopper queries (see ``_queries``: no query-cache hits). Bounded: every level stops after
``--seconds``; a request waits at most 30 s. The load generator is plain asyncio sockets
(no HTTP library) so that it costs little of the two cores it shares with the server; its
CPU use is reported. Writes benchmarks/out/http_load.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from common import DATA_DIR, ZH, percentiles, save, table, wands_queries
from server_process import start_server, stop_server

REQUEST_TIMEOUT_S = 30.0


def _queries() -> list[str]:
    """Distinct real shopper queries: WANDS, CrowdFlower and Home Depot, plus the Chinese ones.
    More of them than the engine's query-embedding cache holds (4,096), and sent round-robin,
    so no request is a cache hit: every search encodes its query."""
    import pandas as pd

    queries = wands_queries() + ZH
    rel = DATA_DIR / "relevance"
    queries += pd.read_csv(rel / "crowdflower" / "train.csv")["query"].tolist()
    queries += pd.read_csv(rel / "homedepot" / "train.csv", encoding="utf-8")["search_term"].tolist()
    unique = sorted({q.strip() for q in queries if isinstance(q, str) and q.strip()})
    random.Random(0).shuffle(unique)
    return unique


def _bodies() -> list[bytes]:
    return [json.dumps({"q": q, "k": 10}).encode() for q in _queries()]


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, body: bytes) -> int:
    writer.write(b"POST /search HTTP/1.1\r\nHost: " + host.encode() + b"\r\nContent-Type: application/json\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _level(host: str, port: int, concurrency: int, seconds: float, bodies: list[bytes]) -> dict:
    lat: list[float] = []
    errors: dict[str, int] = {}
    stop = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < stop:
                body = bodies[next(counter) % len(bodies)]
                t0 = time.perf_counter()
                try:
                    status = await asyncio.wait_for(_one(reader, writer, host, body), REQUEST_TIMEOUT_S)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError) as e:
                    errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                lat.append((time.perf_counter() - t0) * 1000)
                if status != 200:
                    errors[str(status)] = errors.get(str(status), 0) + 1
        finally:
            writer.close()

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    wall = time.perf_counter() - t0
    pct = percentiles(lat)
    return {"concurrency": concurrency, "requests": len(lat), "req_per_s": round(len(lat) / wall, 1),
            "p50_ms": pct["p50_ms"], "p90_ms": pct["p90_ms"], "p99_ms": pct["p99_ms"],
            "errors": sum(errors.values()), "error_kinds": errors,
            "load_generator_cpu": round((time.process_time() - cpu0) / wall, 2)}


def _ensure_index() -> None:
    from shoprank.catalog import Catalog, load_magento
    from shoprank.config import Settings
    from shoprank.engine import ShopRank
    from shoprank.index.generations import IndexHome

    settings = Settings()
    if IndexHome(settings.index_dir("luma")).current() is None:
        ShopRank.build(Catalog(load_magento(DATA_DIR / "magento_luma").products), settings.index_dir("luma"),
                       settings)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--search-threads", type=int, default=0, help="SHOPRANK_SEARCH_THREADS (0: one per core)")
    args = ap.parse_args()
    _ensure_index()
    # One load generator is one client: its rate limit is off, or it would measure the 429s.
    env = {"SHOPRANK_SEARCH_THREADS": str(args.search_threads), "SHOPRANK_DATA_DIR": str(DATA_DIR),
           "SHOPRANK_RATE_SEARCH_PER_S": "0"}
    log = Path("benchmarks/out/http_load_server.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    url, proc = start_server("luma", env, log)
    host, port = url.removeprefix("http://").split(":")
    bodies = _bodies()
    try:
        asyncio.run(_level(host, int(port), 4, 5.0, bodies))  # warm-up: models loaded, caches filled
        rows = [asyncio.run(_level(host, int(port), c, args.seconds, bodies)) for c in args.levels]
    finally:
        stop_server(proc)
    print(f"Luma, POST /search cycling through {len(bodies)} distinct text queries, {args.seconds:.0f} s per level, "
          f"search_threads={args.search_threads or os.cpu_count()}, load before: {os.getloadavg()[0]:.2f}")
    print(table(rows, ["concurrency", "requests", "req_per_s", "p50_ms", "p90_ms", "p99_ms", "errors",
                       "load_generator_cpu"]))
    print("results:", save("http_load", {"seconds": args.seconds, "search_threads": args.search_threads,
                                         "rows": rows}))


if __name__ == "__main__":
    main()
