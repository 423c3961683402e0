"""Video sources: each product video's keyframes through the photo encoder, their mean, and the
text bridge of what the image model sees in them.

- ``video_frames``: one row a keyframe (scene changes plus uniform picks, bounded), in the
  photos' vector space, so a query photo meets frames as it meets photos. The second each row
  shows is recorded on the product (:attr:`~shoprank.types.Product.video_frames`, in row
  order): a hit can then say which moment matched (:func:`video_moment`).
- ``video_pooled``: the mean of a product's keyframes, one row a product.
- ``video_labels``: one passage a keyframe naming what the image model sees ("a product
  photo of ..."), for text queries, row for row beside ``video_frames``.

A video that does not decode, or breaks a bound (:mod:`shoprank.encoders.video_decode`), is
left out (logged) and taken off its product, as a photo is. Without PyAV
(``shoprank[video]``) or an image encoder, videos are not indexed; an index whose catalog has
no video holds none of these modalities (``ModalitySpec.sparse``), so nothing else changes.
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
from collections.abc import Container, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from shoprank.encoders.base import EncoderSet
from shoprank.encoders.cache import EmbeddingCache, content_key
from shoprank.index.sources.base import Batch, Encoding, Inputs, Labels, Rows, Source, Target
from shoprank.index.sources.photos import labels_to_text
from shoprank.index.sources.text import TextSource
from shoprank.types import VideoMoment

if TYPE_CHECKING:
    from shoprank.encoders.video_decode import VideoLimits
    from shoprank.index.artifacts import IndexArtifacts

log = logging.getLogger(__name__)

FRAMES = "video"          # the keyframe modality (shoprank.modalities)
LABELS = "video_label"    # its text bridge, row for row
# What the frame source hands the label source: each frame's labels (batch.rows key, no modality).
_FRAME_LABELS = "video:frame_labels"
_UNNAMED = "a frame of a product video"  # a frame the image model names nothing in keeps its row


def _limits() -> VideoLimits:
    from shoprank.config import get_settings
    from shoprank.encoders.video_decode import VideoLimits

    return VideoLimits.from_settings(get_settings())


@dataclass
class _Clip:
    """One video's keyframes: their seconds, and per target encoder their vectors; the labels of
    the first target's encoder (what the label bridge reads)."""

    times: list[float]
    vectors: list[np.ndarray]
    labels: list[Labels]


def _video_key(path: str, limits: VideoLimits) -> str:
    """The cache key of a video's keyframes: its bytes and the bounds that chose them."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return content_key("video", h.hexdigest(), repr(limits))


def _cached(cache: EmbeddingCache | None, key: str, targets: Sequence[Target]) -> _Clip | None:
    """The keyframes of an unchanged video as a build before encoded them, or None."""
    if cache is None:
        return None
    clip = _Clip([], [], [])
    for _, enc in targets:
        first = cache.get_many(enc.name, [f"{key}:0"]).get(f"{key}:0")
        n = int((first[1] or {}).get("n", 0)) if first else 0
        hits = cache.get_many(enc.name, [f"{key}:{i}" for i in range(n)]) if n else {}
        if not n or len(hits) < n:
            return None
        rows = [hits[f"{key}:{i}"] for i in range(n)]
        clip.vectors.append(np.stack([v for v, _ in rows]).astype(np.float32))
        if not clip.times:
            clip.times = [float(m["t"]) for _, m in rows]
            clip.labels = [[(a, float(b)) for a, b in m.get("labels", [])] for _, m in rows]
    return clip


def _decoded(path: str, key: str, cache: EmbeddingCache | None, targets: Sequence[Target],
             limits: VideoLimits) -> _Clip | None:
    """A video decoded and its keyframes encoded (then cached), or None (logged) when it is refused."""
    from shoprank.encoders.video_decode import VideoError, decode_video

    try:
        keyframes = decode_video(path, limits).keyframes
    except VideoError as e:
        log.warning("video %s left out: %s", path, e)
        return None
    times = [round(k.t, 3) for k in keyframes]
    clip = _Clip(times, [], [])
    for n, (_, enc) in enumerate(targets):
        vecs, labels = enc.encode([k.image for k in keyframes])
        clip.vectors.append(np.asarray(vecs, np.float32).reshape(len(keyframes), enc.dim))
        if n == 0:
            clip.labels = [[(a, float(b)) for a, b in lab] for lab in labels]
        if cache is not None:
            cache.put_many(enc.name, [(f"{key}:{i}", clip.vectors[-1][i],
                                       {"t": t, "n": len(times), "labels": clip.labels[i] if n == 0 else []})
                                      for i, t in enumerate(times)])
    return clip


def _clip(path: str, cache: EmbeddingCache | None, targets: Sequence[Target], limits: VideoLimits) -> _Clip | None:
    try:
        key = _video_key(path, limits)
    except OSError as e:
        log.warning("video %s cannot be read (%s): left out", path, e.strerror or e)
        return None
    return _cached(cache, key, targets) or _decoded(path, key, cache, targets, limits)


class VideoFrameSource(Source):
    """One row a keyframe of every product video, through each target's image encoder (cached
    by the video's content: an unchanged video is not decoded again)."""

    def available(self, encoders: EncoderSet) -> bool:
        return encoders.image is not None and importlib.util.find_spec("av") is not None

    def collect(self, batch: Batch) -> Inputs:
        pairs = [(i, path) for i, p in enumerate(batch.products) for path in p.videos]
        return Inputs([path for _, path in pairs], np.array([i for i, _ in pairs], np.int64))

    def encode(self, batch: Batch, inputs: Inputs, targets: Sequence[Target]) -> Encoding:
        limits = _limits()
        owners: list[int] = []
        vectors: list[list[np.ndarray]] = [[] for _ in targets]
        labels: list[Labels] = []
        shown: dict[int, list[tuple[int, float]]] = {}  # product -> (video, second) of each row
        kept: dict[int, list[str]] = {}
        for path, owner in zip(inputs.items, inputs.owners.tolist(), strict=True):
            clip = _clip(path, batch.cache, targets, limits)
            if clip is None:
                batch.seen.setdefault("videos_left_out", set()).add(path)
                continue
            kept.setdefault(owner, []).append(path)
            shown.setdefault(owner, []).extend((len(kept[owner]) - 1, t) for t in clip.times)
            owners += [owner] * len(clip.times)
            labels += clip.labels
            for mine, theirs in zip(vectors, clip.vectors, strict=True):
                mine.append(theirs)
        for i, p in enumerate(batch.products):  # what is served is what is indexed
            if p.videos or p.video_frames:
                batch.products[i] = p.model_copy(update={"videos": kept.get(i, []), "video_frames": shown.get(i, [])})
        batch.seen.setdefault("videos", set()).update(v for paths in kept.values() for v in paths)
        rows = np.array(owners, np.int64)
        batch.rows[_FRAME_LABELS] = Rows(np.zeros((len(rows), 0), np.float32), rows, labels)
        return Encoding(Inputs(list(range(len(rows))), rows),
                        [np.concatenate(v) if v else np.zeros((0, enc.dim), np.float32)
                         for v, (_, enc) in zip(vectors, targets, strict=True)],
                        [None] * len(targets))  # the served index keeps photo labels only


