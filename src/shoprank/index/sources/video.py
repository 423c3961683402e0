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

import importlib.util
import logging
from collections.abc import Container, Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from shoprank.encoders.base import EncoderSet
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


def _decode(path: str, limits: VideoLimits) -> list[tuple[float, Image.Image]] | None:
    """A video's keyframes (second, image), or None (logged) when it is refused."""
    from shoprank.encoders.video_decode import VideoError, decode_video

    try:
        return [(k.t, k.image) for k in decode_video(path, limits).keyframes]
    except VideoError as e:
        log.warning("video %s left out: %s", path, e)
        return None


class VideoFrameSource(Source):
    """One row a keyframe of every product video, through each target's image encoder."""

    def available(self, encoders: EncoderSet) -> bool:
        return encoders.image is not None and importlib.util.find_spec("av") is not None

    def collect(self, batch: Batch) -> Inputs:
        pairs = [(i, path) for i, p in enumerate(batch.products) for path in p.videos]
        return Inputs([path for _, path in pairs], np.array([i for i, _ in pairs], np.int64))

    def encode(self, batch: Batch, inputs: Inputs, targets: Sequence[Target]) -> Encoding:
        limits = _limits()
        frames: list[Image.Image] = []
        owners: list[int] = []
        shown: dict[int, list[tuple[int, float]]] = {}  # product -> (video, second) of each row
        kept: dict[int, list[str]] = {}
        for path, owner in zip(inputs.items, inputs.owners.tolist(), strict=True):
            keyframes = _decode(path, limits)
            if keyframes is None:
                batch.seen.setdefault("videos_left_out", set()).add(path)
                continue
            kept.setdefault(owner, []).append(path)
            video = len(kept[owner]) - 1
            shown.setdefault(owner, []).extend((video, round(t, 3)) for t, _ in keyframes)
            frames += [im for _, im in keyframes]
            owners += [owner] * len(keyframes)
        for i, p in enumerate(batch.products):  # what is served is what is indexed
            if p.videos or p.video_frames:
                batch.products[i] = p.model_copy(update={"videos": kept.get(i, []), "video_frames": shown.get(i, [])})
        batch.seen.setdefault("videos", set()).update(v for paths in kept.values() for v in paths)
        out = [enc.encode(frames) if frames else (np.zeros((0, enc.dim), np.float32), []) for _, enc in targets]
        labels = [[(a, float(b)) for a, b in row] for row in out[0][1]] if out else []
        batch.rows[_FRAME_LABELS] = Rows(np.zeros((len(frames), 0), np.float32), np.array(owners, np.int64), labels)
        return Encoding(Inputs(frames, np.array(owners, np.int64)),
                        [np.asarray(v, np.float32).reshape(len(frames), enc.dim) for (v, _), (_, enc)
                         in zip(out, targets, strict=True)],
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
