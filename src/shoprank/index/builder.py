"""Build an index from a catalog: encode every modality (cached), then index it.

The builder loops over :data:`shoprank.modalities.MODALITIES`; each spec's source says
what it reads from a product, and its encoder (from the :class:`EncoderSet`) makes the
vectors. Photos are decoded once for all the photo modalities.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from shoprank.catalog import Catalog
from shoprank.catalog.images import load_image
from shoprank.encoders.base import EncoderSet, ImageEncoder, TextEncoder, l2_normalize
from shoprank.encoders.cache import EmbeddingCache, cached_encode, content_key
from shoprank.index.artifacts import IndexArtifacts, Modality
from shoprank.index.crashpoints import crash_point
from shoprank.index.lexical import LEXICAL_INDEXES
from shoprank.index.vector import VECTOR_INDEXES
from shoprank.modalities import MODALITIES, ModalitySpec, SourceKind
from shoprank.types import Product

log = logging.getLogger(__name__)

_DESC_CHARS = 600  # enough for what an item is; long spec lists add noise and cost
_PHOTO_BATCH = 16


def dense_text(p: Product) -> str:
    """What the text encoder reads for a product. Size is left out: an XS and an XL hoodie
    mean the same thing, and identical passages are then encoded once."""
    title = p.title
    for size in p.attr("size"):
        title = title.replace(f"-{size}-", "-").removesuffix(f"-{size}")
    leaf = p.category.split("/")[-1] if p.category else ""
    attrs = "; ".join(f"{k.replace('_', ' ')}: {', '.join(v)}" for k, v in p.attributes.items() if k != "size")
    return " | ".join(s for s in (title, leaf, attrs, p.description[:_DESC_CHARS]) if s)


def labels_to_text(labels: list[tuple[str, float]], min_prob: float = 0.02) -> str:
    """The text bridge: what the image model sees, as a phrase a text encoder can embed."""
    kept = [name for name, p in labels if p >= min_prob] or [labels[0][0]]
    return "a product photo of " + ", ".join(kept)


def encode_texts(enc: TextEncoder, cache: EmbeddingCache | None, texts: list[str], desc: str) -> np.ndarray:
    keys = [content_key("passage", t) for t in texts]
    # Large batches: the encoder sorts each by length, so less of every batch is padding.
    vecs, _ = cached_encode(cache, enc.name, keys, lambda idx: (enc.encode_passages([texts[i] for i in idx]), None),
                            enc.dim, batch_size=256, desc=desc)
    return vecs


Rows = tuple[np.ndarray, np.ndarray]  # (vectors, owner position per row)


@dataclass
class _Build:
    """What the specs of one build share: the catalog, encoders, cache, and photo results."""

    catalog: Catalog
    encoders: EncoderSet
    cache: EmbeddingCache | None
    photo_paths: list[str] = field(default_factory=list)
    photo_owners: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    photo_rows: dict[str, tuple[np.ndarray, list[Any]]] = field(default_factory=dict)  # modality -> (vecs, labels)
    image_labels: list[list[tuple[str, float]]] = field(default_factory=list)
    left_out: list[tuple[int, str]] = field(default_factory=list)  # (position, photo) that did not read or decode

    def __post_init__(self) -> None:
        owners = []
        for pos, p in enumerate(self.catalog):
            for path in p.images:
                self.photo_paths.append(path)
                owners.append(pos)
        self.photo_owners = np.array(owners, np.int64)

    def encode_photos(self, specs: list[tuple[ModalitySpec, ImageEncoder]]) -> None:
        """Every photo through every photo modality's encoder, decoding each missing photo once."""
        paths = self.photo_paths
        keys = []
        bad: set[str] = set()  # keys of photos that cannot be read or decoded: left out of every modality
        for path in paths:
            try:
                keys.append(content_key(Path(path).read_bytes()))
            except OSError as e:
                log.warning("photo %s cannot be read (%s): left out", path, e.strerror or e)
                keys.append(content_key("missing", path))
                bad.add(keys[-1])
        state: dict[str, tuple[ImageEncoder, dict[str, tuple[np.ndarray, Any]], np.ndarray, list[Any]]] = {}
        for spec, enc in specs:
            hits = self.cache.get_many(enc.name, keys) if self.cache else {}
            state[spec.name] = (enc, hits, np.zeros((len(paths), enc.dim), np.float32), [None] * len(paths))
        # Variants share their parent's photos: decode and encode each missing photo once.
        first = {k: i for i, k in reversed(list(enumerate(keys)))}
        todo = sorted({first[k] for _, hits, _, _ in state.values() for k in keys if k not in hits and k not in bad})
        batches = [todo[s:s + _PHOTO_BATCH] for s in range(0, len(todo), _PHOTO_BATCH)]

        def decode(batch: list[int]) -> dict[int, Image.Image | None]:
            return {i: load_image(paths[i]) for i in batch}

        # The next batch decodes (PIL releases the GIL) while the encoders run on this one.
        with tqdm(total=len(todo), desc="photos", disable=not todo, unit="photo") as bar, \
                ThreadPoolExecutor(1, thread_name_prefix="decode") as pool:
            ahead = pool.submit(decode, batches[0]) if batches else None
            for n, batch in enumerate(batches):
                assert ahead is not None
                images = ahead.result()
                ahead = pool.submit(decode, batches[n + 1]) if n + 1 < len(batches) else None
                bad.update(keys[i] for i, im in images.items() if im is None)
                for enc, hits, _, _ in state.values():
                    need = [i for i in batch if keys[i] not in hits and keys[i] not in bad]
                    if not need:
                        continue
                    v, labels = enc.encode([im for i in need if (im := images[i]) is not None])
                    rows = []
                    for j, i in enumerate(need):
                        hits[keys[i]] = (v[j], {"labels": labels[j]})
                        rows.append((keys[i], v[j], {"labels": labels[j]}))
                    if self.cache:
                        self.cache.put_many(enc.name, rows)
                bar.update(len(batch))
        keep = np.array([k not in bad for k in keys], bool)
        for name, (_, hits, vecs, metas) in state.items():
            for i, k in enumerate(keys):
                if keep[i]:
                    vecs[i], meta = hits[k]
                    metas[i] = [(a, float(b)) for a, b in (meta or {}).get("labels", [])]
            self.photo_rows[name] = (vecs[keep], [m for m, ok in zip(metas, keep, strict=True) if ok])
        self.left_out = [(int(pos), path) for pos, path, ok in zip(self.photo_owners, paths, keep, strict=True)
                         if not ok]
        self.photo_owners = self.photo_owners[keep]
        self.photo_paths = [path for path, ok in zip(paths, keep, strict=True) if ok]

    def drop_left_out(self) -> None:
        """Take the photos that did not decode off their products: what is served is what is indexed."""
        gone: dict[int, set[str]] = {}
        for pos, path in self.left_out:
            gone.setdefault(pos, set()).add(path)
        for pos, paths in gone.items():
            p = self.catalog.products[pos]
            self.catalog.replace(pos, p.model_copy(update={"images": [i for i in p.images if i not in paths]}))


