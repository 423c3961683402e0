"""Resident memory of the demo server (`shoprank demo`): after it starts, then after a text, a
photo and a voice query, for one or more source trees side by side.

Each tree runs twice: a first start (a new SHOPRANK_HOME and model cache: models exported,
embeddings computed) and a second start on the same folders (nothing to export or encode).

    python benchmarks/server_memory.py src /tmp/old-checkout/src

The voice query is an espeak-ng clip ("red backpack"); without espeak-ng that column is empty.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import multipart, post, save, shoprank_server, table


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for {pid}")


def measure(src: str, home: Path, cache: Path, port: int, clip: bytes | None) -> dict[str, float | str]:
    base = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    env = {"SHOPRANK_HOME": str(home), "SHOPRANK_USER_CACHE_DIR": str(cache)}
    with shoprank_server(src, ["demo"], port, env) as proc:
        row: dict[str, float | str] = {"start s": round(time.perf_counter() - t0, 1), "start MB": _rss_mb(proc.pid)}
        post(base + "/search", json.dumps({"q": "red backpack"}).encode(), "application/json")
        row["text MB"] = _rss_mb(proc.pid)
        photo = sorted((home / "demo-catalog" / "images").iterdir())[0]
        post(base + "/search", *multipart("image", photo.name, photo.read_bytes()))
        row["photo MB"] = _rss_mb(proc.pid)
        if clip is not None:
            post(base + "/search", *multipart("audio", "q.wav", clip))
            row["voice MB"] = _rss_mb(proc.pid)
        return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", nargs="+", help="source folders (each holds the shoprank package)")
    ap.add_argument("--port", type=int, default=8790)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    clip = None
    with tempfile.TemporaryDirectory() as tmp:
        if shutil.which("espeak-ng"):
            wav = Path(tmp) / "q.wav"
            subprocess.run(["espeak-ng", "-w", str(wav), "red backpack"], check=True, capture_output=True)
            clip = wav.read_bytes()
        rows = []
        for i, src in enumerate(args.src):
            home, cache = Path(tmp) / f"home{i}", Path(tmp) / f"cache{i}"
            for start in ("first", "second"):
                rows.append({"tree": src, "start": start,
                             **measure(src, home, cache, args.port + len(rows), clip)})
    cols = ["tree", "start", "start s", "start MB", "text MB", "photo MB", "voice MB"]
    print(table(rows, cols))
    print(f"load before: {load:.2f}")
    print("results:", save("server_memory", {"load_before": load, "rows": rows}))


if __name__ == "__main__":
    main()
