"""Encoder interfaces.

A text encoder maps queries and passages into one space. An image encoder maps photos
to feature vectors and, for the text bridge, names what it sees. A joint model such as
CLIP fits both: its ``ImageEncoder`` returns vectors in its ``TextEncoder``'s space and
sets ``shares_text_space``.

A modality whose products have several inputs (a model's reviews, a video's frames) pools
their vectors into its rows by a rule chosen by name from :data:`POOLINGS`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from shoprank.registry import Registry

if TYPE_CHECKING:
    from PIL import Image

    from shoprank.modalities import ModalitySpec


class TextEncoder(ABC):
    """Maps text to L2-normalised float32 vectors."""

    name: str
    dim: int

    @abstractmethod
    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    @abstractmethod
    def encode_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_queries([text])[0]


class ImageEncoder(ABC):
    """Maps images to L2-normalised float32 vectors and to text labels (the text bridge)."""

    name: str
    dim: int
    shares_text_space: bool = False

    @abstractmethod
    def encode(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, list[list[tuple[str, float]]]]:
        """Return ``(vectors (n, dim), labels)``; ``labels[i]`` is the top (label, probability) list,
        empty for an encoder that names nothing (the text bridge then has nothing to say)."""


# The most of one text a text encoder reads (about 2,000 tokens of English): catalog fields are
# capped already (shoprank.types.CAPS); this bounds an encoder's work on any text it is handed.
MAX_ENCODED_CHARS = 8_000


def clip_texts(texts: Sequence[str]) -> list[str]:
    """``texts``, each cut to :data:`MAX_ENCODED_CHARS` (tokenizing more would be thrown away)."""
    return [t[:MAX_ENCODED_CHARS] for t in texts]


def confident_labels(labels: Sequence[tuple[str, float]], min_confidence: float) -> list[tuple[str, float]]:
    """The labels worth showing a shopper: those the classifier gives at least ``min_confidence``.

    Below that an ImageNet label is more often wrong than right for a product photo ("binder"
    for a shoe); the default threshold is measured in benchmarks/photo_labels.py."""
    return [(name, p) for name, p in labels if p >= min_confidence]


def l2_normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


Pooled = tuple[np.ndarray, np.ndarray]  # (rows, owner of each row)
Pooling = Literal["none", "mean", "max"]


def _groups(owners: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each owner (ascending) and its inputs' indices, in input order."""
    order = np.argsort(owners, kind="stable")
    uniq, starts = np.unique(owners[order], return_index=True)
    return uniq, np.split(order, starts[1:]) if len(order) else []


def _reduce(vectors: np.ndarray, owners: np.ndarray, how: str) -> Pooled:
    uniq, groups = _groups(np.asarray(owners, np.int64))
    if not groups:
        return np.zeros((0, vectors.shape[1]), np.float32), uniq.astype(np.int64)
    rows = [getattr(vectors[idx], how)(axis=0) for idx in groups]
    return l2_normalize(np.array(rows)), uniq.astype(np.int64)


def pool_none(vectors: np.ndarray, owners: np.ndarray) -> Pooled:
    """One row per input (one per photo)."""
    return vectors, np.asarray(owners, np.int64)


def pool_mean(vectors: np.ndarray, owners: np.ndarray) -> Pooled:
    """One row per owner: the L2-normalised mean of its inputs' vectors (a model's reviews)."""
    return _reduce(vectors, owners, "mean")


def pool_max(vectors: np.ndarray, owners: np.ndarray) -> Pooled:
    """One row per owner: the L2-normalised element-wise maximum of its inputs' vectors."""
    return _reduce(vectors, owners, "max")


# How a modality turns several inputs per owner into rows; a rule with several rows per owner
# (one per segment of a video) is one more function here.
POOLINGS: Registry[Pooled] = Registry("pooling rule")
POOLINGS.register("none", pool_none)
POOLINGS.register("mean", pool_mean)
POOLINGS.register("max", pool_max)


TEXT_ENCODERS: Registry[TextEncoder] = Registry("text encoder")
IMAGE_ENCODERS: Registry[ImageEncoder] = Registry("image encoder")


class EncoderSet:
    """The encoders an index is built and queried with: the configured text and image
    encoders, plus any other image encoder a modality names (e.g. ``rgb-hist``)."""

    def __init__(self, text: TextEncoder, image: ImageEncoder | None = None) -> None:
        self.text = text
        self.image = image
        self._named: dict[str, ImageEncoder] = {}

    @property
    def joint(self) -> bool:
        """Photos are embedded in the text encoder's space (a CLIP-like model)."""
        return self.image is not None and self.image.shares_text_space

    def for_modality(self, spec: ModalitySpec) -> TextEncoder | ImageEncoder | None:
        """The encoder of ``spec``'s vectors; ``None`` for ``"image"`` without an image encoder.
        (Whether the modality is on at all is its source's to say: photos are indexed only
        with an image encoder.)"""
        if spec.encoder == "text":
            return self.text
        if spec.encoder == "image":
            return self.image
        if spec.encoder not in self._named:
            self._named[spec.encoder] = IMAGE_ENCODERS.create(spec.encoder)
        return self._named[spec.encoder]
