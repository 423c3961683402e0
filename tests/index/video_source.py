"""A fake "fake_video" modality (the real one: shoprank.index.sources.video), the way a new one
is added: this file (an encoder and a source) plus one spec. A product's photos stand in for
the frames of its video; the source pools their vectors into one row per product by their mean."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from shoprank.encoders.base import ImageEncoder
from shoprank.encoders.color import color_histograms
from shoprank.index.sources import Batch, Inputs, Source
from shoprank.index.sources.base import Encoding, Target
from shoprank.index.sources.photos import load_image
from shoprank.modalities import ModalitySpec, Route

VIDEO = ModalitySpec("fake_video", "fake_video_frames", "fake-frames",
                     (Route("photo", "cos_fake_video", "cosine(query photo, the mean of the product's video frames)",
                            1.0, "fake_video", 1.0),))


class FrameEncoder(ImageEncoder):
    """A frame's colour histogram; it names nothing."""

    name = "fake-frames"
    dim = 64

    def encode(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, list[list[tuple[str, float]]]]:
        return color_histograms(images), [[] for _ in images]


class VideoFrames(Source):
    """Every frame of a product's video, pooled into one row per product."""

    pooling = "mean"

    def collect(self, batch: Batch) -> Inputs:
        pairs = [(i, path) for i, p in enumerate(batch.products) for path in p.images]
        return Inputs([path for _, path in pairs], np.array([i for i, _ in pairs], np.int64))

    def encode(self, batch: Batch, inputs: Inputs, targets: Sequence[Target]) -> Encoding:
        frames = [load_image(path) for path in inputs.items]
        keep = np.array([f is not None for f in frames], bool)
        kept = Inputs([path for path, ok in zip(inputs.items, keep, strict=True) if ok], inputs.owners[keep])
        images = [f for f in frames if f is not None]
        vectors = [enc.encode(images)[0].reshape(len(images), enc.dim) for _, enc in targets]
        return Encoding(kept, vectors, [None] * len(targets))
