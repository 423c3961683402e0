"""Search latency on the Luma index: text queries (real WANDS shopper queries plus Chinese
queries), and photo queries (catalog photos, re-encoded as JPEG).

    python benchmarks/query_latency.py            # builds/reuses var/indexes/luma
    python benchmarks/query_latency.py --reranker var/models/crowdflower-ce

With ``--reranker`` (a folder `shoprank eval --cross-encoder --save-model` wrote), the English
text queries are also timed with the cross-encoder reranking each search's top 30 (it reads
English only): each query is searched without and with it in turn, its encoding not cached, so
both rows share the machine's state.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from PIL import Image

from common import DATA_DIR, ZH, percentiles, save, table, wands_queries
from shoprank.catalog import Catalog, load_magento
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.index.generations import IndexHome
from shoprank.types import Query


def _engine() -> ShopRank:
    settings = Settings()
    path = settings.index_dir("luma")
    if IndexHome(path).current() is not None:
        return ShopRank.open(path, settings)
    return ShopRank.build(Catalog(load_magento(DATA_DIR / "magento_luma").products), path, settings)


def _time(engine: ShopRank, queries: list[Query]) -> tuple[list[float], list[float]]:
    total, pipeline = [], []
    for q in queries:
        t0 = time.perf_counter()
        res = engine.search(q)
        total.append((time.perf_counter() - t0) * 1000)
        pipeline.append(res.timings_ms["pipeline"])  # retrieve -> rank -> collapse, without encoding
    return total, pipeline


def main(reranker: Path | None = None) -> None:
    engine = _engine()
    text = [Query(text=t, k=10) for t in wands_queries() + ZH]
    photos = []
    for p in engine.artifacts.catalog.products[::40]:
        if p.images:
            with Image.open(p.images[0]) as im:
                buf = io.BytesIO()
                im.convert("RGB").save(buf, "JPEG", quality=90)
                photos.append(Query(image=buf.getvalue(), k=10))
    _time(engine, text[:20] + photos[:3])  # warm-up: models loaded, caches filled
    rows = []
    for name, qs in (("text (WANDS + zh)", text), ("photo", photos)):
        total, pipe = _time(engine, qs)
        rows.append({"queries": name, **percentiles(total), "pipeline_p50_ms": percentiles(pipe)["p50_ms"],
                     "pipeline_p99_ms": percentiles(pipe)["p99_ms"]})
    if reranker is not None:
        rows += _with_reranker(engine, text, reranker)
    print(f"index: {engine.artifacts.manifest['products']} products; end-to-end = encode query + retrieve + rank")
    print(table(rows, list(rows[0])))
    print("results:", save("query_latency", {"rows": rows}))


def _with_reranker(engine: ShopRank, text: list[Query], path: Path) -> list[dict]:
    from shoprank.ranking.rerank import CrossEncoderReranker

    reranker, pipe = CrossEncoderReranker.load(path), engine.pipeline
    english = [q for q in text if q.text and reranker.reads(q.text)]  # Chinese queries are not reranked
    out: dict[str, tuple[list[float], list[float]]] = {"English text, no reranker": ([], []),
                                                       f"English text + cross-encoder top {reranker.top}": ([], [])}
    for q in english[:20]:  # warm-up with the reranker
        pipe.reranker = reranker
        engine.search(q)
    for q in english:
        for name, r in zip(out, (None, reranker)):
            pipe.reranker = r
            engine.understanding.encode_text.cache_clear()  # both rows encode the query, as a first search does
            t0 = time.perf_counter()
            res = engine.search(q)
            out[name][0].append((time.perf_counter() - t0) * 1000)
            out[name][1].append(res.timings_ms["pipeline"])
    pipe.reranker = None
    return [{"queries": name, **percentiles(total), "pipeline_p50_ms": percentiles(p)["p50_ms"],
             "pipeline_p99_ms": percentiles(p)["p99_ms"]} for name, (total, p) in out.items()]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reranker", type=Path, help="a saved cross-encoder reranker to time as well")
    main(ap.parse_args().reranker)
