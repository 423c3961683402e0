"""Cold index of a ~50k-product text catalog (the labelled sets' real product text, as in
scaling.py): empty embedding cache, no photos, the default text encoder unless told.

    python benchmarks/index_cold.py                        # e5 on its default runtime (onnx-int8)
    python benchmarks/index_cold.py --text-encoder minilm --runtime onnx-int8

Exported ONNX models are reused from var/models (built once per machine, not part of an index build).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import REPO, save, table
from scaling import load_base
from shoprank.catalog import Catalog
from shoprank.config import Settings
from shoprank.engine import ShopRank


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--text-encoder", default="e5")
    ap.add_argument("--runtime", default=None, help="onnx-int8 | onnx-fp32 | reference (default: the encoder's)")
    args = ap.parse_args()
    products, _ = load_base()
    with tempfile.TemporaryDirectory() as home:
        models = REPO / "var" / "models"
        models.mkdir(parents=True, exist_ok=True)
        (Path(home) / "models").symlink_to(models)
        s = Settings(home=Path(home), text_encoder=args.text_encoder, image_encoder="none",
                     encoder_runtime=args.runtime)
        cpu0, t0 = time.process_time(), time.perf_counter()
        engine = ShopRank.build(Catalog(products), s.index_dir("cold"), s)
        total = time.perf_counter() - t0
        cores = (time.process_time() - cpu0) / total
    m = engine.artifacts.manifest
    row = {"catalog": "CrowdFlower + Home Depot", "products": m["products"], "text_encoder": m["text_encoder"],
           "encoded": m["encoded"], "total_s": round(total, 1), "products_per_s": round(m["products"] / total, 1),
           "cores_used": round(cores, 2), **{k: round(v, 1) for k, v in m["timings"].items()}}
    print(f"load before: {os.getloadavg()[0]:.2f}")
    print(table([row], list(row)))
    print("results:", save(f"index_cold_{args.text_encoder}", row))


if __name__ == "__main__":
    main()
