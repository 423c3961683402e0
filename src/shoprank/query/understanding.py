"""Query understanding: a request becomes a :class:`~shoprank.query.plan.QueryPlan`, once.

Steps: normalize the text → rewriters (in the order configured) → terms and language → parse
what the shopper asked for (types, colours, sizes, gender, price) → one vector per query input
a modality route of the index can take (the text, the photo per photo modality, the text bridge
of what the image model sees in the photo).
"""
from __future__ import annotations

import io
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from shoprank.encoders.base import EncoderSet, TextEncoder, confident_labels
from shoprank.index.analysis import stemmed_terms
from shoprank.index.sources.photos import ImageTooLarge, encode_query_photo, open_rgb
from shoprank.query.parse import parse_query
from shoprank.query.plan import QueryError, QueryPlan, QueryTooLarge, language_of
from shoprank.query.rewriters import REWRITERS, QueryRewriter

if TYPE_CHECKING:
    from PIL import Image

    from shoprank.index.artifacts import IndexArtifacts
    from shoprank.types import Query


class QueryVectors:
    """Query embeddings by text, the most recently used :data:`MAX_CACHED` kept; ``many``
    encodes the texts it lacks in one batch. Thread-safe; the vectors are read-only (shared)."""

    MAX_CACHED = 4096

    def __init__(self, encode: Callable[[list[str]], np.ndarray]):
        self._encode = encode
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, text: str) -> np.ndarray:
        return self.many([text])[0]

    def many(self, texts: Sequence[str]) -> list[np.ndarray]:
        with self._lock:
            found = {t: v for t in texts if (v := self._cache.get(t)) is not None}
            for t in found:
                self._cache.move_to_end(t)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            vecs = self._encode(missing)
            with self._lock:
                for t, v in zip(missing, vecs):
                    v = np.array(v, dtype=np.float32)
                    v.setflags(write=False)
                    found[t] = self._cache[t] = v
                while len(self._cache) > self.MAX_CACHED:
                    self._cache.popitem(last=False)
        return [found[t] for t in texts]

    def cache_clear(self) -> None:
        with self._lock:
            self._cache.clear()


class QueryUnderstanding:
    """Plans queries for one engine: its encoders (built on first use) and its rewriters."""

    def __init__(self, text_encoder: Callable[[], TextEncoder], encoders: Callable[[], EncoderSet],
                 rewriters: Sequence[QueryRewriter] | Sequence[str] = (), max_image_pixels: int | None = None,
                 photo_label_min_confidence: float = 0.0):
        self._text_encoder = text_encoder
        self._encoders = encoders
        self.rewriters = [REWRITERS.create(r) if isinstance(r, str) else r for r in rewriters]
        self.max_image_pixels = max_image_pixels
        self.photo_label_min_confidence = photo_label_min_confidence
        # Popular queries repeat: keep their embeddings (the encoder is most of a text query's time).
        self.encode_text = QueryVectors(lambda texts: self._text_encoder().encode_queries(texts))

    def plan(self, query: Query, artifacts: IndexArtifacts, currency: str = "USD") -> QueryPlan:
        t0 = time.perf_counter()
        plan = self.read_text(query.text, artifacts, currency, query.typo_tolerance)
        if plan.text:
            plan.vectors["text"] = self._text_vector(plan)
        if query.image is not None:
            self._photo(query.image, plan, artifacts)
        elif query.frames:
            self._encode_photo(query.frames, plan, artifacts)
        plan.encode_ms = (time.perf_counter() - t0) * 1000
        return plan

    def read_text(self, text: str | None, artifacts: IndexArtifacts, currency: str = "USD",
                  typo_tolerance: bool = True) -> QueryPlan:
        """The text steps of :meth:`plan` (no vectors)."""
        plan = QueryPlan(text=(text or "").strip() or None, original=text, typo_tolerance=typo_tolerance)
        if not plan.text:
            return plan
        plan.terms, plan.language = stemmed_terms(plan.text), language_of(plan.text)
        for rewriter in self.rewriters:  # each sees the text as the ones before it left it
            for r in rewriter.rewrite(plan, artifacts):
                plan.rewrites.append(r)
                if r.replaces and r.text.strip():
                    plan.text = r.text.strip()
                    plan.terms, plan.language = stemmed_terms(plan.text), language_of(plan.text)
        plan.parsed = parse_query(plan.text, currency)
        return plan

    def shown_labels(self, labels: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
        """The image labels confident enough to show a shopper (``photo_label_min_confidence``)."""
        return confident_labels(labels, self.photo_label_min_confidence)

    def _text_vector(self, plan: QueryPlan) -> np.ndarray:
        """The text's vector; with alternatives, their weighted mean direction beside it."""
        assert plan.text is not None
        alternatives = plan.alternatives
        if not alternatives:
            return self.encode_text(plan.text)
        # One encoder call for the text and its alternatives: a batch of a few costs little more than one.
        vec, *alts = self.encode_text.many([plan.text, *(r.text for r in alternatives)])
        acc = vec.astype(np.float64)
        for r, alt in zip(alternatives, alts):
            acc = acc + r.weight * alt
        out = (acc / (np.linalg.norm(acc) or 1.0)).astype(np.float32)
        out.setflags(write=False)
        return out

    def _photo(self, data: bytes, plan: QueryPlan, artifacts: IndexArtifacts) -> None:
        try:
            img = open_rgb(io.BytesIO(data), max_pixels=self.max_image_pixels)
        except ImageTooLarge as e:
            raise QueryTooLarge(str(e)) from None
        except Exception as e:  # decoders of hostile files raise OSError, SyntaxError, EOFError, struct.error...
            # The type, not the message: PIL's names the buffer's memory address.
            raise QueryError(f"the uploaded file is not a readable image ({type(e).__name__})") from None
        self._encode_photo([img], plan, artifacts)

    def _encode_photo(self, images: list[Image.Image], plan: QueryPlan, artifacts: IndexArtifacts) -> None:
        """A photo's vectors, or a video's keyframes' pooled into one photo's."""
        if not artifacts.manifest.get("image_encoder"):
            raise QueryError("this index was built without an image encoder; photo search is unavailable")
        vectors, labels = encode_query_photo(images, artifacts.modalities, self._encoders(), self.encode_text)
        plan.vectors.update(vectors)
        if labels:
            plan.photo_labels = self.shown_labels(labels)