def _product_text(b: _Build, spec: ModalitySpec, enc: Any) -> Rows:
    return encode_texts(enc, b.cache, [dense_text(p) for p in b.catalog], spec.name), np.arange(len(b.catalog))


def _reviews(b: _Build, spec: ModalitySpec, enc: Any) -> Rows:
    # One vector per review, averaged per model: variants share their parent's reviews.
    texts, owner = [], []
    for pos, p in enumerate(b.catalog):
        for r in p.reviews:
            texts.append(f"{r.title}. {r.text}".strip(". "))
            owner.append(pos)
    rows = encode_texts(enc, b.cache, texts, spec.name)
    by_group: dict[str, list[int]] = {}
    for i, pos in enumerate(owner):
        by_group.setdefault(b.catalog.products[pos].group_id, []).append(i)
    owners, vecs = [], []
    for pos, p in enumerate(b.catalog):
        mine = by_group.get(p.group_id)
        if mine:
            owners.append(pos)
            vecs.append(rows[mine].mean(axis=0))
    out = l2_normalize(np.array(vecs)) if vecs else np.zeros((0, enc.dim), np.float32)
    return out, np.array(owners, np.int64)


def _photos(b: _Build, spec: ModalitySpec, enc: Any) -> Rows:
    vecs, labels = b.photo_rows[spec.name]
    if spec.encoder == "image":
        b.image_labels = labels
    return vecs, b.photo_owners


