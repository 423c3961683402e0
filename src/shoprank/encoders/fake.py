"""Model-free encoders, registered like the real ones: fast tests and tiny demos.

- ``hashing``: a text encoder of hashed words and character trigrams (signed feature
  hashing, Weinberger et al., ICML 2009): texts sharing words or spellings land close,
  in any script, with no weights at all.
- ``palette``: an image encoder that sees colours only: a colour histogram as the vector
  and the dominant named colour as its label (so the text bridge has words to use).
- ``palette-joint``: the same photo embedded in the ``hashing`` text space as its colour
  name, a stand-in for a joint text-image model such as CLIP (``shares_text_space``).
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
from PIL import Image

from shoprank.encoders.base import ImageEncoder, TextEncoder, clip_texts, l2_normalize
from shoprank.encoders.color import color_histograms

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u9fff]")


def _bucket(token: str, dim: int) -> tuple[int, float]:
    h = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")
    return h % dim, 1.0 if (h >> 63) & 1 else -1.0


class HashingTextEncoder(TextEncoder):
    """Hashed bag of words and character trigrams; CJK text as character bigrams."""

    name = "hashing-256"

    def __init__(self, dim: int = 256, **_: object) -> None:  # runtime options do not apply
        self.dim = dim

    def _tokens(self, text: str) -> list[str]:
        out: list[str] = []
        for word in _WORD.findall(text.lower()):
            if _CJK.search(word):
                out += [word[i:i + 2] for i in range(max(len(word) - 1, 1))]
                continue
            out.append(f"w:{word}")
            padded = f"<{word}>"
            out += [padded[i:i + 3] for i in range(len(padded) - 2)]
        return out

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, text in enumerate(clip_texts(texts)):
            for tok in self._tokens(text):
                j, sign = _bucket(tok, self.dim)
                out[i, j] += sign * (2.0 if tok.startswith("w:") else 1.0)
        return l2_normalize(out)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_passages(texts)


# Named colours the palette encoder can say it sees, as RGB.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (200, 30, 30), "orange": (240, 140, 20), "yellow": (230, 210, 30), "green": (40, 150, 50),
    "blue": (30, 60, 200), "purple": (120, 40, 160), "pink": (240, 130, 180), "brown": (120, 70, 30),
    "black": (20, 20, 20), "gray": (128, 128, 128), "white": (250, 250, 250),
}


def dominant_color(img: Image.Image, background: int = 235) -> str:
    """The palette colour nearest to the mean of the photo's non-background pixels."""
    small = img.convert("RGB")
    small.thumbnail((64, 64))
    px = np.asarray(small, np.float32).reshape(-1, 3)
    fg = px[(px < background).any(axis=1)]
    mean = (fg if len(fg) else px).mean(axis=0)
    names = list(PALETTE)
    dists = [float(np.sum((mean - np.array(PALETTE[n], np.float32)) ** 2)) for n in names]
    return names[int(np.argmin(dists))]


class PaletteImageEncoder(ImageEncoder):
    """Colour histogram vectors, and the dominant colour as the one label."""

    name = "palette"
    dim = 64

    def __init__(self, **_: object) -> None:  # runtime options do not apply
        pass

    def encode(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, list[list[tuple[str, float]]]]:
        return color_histograms(images), [[(dominant_color(im), 1.0)] for im in images]


class JointPaletteImageEncoder(ImageEncoder):
    """A photo embedded in the ``hashing`` text space as the name of its colour."""

    name = "palette-joint"
    shares_text_space = True

    def __init__(self, dim: int = 256, **_: object) -> None:
        self._text = HashingTextEncoder(dim)
        self.dim = dim

    def encode(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, list[list[tuple[str, float]]]]:
        names = [dominant_color(im) for im in images]
        if not names:
            return np.zeros((0, self.dim), np.float32), []
        return self._text.encode_passages(names), [[(n, 1.0)] for n in names]
