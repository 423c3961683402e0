"""What a live write of one new product costs the in-memory index beyond encoding: appending its
text vector to a modality of N rows (vectors, owner runs, the layered vector index) and its title
to the trigram matrix. Synthetic rows (384-d unit vectors, Home Depot-like titles); run it on two
checkouts to compare them side by side.

    python benchmarks/live_append.py --rows 50000 200000
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import save, table
from shoprank.features.title_match import TrigramMatrix
from shoprank.index.artifacts import Modality
from shoprank.index.vector import FaissVectorIndex


def median_ms(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    ts = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        ts.append(time.perf_counter() - t)
    return round(float(np.median(ts)) * 1e3, 3)


def one_size(n: int, writes: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    v = rng.standard_normal((n, 384)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    state = {"m": Modality(v, FaissVectorIndex.build(v, np.arange(n), exact_limit=n))}
    new = rng.standard_normal((writes, 384)).astype(np.float32)

    def add_vector(i: int) -> None:
        state["m"] = state["m"].extended(new[i:i + 1], np.array([n + i]))

    tm = TrigramMatrix()
    tm.extend([f"Everbilt {i} in. zinc plated corner brace {i % 97}-pack galvanized" for i in range(n)])
    return {"rows": n, "modality.extended ms": median_ms(add_vector, writes),
            "trigrams.extend ms": median_ms(lambda i: tm.extend([f"New 3/4 in. pvc elbow {i}"]), writes)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[50_000, 200_000])
    ap.add_argument("--writes", type=int, default=30)
    args = ap.parse_args()
    rows = []
    for n in args.rows:
        rows.append(one_size(n, args.writes))
        print(rows[-1], flush=True)
    print(f"one product a write, median of {args.writes} writes")
    print(table(rows, list(rows[0])))
    print("results:", save("live_append", {"rows": rows}))


if __name__ == "__main__":
    main()