class VideoPooledSource(Source):
    """A product's keyframes pooled into one row by their mean (the frames' own vectors)."""

    pooling = "mean"
    reads = (FRAMES,)

    def collect(self, batch: Batch) -> Inputs:
        rows = batch.rows[FRAMES]
        return Inputs(list(range(len(rows.owners))), rows.owners)

    def encode(self, batch: Batch, inputs: Inputs, targets: Sequence[Target]) -> Encoding:
        return Encoding(inputs, [batch.rows[FRAMES].vectors for _ in targets], [None] * len(targets))


class VideoLabelSource(TextSource):
    """The text bridge of the keyframes: what the image model saw in each, embedded as text."""

    reads = (FRAMES,)

    def collect(self, batch: Batch) -> Inputs:
        seen = batch.rows.get(_FRAME_LABELS)
        if seen is None:
            return Inputs([], np.zeros(0, np.int64))
        labels: list[Labels] = seen.labels or [[] for _ in seen.owners]
        return Inputs([labels_to_text(lab) if lab else _UNNAMED for lab in labels], seen.owners)


# (modality, query vector, what matched, the retriever that must have found the product)
_MOMENT_ROUTES = ((FRAMES, "photo:video", "photo", "video"), (LABELS, "text", "text", "video_label"))


def video_moment(art: IndexArtifacts, pos: int, vectors: dict[str, np.ndarray],
                 found_by: Container[str]) -> VideoMoment | None:
    """The keyframe of the product at ``pos`` nearest the query (its photo first, else its text
    through the label bridge), or None: no video, or not found through its frames (``found_by``:
    the retrievers that found the product)."""
    shown = art.catalog.products[pos].video_frames
    for modality, key, by, retriever in _MOMENT_ROUTES:
        mod, q = art.modalities.get(modality), vectors.get(key)
        if mod is None or q is None or not shown or retriever not in found_by:
            continue
        rows = mod.rows_of(pos)
        if len(rows) != len(shown):  # written by another build of the product: no moment to name
            return None
        sims = mod.vectors[rows] @ np.asarray(q, np.float32)
        j = int(np.argmax(sims))
        if sims[j] <= 0:  # nearest only because the product has nothing nearer: no moment to name
            return None
        return VideoMoment(shown[j][0], float(shown[j][1]), float(sims[j]), by)
    return None


__all__ = ["FRAMES", "LABELS", "VideoFrameSource", "VideoLabelSource", "VideoPooledSource",
           "video_moment"]
