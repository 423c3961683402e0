"""Build an index from a catalog: encode every modality (cached) batch by batch, then index it.

Each batch of products goes through the modality sources (:mod:`shoprank.index.encode`)
and then extends every per-product state of the build (:mod:`shoprank.index.state`): each
modality's rows and the BM25 documents. A batch holds whole models (a model's reviews pool
over its variants), so the index is the same whatever the batch size.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shoprank.catalog import Catalog
from shoprank.encoders.base import EncoderSet
from shoprank.encoders.cache import EmbeddingCache
from shoprank.index.artifacts import IndexArtifacts, Modality
from shoprank.index.crashpoints import crash_point
from shoprank.index.encode import Encoded, encode_products, product_batches
from shoprank.index.lexical import LEXICAL_INDEXES
from shoprank.index.sources import plan
from shoprank.index.sources.photos import ImageTooLarge, labels_to_text, load_image, open_rgb
from shoprank.index.sources.text import dense_text, encode_texts
from shoprank.index.state import ProductState, Unchanged, extend_all, rows_of
from shoprank.index.vector import VECTOR_INDEXES
from shoprank.modalities import MODALITIES, ModalitySpec
from shoprank.types import Product

# Products per batch: big enough that an encoder's own batches stay full, small enough that
# a batch's decoded photos and texts are a small part of memory.
BUILD_BATCH = 4096


class _BuiltRows(Unchanged):
    """One modality's rows gathered batch by batch; :meth:`finish` indexes them."""

    def __init__(self, name: str, dim: int):
        self.name, self.dim, self.n = name, dim, 0
        self.vectors: list[np.ndarray] = []
        self.owners: list[np.ndarray] = []
        self.labels: list[list[tuple[str, float]]] | None = None

    def extend(self, products: Sequence[Product]) -> None:
        rows = rows_of(products, self.name)
        if rows is not None:
            self.vectors.append(rows.vectors)
            self.owners.append(rows.owners + self.n)
            if rows.labels is not None:
                self.labels = self.labels or []
                self.labels.extend(rows.labels)
        self.n += len(products)

    def finish(self, backend: str, exact_limit: int) -> Modality:
        vecs = np.concatenate(self.vectors) if self.vectors else np.zeros((0, self.dim), np.float32)
        owners = np.concatenate(self.owners) if self.owners else np.zeros(0, np.int64)
        return Modality(vecs, VECTOR_INDEXES.get_class(backend).build(vecs, owners, exact_limit))


class _Totals:
    """What the batches add up to, for the manifest."""

    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = {}
        self.timings: dict[str, float] = {}

    def add(self, enc: Encoded, timings: dict[str, float]) -> None:
        for kind, items in enc.seen.items():
            self.seen.setdefault(kind, set()).update(items)
        for k, v in {**enc.timings, **timings}.items():
            self.timings[k] = self.timings.get(k, 0.0) + v


def _encode_batches(catalog: Catalog, rows: Sequence[ProductState], lexical: ProductState, encoders: EncoderSet,
                    cache: EmbeddingCache | None, specs: Sequence[ModalitySpec], batch_size: int) -> _Totals:
    """Every batch of ``catalog`` encoded and added to the states; a product a source changed
    (a photo that does not decode, taken off) is replaced in ``catalog``."""
    totals = _Totals()
    for run in product_batches(catalog.products, batch_size):
        enc = encode_products(catalog.products[run.start:run.stop], encoders, cache, specs)
        for pos, p in zip(run, enc, strict=True):
            if p is not catalog.products[pos]:
                catalog.replace(pos, p)
        extend_all(rows, enc)
        t0 = time.perf_counter()
        lexical.extend(enc)
        totals.add(enc, {"lexical_s": time.perf_counter() - t0})
    return totals


def build_index(
    catalog: Catalog,
    out_dir: Path,
    encoders: EncoderSet,
    cache: EmbeddingCache | None = None,
    exact_limit: int = 20_000,
    vector_backend: str = "faiss",
    lexical_backend: str = "tantivy",
    catalog_seq: int = 0,
    *,
    batch_size: int = BUILD_BATCH,
    specs: Sequence[ModalitySpec] = MODALITIES,
) -> IndexArtifacts:
    """Encode and index ``catalog`` into ``out_dir``; returns the loaded artifacts.

    ``catalog_seq`` is the last catalog write (see :mod:`shoprank.index.live`) the catalog
    already holds: opening the index applies only the writes after it."""
    written_before = cache.written if cache else 0
    rows = {spec.name: _BuiltRows(spec.name, enc.dim) for step in plan(specs, encoders) for spec, enc in step.targets}
    lexical = LEXICAL_INDEXES.get_class(lexical_backend).builder(out_dir / "lexical")
    totals = _encode_batches(catalog, list(rows.values()), lexical, encoders, cache, specs, batch_size)
    timings = totals.timings
    mods: dict[str, Modality] = {}
    sparse = {s.name for s in specs if s.sparse}
    for name, built in rows.items():
        if name in sparse and not any(len(v) for v in built.vectors):
            continue  # a catalog without videos: no video modality at all
        t0 = time.perf_counter()
        mods[name] = built.finish(vector_backend, exact_limit)
        timings[f"{name}_s"] = timings.get(f"{name}_s", 0.0) + time.perf_counter() - t0
    crash_point("encoded")

    t0 = time.perf_counter()
    lex = lexical.finish()
    timings["lexical_s"] = timings.get("lexical_s", 0.0) + time.perf_counter() - t0
    crash_point("lexical")
    manifest = {
        "products": len(catalog),
        "images": len(totals.seen.get("images", ())),
        "photos_left_out": len(totals.seen.get("photos_left_out", ())),  # did not read or decode (logged)
        "reviews": sum(len(p.reviews) for p in catalog),
        "text_encoder": encoders.text.name,
        "image_encoder": encoders.image.name if encoders.image else None,
        "joint_text_image": encoders.joint,
        "modalities": sorted(mods),
        "vector_backend": vector_backend,
        "lexical_backend": lexical_backend,
        "catalog_fingerprint": catalog.fingerprint(),
        "timings": {k: round(v, 3) for k, v in timings.items()},
        # texts and photos encoded by this build (the rest came from the embedding cache)
        "encoded": (cache.written - written_before) if cache else None,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "catalog_seq": catalog_seq,
    }
    labels = next((b.labels for b in rows.values() if b.labels is not None), [])
    art = IndexArtifacts(catalog, lex, mods, manifest, labels)
    art.save(out_dir)
    return art


__all__ = ["BUILD_BATCH", "Encoded", "ImageTooLarge", "build_index", "dense_text", "encode_products", "encode_texts",
           "labels_to_text", "load_image", "open_rgb"]
