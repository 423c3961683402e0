"""Build an index from a catalog: encode every modality (cached), then index it."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from shoprank.catalog import Catalog
from shoprank.encoders.base import ImageEncoder, TextEncoder, l2_normalize
from shoprank.encoders.cache import EmbeddingCache, cached_encode, content_key
from shoprank.encoders.color import DIM as COLOR_DIM
from shoprank.encoders.color import NAME as COLOR_NAME
from shoprank.encoders.color import color_histograms
from shoprank.index.artifacts import IndexArtifacts, Modality
from shoprank.index.lexical import LexicalIndex
from shoprank.index.vector import VectorIndex
from shoprank.types import Product

log = logging.getLogger(__name__)

_DESC_CHARS = 600  # enough for what an item is; long spec lists add noise and cost


def dense_text(p: Product) -> str:
    """What the text encoder reads for a product. Size is left out: an XS and an XL hoodie
    mean the same thing, and identical passages are then encoded once."""
    title = p.title
    for size in p.attr("size"):
        title = title.replace(f"-{size}-", "-").removesuffix(f"-{size}")
    leaf = p.category.split("/")[-1] if p.category else ""
    attrs = "; ".join(f"{k.replace('_', ' ')}: {', '.join(v)}" for k, v in p.attributes.items() if k != "size")
    return " | ".join(s for s in (title, leaf, attrs, p.description[:_DESC_CHARS]) if s)


def _encode_texts(enc: TextEncoder, cache: EmbeddingCache | None, texts: list[str], desc: str) -> np.ndarray:
    keys = [content_key("passage", t) for t in texts]
    vecs, _ = cached_encode(cache, enc.name, keys, lambda idx: (enc.encode_passages([texts[i] for i in idx]), None),
                            enc.dim, desc=desc)
    return vecs


def _load_images(paths: list[str]) -> list[Image.Image]:
    imgs = []
    for path in paths:
        try:
            with Image.open(path) as im:
                imgs.append(im.convert("RGB"))
        except (OSError, UnidentifiedImageError):
            log.warning("unreadable image %s", path)
            imgs.append(Image.new("RGB", (8, 8), "white"))
    return imgs


def _encode_images(enc: ImageEncoder, cache: EmbeddingCache | None, paths: list[str]):
    """Model features + labels, and colour histograms, for each photo (one decode per photo)."""
    keys = []
    for p in paths:
        try:
            keys.append(content_key(Path(p).read_bytes()))
        except OSError:
            keys.append(content_key("missing", p))

    def compute(idx: list[int]):
        imgs = _load_images([paths[i] for i in idx])
        vecs, labels = enc.encode(imgs)
        return vecs, [{"labels": lab, "color": c.tolist()} for lab, c in zip(labels, color_histograms(imgs))]

    vecs, metas = cached_encode(cache, f"{enc.name}+{COLOR_NAME}", keys, compute, enc.dim, batch_size=16,
                                desc="images")
    labels = [[(a, float(b)) for a, b in m["labels"]] for m in metas]
    colors = np.array([m["color"] for m in metas], np.float32).reshape(len(paths), COLOR_DIM)
    return vecs, labels, colors


def build_index(
    catalog: Catalog,
    out_dir: Path,
    text_encoder: TextEncoder,
    image_encoder: ImageEncoder | None,
    cache: EmbeddingCache | None = None,
    exact_limit: int = 100_000,
) -> IndexArtifacts:
    """Encode and index ``catalog`` into ``out_dir``; returns the loaded artifacts."""
    from shoprank.encoders.image import labels_to_text

    timings: dict[str, float] = {}
    n = len(catalog)
    t0 = time.perf_counter()
    text_vecs = _encode_texts(text_encoder, cache, [dense_text(p) for p in catalog], "text")
    timings["text_s"] = time.perf_counter() - t0
    mods = {"text": Modality(text_vecs, VectorIndex.build(text_vecs, exact_limit=exact_limit))}

    # Reviews: one vector per review, averaged per product; variants share their parent's.
    t0 = time.perf_counter()
    rev_texts, rev_owner = [], []
    for pos, p in enumerate(catalog):
        for r in p.reviews:
            rev_texts.append(f"{r.title}. {r.text}".strip(". "))
            rev_owner.append(pos)
    rev_rows = _encode_texts(text_encoder, cache, rev_texts, "reviews")
    by_group: dict[str, list[int]] = {}
    for i, pos in enumerate(rev_owner):
        by_group.setdefault(catalog.products[pos].group_id, []).append(i)
    owners, vecs = [], []
    for pos, p in enumerate(catalog):
        rows = by_group.get(p.group_id)
        if rows:
            owners.append(pos)
            vecs.append(rev_rows[rows].mean(axis=0))
    rv = l2_normalize(np.array(vecs)) if vecs else np.zeros((0, text_encoder.dim), np.float32)
    mods["review"] = Modality(rv, VectorIndex.build(rv, np.array(owners, np.int64), exact_limit))
    timings["review_s"] = time.perf_counter() - t0

    image_labels: list[list[tuple[str, float]]] = []
    if image_encoder is not None:
        t0 = time.perf_counter()
        img_paths, img_owner = [], []
        for pos, p in enumerate(catalog):
            for path in p.images:
                img_paths.append(path)
                img_owner.append(pos)
        img_vecs, image_labels, colors = _encode_images(image_encoder, cache, img_paths)
        own = np.array(img_owner, np.int64)
        mods["image"] = Modality(img_vecs, VectorIndex.build(img_vecs, own, exact_limit))
        mods["color"] = Modality(colors, VectorIndex.build(colors, own, exact_limit))
        timings["image_s"] = time.perf_counter() - t0
        # Text bridge: what the image model saw, embedded as text, so text queries reach photos.
        t0 = time.perf_counter()
        label_vecs = _encode_texts(text_encoder, cache, [labels_to_text(m) for m in image_labels], "image labels")
        mods["label"] = Modality(label_vecs, VectorIndex.build(label_vecs, own, exact_limit))
        timings["label_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    lexical = LexicalIndex.build(catalog, out_dir / "lexical")
    timings["lexical_s"] = time.perf_counter() - t0
    manifest = {
        "products": n,
        "images": len({path for p in catalog for path in p.images}) if image_encoder else 0,
        "reviews": len(rev_texts),
        "text_encoder": text_encoder.name,
        "image_encoder": image_encoder.name if image_encoder else None,
        "catalog_fingerprint": catalog.fingerprint(),
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    art = IndexArtifacts(catalog, lexical, mods, manifest, image_labels)
    art.save(out_dir)
    return art
