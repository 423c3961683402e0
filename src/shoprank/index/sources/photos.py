"""Photo sources: one row a photo per photo modality, and the text bridge of their labels.

Every photo case lives here: decoding (at reduced size, bounded), leaving out a photo that
does not read or decode (and taking it off its product: what is served is what is
indexed), decoding each photo once for all the photo modalities, which modality's labels the
index keeps, and a query photo's vectors.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Container, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from shoprank.encoders.base import EncoderSet, ImageEncoder
from shoprank.encoders.cache import EmbeddingCache, content_key
from shoprank.index.sources.base import Batch, Encoding, Inputs, Labels, Source, Target
from shoprank.index.sources.text import TextSource
from shoprank.modalities import MODALITIES, ModalitySpec

log = logging.getLogger(__name__)

_PHOTO_BATCH = 16
# The modality whose photo labels the index keeps (explanations, the text bridge): the one the
# configured image encoder makes, a classifier that names what it sees.
_LABELLING_ENCODER = "image"
LABELLED = next(m.name for m in MODALITIES if m.encoder == _LABELLING_ENCODER)

# Photo encoders look at 224 px (EfficientNet) or less: JPEGs are decoded at a reduced scale
# (DCT scaling, ``Image.draft``) no smaller than this, never at their full 12 megapixels.
DECODE_SIDE = 448


# Pillow warns from 89 MP on; open_rgb's own bound (max_pixels) applies long before that.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


_REDUCIBLE = frozenset({"RGB", "RGBA", "RGBX", "L", "LA", "CMYK", "I", "F"})


class ImageTooLarge(ValueError):
    """A photo with more pixels to decode than allowed (a decompression bomb, or just too big)."""


def open_rgb(fp: str | IO[bytes], side: int = DECODE_SIDE, max_pixels: int | None = None) -> Image.Image:
    """A photo as RGB, decoded at reduced size where the format allows (JPEG).

    ``max_pixels`` bounds the pixels decoded, checked from the header before any decoding."""
    try:
        im = Image.open(fp)
    except Image.DecompressionBombError as e:
        raise ImageTooLarge(str(e)) from None
    with im:
        im.draft("RGB", (side, side))
        w, h = im.size
        if max_pixels is not None and w * h > max_pixels:
            raise ImageTooLarge(f"the photo is {w}x{h} pixels; at most {max_pixels:,} are decoded")
        factor = min(w, h) // side
        if factor >= 2 and im.mode in _REDUCIBLE:
            # Formats without DCT scaling (PNG, WebP...): box-reduce right after decoding, so the
            # full-size image is held once, not again as its RGB copy.
            return im.reduce(factor).convert("RGB")
        return im.convert("RGB")


def load_image(path: str) -> Image.Image | None:
    """A photo as RGB, or None (logged) when it does not decode: the product is indexed without it."""
    try:
        return open_rgb(path)
    except Exception as e:  # decoders raise anything on bad bytes (SyntaxError: broken PNG file)
        log.warning("photo %s does not decode (%s: %s): left out", path, type(e).__name__, e)
        return None


def labels_to_text(labels: list[tuple[str, float]], min_prob: float = 0.02) -> str:
    """The text bridge: what the image model sees, as a phrase a text encoder can embed."""
    kept = [name for name, p in labels if p >= min_prob] or [labels[0][0]]
    return "a product photo of " + ", ".join(kept)


def _photo_keys(paths: Sequence[str]) -> tuple[list[str], set[str]]:
    """Content keys of the photos, and those of the photos that cannot be read."""
    keys: list[str] = []
    bad: set[str] = set()
    for path in paths:
        try:
            keys.append(content_key(Path(path).read_bytes()))
        except OSError as e:
            log.warning("photo %s cannot be read (%s): left out", path, e.strerror or e)
            keys.append(content_key("missing", path))
            bad.add(keys[-1])
    return keys, bad


Hits = dict[str, tuple[np.ndarray, Any]]  # content key -> (vector, {"labels": ...})


class _Photos:
    """One batch's photos through several encoders: each missing photo decoded once (the next
    batch decodes while the encoders run on this one), every result cached."""

    def __init__(self, paths: list[str], encoders: list[ImageEncoder], cache: EmbeddingCache | None):
        self.paths, self.encoders, self.cache = paths, encoders, cache
        self.keys, self.bad = _photo_keys(paths)
        self.hits: list[Hits] = [cache.get_many(e.name, self.keys) if cache else {} for e in encoders]

    def _encode(self, images: dict[int, Image.Image | None]) -> None:
        keys, bad = self.keys, self.bad
        bad.update(keys[i] for i, im in images.items() if im is None)
        for enc, hits in zip(self.encoders, self.hits, strict=True):
            need = [i for i in images if keys[i] not in hits and keys[i] not in bad]
            if not need:
                continue
            v, labels = enc.encode([im for i in need if (im := images[i]) is not None])
            rows = [(keys[i], v[j], {"labels": labels[j]}) for j, i in enumerate(need)]
            hits.update((k, (vec, meta)) for k, vec, meta in rows)
            if self.cache:
                self.cache.put_many(enc.name, rows)

    def run(self) -> np.ndarray:
        """Encode what the cache lacks; returns which photos are kept (read and decoded)."""
        keys, paths = self.keys, self.paths
        # Variants share their parent's photos: decode and encode each missing photo once.
        first = {k: i for i, k in reversed(list(enumerate(keys)))}
        todo = sorted({first[k] for hits in self.hits for k in keys if k not in hits and k not in self.bad})
        batches = [todo[s:s + _PHOTO_BATCH] for s in range(0, len(todo), _PHOTO_BATCH)]

        def decode(batch: list[int]) -> dict[int, Image.Image | None]:
            return {i: load_image(paths[i]) for i in batch}

        with tqdm(total=len(todo), desc="photos", disable=not todo, unit="photo") as bar, \
                ThreadPoolExecutor(1, thread_name_prefix="decode") as pool:
            ahead = pool.submit(decode, batches[0]) if batches else None
            for n, batch in enumerate(batches):
                assert ahead is not None
                images = ahead.result()
                ahead = pool.submit(decode, batches[n + 1]) if n + 1 < len(batches) else None
                self._encode(images)
                bar.update(len(batch))
        return np.array([k not in self.bad for k in keys], bool)

    def results(self, e: int, keep: np.ndarray) -> tuple[np.ndarray, list[Labels]]:
        """Encoder ``e``'s vectors and labels of the kept photos."""
        hits, vecs, labels = self.hits[e], [], []
        for k, ok in zip(self.keys, keep, strict=True):
            if ok:
                vec, meta = hits[k]
                vecs.append(vec)
                labels.append([(a, float(b)) for a, b in (meta or {}).get("labels", [])])
        dim = self.encoders[e].dim
        return np.array(vecs, np.float32).reshape(len(vecs), dim), labels


