"""Wall time of a one-off `shoprank search` (a fresh process per call, as a shell user runs it):
the median of N runs for each source tree given, runs interleaved so both see the same machine.

    shoprank demo --no-serve      # builds the "demo" index (and exports the models once)
    python benchmarks/cli_search.py src /tmp/base/src --runs 5

Each tree runs with its own PYTHONPATH; the index and SHOPRANK_HOME are shared.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def one_search(src: str, query: str, name: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "shoprank.cli", "search", query, "--name", name],
                   env={**os.environ, "PYTHONPATH": os.path.abspath(src)}, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", nargs="+", help="source folders to time (each holds the shoprank package)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--query", default="red backpack")
    ap.add_argument("--name", default="demo")
    args = ap.parse_args()
    for src in args.src:
        one_search(src, args.query, args.name)  # warm the page cache and any first-time export
    times: dict[str, list[float]] = {src: [] for src in args.src}
    for _ in range(args.runs):
        for src in args.src:
            times[src].append(one_search(src, args.query, args.name))
    print(f"one-off `shoprank search {args.query!r} --name {args.name}`, {args.runs} runs each, "
          f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    for src, ts in times.items():
        print(f"{src:<40} median {statistics.median(ts):.2f} s  (min {min(ts):.2f}, max {max(ts):.2f})")


if __name__ == "__main__":
    main()
