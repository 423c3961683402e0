"""Encoder interfaces.

A text encoder maps queries and passages into one space. An image encoder maps photos
to feature vectors and, for the text bridge, names what it sees. A joint model such as
CLIP fits both: its ``ImageEncoder`` returns vectors in its ``TextEncoder``'s space and
sets ``shares_text_space``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image


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
    def encode(self, images: Sequence["Image.Image"]) -> tuple[np.ndarray, list[list[tuple[str, float]]]]:
        """Return ``(vectors (n, dim), labels)``; ``labels[i]`` is the top (label, probability) list."""


def l2_normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def make_text_encoder(name: str = "e5") -> TextEncoder:
    """Build a text encoder by name: ``e5`` (multilingual, default) or ``minilm`` (English)."""
    if name == "e5":
        from shoprank.encoders.text import E5TextEncoder

        return E5TextEncoder()
    if name == "minilm":
        from shoprank.encoders.text import MiniLMTextEncoder

        return MiniLMTextEncoder()
    raise ValueError(f"unknown text encoder {name!r}; choose 'e5' or 'minilm'")


def make_image_encoder(name: str = "efficientnet") -> ImageEncoder | None:
    """Build an image encoder by name (``efficientnet``), or ``None`` for ``none``."""
    if name == "none":
        return None
    if name == "efficientnet":
        from shoprank.encoders.image import EfficientNetImageEncoder

        return EfficientNetImageEncoder()
    raise ValueError(f"unknown image encoder {name!r}; choose 'efficientnet' or 'none'")