def _photo_labels(b: _Build, spec: ModalitySpec, enc: Any) -> Rows:
    # The text bridge: what the image model saw, embedded as text, so text queries reach photos.
    keep = [i for i, lab in enumerate(b.image_labels) if lab]
    texts = [labels_to_text(b.image_labels[i]) for i in keep]
    return encode_texts(enc, b.cache, texts, spec.name), b.photo_owners[keep]


_SOURCES: dict[SourceKind, Callable[[_Build, ModalitySpec, Any], Rows]] = {
    "product_text": _product_text, "reviews": _reviews, "photos": _photos, "photo_labels": _photo_labels,
}


@dataclass
class Encoded:
    """Every modality's rows for a list of products (owners are positions in that list), and
    the ImageNet labels of each photo row."""

    rows: dict[str, Rows]
    image_labels: list[list[tuple[str, float]]]
    photos: int  # distinct photo files
    timings: dict[str, float]
    left_out: list[tuple[int, str]] = field(default_factory=list)  # (position, photo) not read or decoded


def encode_products(catalog: Catalog, encoders: EncoderSet, cache: EmbeddingCache | None = None) -> Encoded:
    """Encode every modality of ``catalog`` (through the cache): what a build indexes, and what
    a live update adds for new or changed products.

    A photo that cannot be read or decoded is left out (logged) and taken off its product in
    ``catalog``, which is otherwise indexed as usual: one bad file never fails a build, a live
    write or the replay of the write log when a server starts."""
    timings: dict[str, float] = {}
    b = _Build(catalog, encoders, cache)
    active = [(spec, enc) for spec in MODALITIES if (enc := encoders.for_modality(spec)) is not None]
    photo_specs = [(s, e) for s, e in active if s.source == "photos" and isinstance(e, ImageEncoder)]
    if photo_specs:
        t0 = time.perf_counter()
        b.encode_photos(photo_specs)
        b.drop_left_out()
        timings["photos_s"] = time.perf_counter() - t0
    rows: dict[str, Rows] = {}
    for spec, enc in active:
        t0 = time.perf_counter()
        rows[spec.name] = _SOURCES[spec.source](b, spec, enc)
        timings[f"{spec.name}_s"] = time.perf_counter() - t0
    return Encoded(rows, b.image_labels, len(set(b.photo_paths)) if encoders.image else 0, timings, b.left_out)


def build_index(
    catalog: Catalog,
    out_dir: Path,
    encoders: EncoderSet,
    cache: EmbeddingCache | None = None,
    exact_limit: int = 20_000,
    vector_backend: str = "faiss",
    lexical_backend: str = "tantivy",
    catalog_seq: int = 0,
) -> IndexArtifacts:
    """Encode and index ``catalog`` into ``out_dir``; returns the loaded artifacts.

    ``catalog_seq`` is the last catalog write (see :mod:`shoprank.index.live`) the catalog
    already holds: opening the index applies only the writes after it."""
    written_before = cache.written if cache else 0
    vector_index = VECTOR_INDEXES.get_class(vector_backend)
    enc = encode_products(catalog, encoders, cache)
    timings = dict(enc.timings)
    mods: dict[str, Modality] = {}
    for name, (vecs, owners) in enc.rows.items():
        t0 = time.perf_counter()
        mods[name] = Modality(vecs, vector_index.build(vecs, owners, exact_limit))
        timings[f"{name}_s"] = timings.get(f"{name}_s", 0.0) + time.perf_counter() - t0
    crash_point("encoded")

    t0 = time.perf_counter()
    lexical = LEXICAL_INDEXES.get_class(lexical_backend).build(catalog, out_dir / "lexical")
    timings["lexical_s"] = time.perf_counter() - t0
    crash_point("lexical")
    manifest = {
        "products": len(catalog),
        "images": enc.photos,
        "photos_left_out": len({path for _, path in enc.left_out}),  # did not read or decode (logged)
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
    art = IndexArtifacts(catalog, lexical, mods, manifest, enc.image_labels)
    art.save(out_dir)
    return art
