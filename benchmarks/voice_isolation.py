"""Do voice queries stall text search? A served demo index gets 16 concurrent ~29 s voice clips
while another client times text searches, for one or more source trees side by side.

Rate limits are off (both clients share an address): this measures the thread pools alone. The
clip is espeak-ng reading a shopping list slowly; the text queries are the demo's own.

    shoprank demo --no-serve        # the demo index, once
    python benchmarks/voice_isolation.py src /tmp/old-checkout/src
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import multipart, post, save, shoprank_server, table

QUERIES = ["red backpack", "coffee mug", "yoga leggings", "hoodie", "tote bag"]


def _clip(folder: Path, seconds: float = 29.0) -> bytes:
    words = "red backpack, blue coffee mug, green yoga leggings, black hoodie, yellow tote bag, "
    text = words
    while True:
        wav = folder / "clip.wav"
        subprocess.run(["espeak-ng", "-s", "120", "-w", str(wav), text], check=True, capture_output=True)
        with wave.open(str(wav)) as w:
            if w.getnframes() / w.getframerate() >= seconds:
                return wav.read_bytes()
        text += words


def _text(base: str, q: str) -> float:
    t0 = time.perf_counter()
    assert post(base + "/search", json.dumps({"q": q}).encode(), "application/json") == 200
    return (time.perf_counter() - t0) * 1000


def _voice(base: str, clip: bytes) -> int:
    return post(base + "/search", *multipart("audio", "q.wav", clip))


def measure(src: str, port: int, clip: bytes, clips: int) -> dict[str, object]:
    env = {"SHOPRANK_RATE_SEARCH_PER_S": "0", "SHOPRANK_RATE_EVENTS_PER_S": "0", "SHOPRANK_LOG_IMPRESSIONS": "false"}
    base = f"http://127.0.0.1:{port}"
    with shoprank_server(src, ["serve", "--name", "demo", "--port", str(port)], port, env):
        _voice(base, clip[: len(clip) // 10])  # loads the speech model
        quiet = [_text(base, q) for q in QUERIES * 4]
        codes: list[int] = []
        t0 = time.perf_counter()
        threads = [threading.Thread(target=lambda: codes.append(_voice(base, clip))) for _ in range(clips)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        busy = [_text(base, q) for q in QUERIES * 4]
        for t in threads:
            t.join()
    return {"tree": src, "text p50 ms, quiet": round(statistics.median(quiet), 1),
            "text p50 ms, during voice": round(statistics.median(busy), 1),
            "text max ms, during voice": round(max(busy), 1),
            "voice 200": codes.count(200), "voice 503": codes.count(503),
            "voice other": len(codes) - codes.count(200) - codes.count(503),
            "voice burst s": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", nargs="+", help="source folders (each holds the shoprank package)")
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--port", type=int, default=8830)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        clip = _clip(Path(tmp))
    rows = [measure(src, args.port + i, clip, args.clips) for i, src in enumerate(args.src)]
    print(table(rows, list(rows[0])))
    print(f"load before: {load:.2f}")
    print("results:", save("voice_isolation", {"load_before": load, "clips": args.clips, "rows": rows}))


if __name__ == "__main__":
    main()
