"""Fuzz a real server: schemathesis over every operation of /openapi.json (valid and invalid
requests), against `shoprank serve` on the Luma index with the default encoders, keys in force.
Counts the cases tried and the answers by status; any 5xx or spec violation is listed.

    python benchmarks/fuzz.py --max-examples 300
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from common import DATA_DIR, REPO, save, table
from server_process import start_server, stop_server
from shoprank.catalog import Catalog, load_magento
from shoprank.config import Settings
from shoprank.engine import ShopRank

ADMIN = "fuzz-admin-key"


def _cases(ndjson: Path) -> tuple[Counter[str], Counter[tuple[str, int]]]:
    """(cases per operation, answers per (operation, status)) from the run's NDJSON events."""
    per_op: Counter[str] = Counter()
    statuses: Counter[tuple[str, int]] = Counter()
    for line in ndjson.read_text().splitlines():
        event = json.loads(line)
        if "ScenarioFinished" not in event:
            continue
        recorder = event["ScenarioFinished"]["recorder"]
        label = recorder["label"]
        for interaction in recorder.get("interactions", {}).values():
            response = interaction.get("response")
            if response is None:
                continue
            per_op[label] += 1
            statuses[(label, int(response["status_code"]))] += 1
    return per_op, statuses


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-examples", type=int, default=300, help="per operation and phase")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    # The fuzzer writes to the catalog (PUT/PATCH/DELETE /products): serve a copy, built in a
    # temporary home from the shared embedding cache (warm: nothing is encoded again).
    home = Path(tempfile.mkdtemp())
    for shared in ("cache", "models"):
        (REPO / "var" / shared).mkdir(parents=True, exist_ok=True)
        (home / shared).symlink_to(REPO / "var" / shared)
    settings = Settings(home=home, data_dir=DATA_DIR)
    ShopRank.build(Catalog(load_magento(DATA_DIR / "magento_luma").products), settings.index_dir("luma"), settings)
    env = {"SHOPRANK_HOME": str(home), "SHOPRANK_DATA_DIR": str(DATA_DIR), "SHOPRANK_ADMIN_KEY": ADMIN,
           "SHOPRANK_EVENTS_KEY": "fuzz-events", "SHOPRANK_IMAGE_ROOT": str(DATA_DIR / "magento_luma" / "images"),
           "SHOPRANK_RATE_SEARCH_PER_S": "0", "SHOPRANK_RATE_EVENTS_PER_S": "0",
           "SHOPRANK_EVENTS_DB": str(Path(tempfile.mkdtemp()) / "events.sqlite")}
    out = Path("benchmarks/out")
    out.mkdir(parents=True, exist_ok=True)
    url, proc = start_server("luma", env, out / "fuzz_server.log")
    report = out / "fuzz.ndjson"
    t0 = time.perf_counter()
    try:
        run = subprocess.run(
            ["st", "--config-file", str(Path(__file__).with_name("schemathesis.toml")), "run",
             f"{url}/openapi.json", "-H", f"X-API-Key: {ADMIN}", "--max-examples",
             str(args.max_examples), "--seed", str(args.seed), "--exclude-checks", "positive_data_acceptance",
             "--report", "ndjson", "--report-ndjson-path", str(report), "--workers", "1",
             "--request-timeout", "60", "--continue-on-failure"],
            capture_output=True, text=True)
    finally:
        stop_server(proc)
    wall = time.perf_counter() - t0
    per_op, statuses = _cases(report)
    rows = []
    for op in sorted(per_op):
        codes = {code: n for (o, code), n in statuses.items() if o == op}
        rows.append({"operation": op, "cases": per_op[op], "5xx": sum(n for c, n in codes.items() if c >= 500),
                     "statuses": " ".join(f"{c}:{n}" for c, n in sorted(codes.items()))})
    total = sum(per_op.values())
    server_errors = sum(r["5xx"] for r in rows)
    print(f"schemathesis {args.max_examples} examples/operation/phase, seed {args.seed}, {wall:.0f} s, "
          f"load before: {os.getloadavg()[0]:.2f}; exit code {run.returncode}")
    print(table(rows, ["operation", "cases", "5xx", "statuses"]))
    print(f"total cases: {total}; responses >= 500: {server_errors}")
    tail = run.stdout.strip().splitlines()[-25:]
    print("\n".join(tail))
    print("results:", save("fuzz", {"max_examples": args.max_examples, "seed": args.seed, "cases": total,
                                    "server_errors": server_errors, "exit_code": run.returncode,
                                    "rows": rows, "summary": tail}))


if __name__ == "__main__":
    main()
