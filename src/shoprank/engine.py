"""ShopRank: the one object an application holds. Build or open an index, then search."""
from __future__ import annotations

import functools
import io
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, UnidentifiedImageError

from shoprank.catalog import Catalog
from shoprank.config import Settings, get_settings
from shoprank.encoders.base import ImageEncoder, TextEncoder, make_image_encoder, make_text_encoder
from shoprank.encoders.cache import EmbeddingCache
from shoprank.encoders.color import color_histograms
from shoprank.features.extract import FeatureExtractor
from shoprank.features.query_parse import ParsedQuery, parse_query
from shoprank.index.artifacts import IndexArtifacts
from shoprank.index.builder import build_index
from shoprank.ranking.base import Ranker
from shoprank.ranking.linear import LinearRanker
from shoprank.ranking.pipeline import Budgets, Candidates, SearchPipeline, SearchResult
from shoprank.retrieval.hybrid import DEFAULT_WEIGHTS as DEFAULT_RETRIEVER_WEIGHTS
from shoprank.retrieval.hybrid import HybridRetriever, QueryEncoding
from shoprank.personalization.online import Personalizer
from shoprank.personalization.signals import PersonalContext
from shoprank.retrieval.suggest import Suggester, Suggestion
from shoprank.types import Hit, Product, Query

if TYPE_CHECKING:
    from shoprank.encoders.speech import SpeechRecognizer, Transcript

log = logging.getLogger(__name__)


class QueryError(ValueError):
    """The query cannot be served as given (an unreadable photo, nothing to search for)."""