def _take_off(batch: Batch, left_out: list[tuple[int, str]]) -> None:
    """Take the photos that did not read or decode off their products."""
    gone: dict[int, set[str]] = {}
    for i, path in left_out:
        gone.setdefault(i, set()).add(path)
    for i, paths in gone.items():
        p = batch.products[i]
        batch.products[i] = p.model_copy(update={"images": [x for x in p.images if x not in paths]})


class PhotoSource(Source):
    """One row a photo, for every photo modality at once (each photo decoded once)."""

    def available(self, encoders: EncoderSet) -> bool:
        return encoders.image is not None  # without an image encoder photos are not indexed

    def collect(self, batch: Batch) -> Inputs:
        pairs = [(i, path) for i, p in enumerate(batch.products) for path in p.images]
        return Inputs([path for _, path in pairs], np.array([i for i, _ in pairs], np.int64))

    def encode(self, batch: Batch, inputs: Inputs, targets: Sequence[Target]) -> Encoding:
        photos = _Photos(inputs.items, [enc for _, enc in targets], batch.cache)
        keep = photos.run()
        left_out = [(int(i), path) for i, path, ok in zip(inputs.owners, inputs.items, keep, strict=True) if not ok]
        _take_off(batch, left_out)
        kept = Inputs([path for path, ok in zip(inputs.items, keep, strict=True) if ok], inputs.owners[keep])
        batch.seen.setdefault("images", set()).update(kept.items)
        batch.seen.setdefault("photos_left_out", set()).update(path for _, path in left_out)
        out = [photos.results(e, keep) for e in range(len(targets))]
        return Encoding(kept, [v for v, _ in out],
                        [labels if spec.encoder == _LABELLING_ENCODER else None
                         for (spec, _), (_, labels) in zip(targets, out, strict=True)])


class PhotoLabelSource(TextSource):
    """The text bridge: what the image model saw in each photo, embedded as text, so text
    queries reach photos."""

    reads = (LABELLED,)

    def collect(self, batch: Batch) -> Inputs:
        seen = batch.rows[LABELLED]
        labels = seen.labels or []
        keep = [i for i, lab in enumerate(labels) if lab]
        return Inputs([labels_to_text(labels[i]) for i in keep], seen.owners[keep])


def _pooled(encoder: ImageEncoder, images: list[Image.Image]) -> tuple[np.ndarray, Labels]:
    """One vector and one label list for ``images``: the photo's own, or several pooled."""
    vecs, labels = encoder.encode(images)
    if len(images) == 1:
        return vecs[0], labels[0]
    mean = np.asarray(vecs, np.float32).mean(axis=0)
    surest = max(labels, key=lambda lab: lab[0][1] if lab else 0.0)
    return (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32), surest


def encode_query_photo(img: Image.Image | Sequence[Image.Image], present: Container[str], encoders: EncoderSet,
                       encode_text: Callable[[str], np.ndarray],
                       specs: Sequence[ModalitySpec] = MODALITIES) -> tuple[dict[str, np.ndarray], Labels]:
    """A query photo through every modality the index holds (``present``) that a query photo
    reaches (a ``"photo"`` route; its source may be another than photos, e.g. video frames): its
    vector per modality (``photo:<name>``), and what the labelling encoder sees in it, with that
    phrase's text vector (``photo_labels``, the text bridge). Several images (a video query's
    keyframes) are one query: their vectors' normalised mean, the labels of the frame named most
    surely."""
    images = [img] if isinstance(img, Image.Image) else list(img)
    vectors: dict[str, np.ndarray] = {}
    seen: Labels = []
    done: dict[int, tuple[np.ndarray, Labels]] = {}  # modalities sharing an encoder (photos, video frames)
    for spec in specs:
        if spec.name not in present or not any(r.query == "photo" for r in spec.routes):
            continue
        encoder = encoders.for_modality(spec)
        if not isinstance(encoder, ImageEncoder):
            continue
        if id(encoder) not in done:
            done[id(encoder)] = _pooled(encoder, images)
        vec, labels = done[id(encoder)]
        vectors[f"photo:{spec.name}"] = vec
        if spec.encoder == _LABELLING_ENCODER and labels and "photo_labels" not in vectors:
            seen = labels
            vectors["photo_labels"] = encode_text(labels_to_text(labels))
    return vectors, seen