class ShopRank:
    """Multimodal product search over one built index."""

    def __init__(self, artifacts: IndexArtifacts, settings: Settings | None = None,
                 text_encoder: TextEncoder | None = None, image_encoder: ImageEncoder | None = None,
                 ranker: Ranker | None = None):
        self.settings = settings or get_settings()
        self.artifacts = artifacts
        self._text_encoder = text_encoder
        self._image_encoder = image_encoder
        self._lock = threading.Lock()
        self._personalizer: Personalizer | None = None
        self._suggester: Suggester | None = None
        self._suggest_built = 0.0
        self._suggest_version = -1
        self._speech: SpeechRecognizer | None = None
        # Popular queries repeat: keep their embeddings (the encoder is most of a text query's time).
        self._encode_text = functools.lru_cache(maxsize=4096)(self._encode_text_uncached)
        if ranker is None and self.settings.ranker == "lambdamart":
            from shoprank.ranking.lgbm import LambdaMARTRanker

            if self.settings.ranker_model is None:
                raise ValueError("SHOPRANK_RANKER=lambdamart needs SHOPRANK_RANKER_MODEL (a saved model folder)")
            ranker = LambdaMARTRanker.load(self.settings.ranker_model)
        self.retriever = HybridRetriever(
            artifacts, {**DEFAULT_RETRIEVER_WEIGHTS, **self.settings.retriever_weights}, self.settings.rrf_k)
        self.pipeline = SearchPipeline(
            artifacts, self.retriever, FeatureExtractor(artifacts), ranker or LinearRanker(self.settings.ranker_weights),
            Budgets(self.settings.retrieve_k, self.settings.rerank_k), self.settings.fusion)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def build(cls, catalog: Catalog, index_dir: Path, settings: Settings | None = None,
              text_encoder: TextEncoder | None = None, image_encoder: ImageEncoder | None = None) -> "ShopRank":
        settings = settings or get_settings()
        text_encoder = text_encoder or make_text_encoder(settings.text_encoder)
        if image_encoder is None and settings.image_encoder != "none":
            image_encoder = make_image_encoder(settings.image_encoder)
        cache = EmbeddingCache(settings.cache_dir / "embeddings.sqlite")
        try:
            art = build_index(catalog, index_dir, text_encoder, image_encoder, cache, settings.exact_vector_limit)
        finally:
            cache.close()
        return cls(art, settings, text_encoder, image_encoder)

    @classmethod
    def open(cls, index_dir: Path, settings: Settings | None = None) -> "ShopRank":
        return cls(IndexArtifacts.load(index_dir), settings)

    # -- encoders, loaded on first use ----------------------------------------------------
    @property
    def text_encoder(self) -> TextEncoder:
        with self._lock:
            if self._text_encoder is None:
                self._text_encoder = make_text_encoder(self.settings.text_encoder)
            return self._text_encoder

    @property
    def image_encoder(self) -> ImageEncoder | None:
        with self._lock:
            if self._image_encoder is None and self.artifacts.manifest.get("image_encoder"):
                self._image_encoder = make_image_encoder(self.settings.image_encoder)
            return self._image_encoder

    @property
    def personalizer(self) -> Personalizer:
        """Events, profiles and collaborative models; opened on first use."""
        with self._lock:
            if self._personalizer is None:
                self._personalizer = self._open_personalizer()
            return self._personalizer

    def attach_personalizer(self, personalizer: Personalizer | None) -> Personalizer | None:
        """Serve with ``personalizer`` (e.g. a simulation's own stores); return the previous one.
        ``None`` detaches: the next use opens the configured stores again."""
        with self._lock:
            previous, self._personalizer = self._personalizer, personalizer
        return previous

    def _open_personalizer(self) -> Personalizer:
        from shoprank.personalization.store.sqlite import (MemoryProfileStore, SQLiteEventLog,
                                                           SQLiteProfileStore)

        s = self.settings
        s.events_path.parent.mkdir(parents=True, exist_ok=True)
        if s.profile_store == "redis":
            from shoprank.personalization.store.redis import RedisProfileStore

            profiles = RedisProfileStore(s.redis_url)
        elif s.profile_store == "memory":
            profiles = MemoryProfileStore()
        else:
            profiles = SQLiteProfileStore(s.events_path.with_name(s.events_path.stem + "-profiles.sqlite"))
        events = SQLiteEventLog(s.events_path)
        p = Personalizer(self.pipeline.extractor.signals, events, profiles, s.profile_half_life_s)
        if events.count():
            logged = list(events.scan())  # read once for the three start-up passes below
            caught_up = p.catch_up(logged)  # events logged but not yet in a profile (a crash, a fresh store)
            if caught_up:
                log.info("folded %d logged events into profiles", caught_up)
            p.load_queries(logged)
            if s.cf_model != "none":
                p.train(s.cf_model, logged)
        return p

    def train_recommender(self, kind: str | None = None) -> int:
        """Refit the collaborative models on the event log; return the events used."""
        return self.personalizer.train(kind or (self.settings.cf_model if self.settings.cf_model != "none"
                                                else "itemitem"))

    def suggest(self, prefix: str, k: int = 8) -> list[Suggestion]:
        """Autocomplete from past queries, category names and titles."""
        with self._lock:
            if self._suggester is None:
                self._suggester = Suggester(self.artifacts.catalog)
            now = time.monotonic()
            p = self._personalizer
            # New past queries arrive with events; re-sort the keys at most once a second.
            if p is not None and p.queries_version != self._suggest_version and now - self._suggest_built > 1.0:
                self._suggester.update_queries(p.past_queries())
                self._suggest_built, self._suggest_version = now, p.queries_version
            return self._suggester.suggest(prefix, k)

    @property
    def speech(self) -> SpeechRecognizer:
        """Speech-to-text for voice queries; the model loads on first use."""
        with self._lock:
            if self._speech is None:
                from shoprank.encoders.speech import make_speech_recognizer

                self._speech = make_speech_recognizer(self.settings.speech_backend, self.settings.max_audio_seconds,
                                                      self.settings.max_upload_bytes)
            return self._speech

    def transcribe(self, audio: bytes) -> Transcript:
        """Speech to query text. Raises :class:`QueryError` for audio that cannot be used."""
        from shoprank.encoders.speech import AudioError

        try:
            return self.speech.transcribe(audio)
        except AudioError as e:
            raise QueryError(str(e)) from None

    def _personal_for(self, query: Query) -> PersonalContext | None:
        if not query.user_id or not query.personalize:
            return None
        p = self.personalizer
        profile = p.profile(query.user_id)
        return PersonalContext(profile, p.recommender) if profile is not None else None

    # -- search -----------------------------------------------------------------------------
    def _encode_text_uncached(self, text: str) -> np.ndarray:
        vec = self.text_encoder.encode_query(text)
        vec.setflags(write=False)  # shared by every later query with the same text
        return vec

    def encode_query(self, query: Query) -> QueryEncoding:
        from shoprank.encoders.image import labels_to_text

        enc = QueryEncoding(text=(query.text or "").strip() or None)
        if enc.text:
            enc.text_vec = self._encode_text(enc.text)
        if query.image is not None:
            try:
                with Image.open(io.BytesIO(query.image)) as im:
                    img = im.convert("RGB")
            except (UnidentifiedImageError, OSError) as e:
                raise QueryError(f"the uploaded file is not a readable image: {e}") from None
            encoder = self.image_encoder
            if encoder is None:
                raise QueryError("this index was built without an image encoder; photo search is unavailable")
            vecs, labels = encoder.encode([img])
            enc.photo_vec, enc.photo_labels = vecs[0], labels[0]
            enc.photo_color_vec = color_histograms([img])[0]
            enc.photo_label_vec = self._encode_text(labels_to_text(labels[0]))
        return enc

    def _understand(self, query: Query) -> tuple[QueryEncoding, ParsedQuery | None]:
        enc = self.encode_query(query)
        return enc, parse_query(enc.text) if enc.text else None

    def search(self, query: Query | str, **kwargs) -> SearchResult:
        """Search by text, photo, or both. ``search("red backpack", k=5)`` is shorthand."""
        if isinstance(query, str):
            query = Query(text=query, **kwargs)
        if query.k < 1:
            raise QueryError("k must be at least 1")
        return self.pipeline.run(query, *self._understand(query), self._personal_for(query))

    def candidates(self, query: Query) -> Candidates:
        """Retrieval, fusion and features for ``query`` without ranking: what a ranker is trained on."""
        return self.pipeline.candidates(query, *self._understand(query), self._personal_for(query))

    def product(self, pid: str) -> Product | None:
        return self.artifacts.catalog.get(pid)

    def similar(self, pid: str, k: int = 10) -> list[Hit]:
        """Items like ``pid`` by text and photo, other variants of the same model left out."""
        cat = self.artifacts.catalog
        if pid not in cat:
            raise KeyError(pid)
        pos = cat.position(pid)
        me = cat.products[pos]
        n = len(cat)
        mods = self.artifacts.modalities
        score = mods["text"].cosine_per_product(mods["text"].vectors[pos], n)
        parts = {"cos_text": score.copy()}
        img = mods.get("image")
        if img is not None:
            rows = np.flatnonzero(img.owners == pos)
            if len(rows):
                parts["cos_image"] = img.cosine_per_product(img.vectors[rows[0]], n)
                score = 0.5 * score + 0.5 * parts["cos_image"]
        hits: list[Hit] = []
        seen = {me.group_id}
        for i in np.argsort(-score, kind="stable"):
            p = cat.products[i]
            if p.group_id in seen:
                continue
            seen.add(p.group_id)
            hits.append(Hit(product=p, score=float(score[i]), features={k: float(v[i]) for k, v in parts.items()}))
            if len(hits) >= k:
                break
        return hits
