"""ShopRank: the one object an application holds. Build or open an index, then search.

The engine wires components that :mod:`shoprank.factory` builds from settings; each
lazily built resource (encoders, personalizer, speech, autocomplete) has its own lock.
"""
from __future__ import annotations

import functools
import io
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from shoprank import factory
from shoprank.catalog import Catalog
from shoprank.config import Settings, get_settings
from shoprank.encoders.base import EncoderSet, ImageEncoder, TextEncoder
from shoprank.encoders.cache import EmbeddingCache
from shoprank.features.query_parse import ParsedQuery, parse_query
from shoprank.index.artifacts import IndexArtifacts
from shoprank.index.builder import ImageTooLarge, build_index, labels_to_text, open_rgb
from shoprank.lazy import Lazy
from shoprank.modalities import MODALITIES
from shoprank.personalization.online import Personalizer
from shoprank.personalization.signals import PersonalContext
from shoprank.ranking.base import Ranker
from shoprank.retrieval.similar import SimilarItems
from shoprank.retrieval.suggest import Suggester, Suggestion
from shoprank.search import Candidates, SearchResult
from shoprank.types import Hit, Product, Query, QueryEncoding

if TYPE_CHECKING:
    from shoprank.encoders.speech import SpeechRecognizer, Transcript

log = logging.getLogger(__name__)


class QueryError(ValueError):
    """The query cannot be served as given (an unreadable photo, nothing to search for)."""


class QueryTooLarge(QueryError):
    """A query input (a photo) larger than this server decodes."""


class ShopRank:
    """Multimodal product search over one built index."""

    def __init__(self, artifacts: IndexArtifacts, settings: Settings | None = None,
                 text_encoder: TextEncoder | None = None, image_encoder: ImageEncoder | None = None,
                 ranker: Ranker | None = None):
        self.settings = s = settings or get_settings()
        self.artifacts = artifacts
        self._text_encoder = Lazy(lambda: factory.text_encoder(s), text_encoder)
        self._image_encoder: Lazy[ImageEncoder | None] = Lazy(lambda: factory.image_encoder(s), image_encoder)
        self._encoders = Lazy(lambda: EncoderSet(self.text_encoder, self.image_encoder))
        self._personalizer: Lazy[Personalizer] = Lazy(self._open_personalizer)
        self._speech: Lazy[SpeechRecognizer] = Lazy(lambda: factory.speech(s))
        self._suggester = Lazy(lambda: Suggester(artifacts.catalog))
        self._suggest_lock = threading.Lock()
        self._suggest_built = 0.0
        self._suggest_version = -1
        # Popular queries repeat: keep their embeddings (the encoder is most of a text query's time).
        self._encode_text = functools.lru_cache(maxsize=4096)(self._encode_text_uncached)
        self.pipeline = factory.pipeline(artifacts, s, ranker)
        self.retriever = self.pipeline.retriever
        self.similar_items = SimilarItems(artifacts)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def build(cls, catalog: Catalog, index_dir: Path, settings: Settings | None = None,
              text_encoder: TextEncoder | None = None, image_encoder: ImageEncoder | None = None) -> ShopRank:
        settings = settings or get_settings()
        text_encoder = text_encoder or factory.text_encoder(settings)
        if image_encoder is None:
            image_encoder = factory.image_encoder(settings)
        cache = EmbeddingCache(settings.cache_dir / "embeddings.sqlite")
        try:
            art = build_index(catalog, index_dir, EncoderSet(text_encoder, image_encoder), cache,
                              settings.exact_vector_limit, settings.vector_backend, settings.lexical_backend)
        finally:
            cache.close()
        return cls(art, settings, text_encoder, image_encoder)

    @classmethod
    def open(cls, index_dir: Path, settings: Settings | None = None) -> ShopRank:
        return cls(IndexArtifacts.load(index_dir), settings)

    # -- components, built on first use ----------------------------------------------------
    @property
    def text_encoder(self) -> TextEncoder:
        return self._text_encoder.get()

    @property
    def image_encoder(self) -> ImageEncoder | None:
        if not self.artifacts.manifest.get("image_encoder"):
            return None  # photos were not indexed
        return self._image_encoder.get()

    @property
    def ranker(self) -> Ranker:
        return self.pipeline.ranker

    @property
    def personalizer(self) -> Personalizer:
        """Events, profiles and collaborative models; opened on first use."""
        return self._personalizer.get()

    def attach_personalizer(self, personalizer: Personalizer | None) -> Personalizer | None:
        """Serve with ``personalizer`` (e.g. a simulation's own stores); return the previous one.
        ``None`` detaches: the next use opens the configured stores again."""
        return self._personalizer.swap(personalizer)

    def _open_personalizer(self) -> Personalizer:
        s = self.settings
        events = factory.event_log(s)
        p = Personalizer(self.pipeline.extractor.signals, events, factory.profile_store(s), s.profile_half_life_s)
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
        suggester = self._suggester.get()
        p = self._personalizer.peek()
        # New past queries arrive with events; re-sort the keys at most once a second.
        if p is not None and p.queries_version != self._suggest_version:
            with self._suggest_lock:
                now = time.monotonic()
                if p.queries_version != self._suggest_version and now - self._suggest_built > 1.0:
                    suggester.update_queries(p.past_queries())
                    self._suggest_built, self._suggest_version = now, p.queries_version
        return suggester.suggest(prefix, k)

    @property
    def speech(self) -> SpeechRecognizer:
        """Speech-to-text for voice queries; the model loads on first use."""
        return self._speech.get()

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
        """The query's vector for every input a modality route of this index can take."""
        t0 = time.perf_counter()
        enc = QueryEncoding(text=(query.text or "").strip() or None)
        if enc.text:
            enc.vectors["text"] = self._encode_text(enc.text)
        if query.image is not None:
            self._encode_photo(query.image, enc)
        enc.encode_ms = (time.perf_counter() - t0) * 1000
        return enc

    def _encode_photo(self, data: bytes, enc: QueryEncoding) -> None:
        try:
            img = open_rgb(io.BytesIO(data), max_pixels=self.settings.max_image_pixels)
        except ImageTooLarge as e:
            raise QueryTooLarge(str(e)) from None
        except Exception as e:  # decoders of hostile files raise OSError, SyntaxError, EOFError, struct.error...
            raise QueryError(f"the uploaded file is not a readable image: {e}") from None
        if self.image_encoder is None:
            raise QueryError("this index was built without an image encoder; photo search is unavailable")
        encoders = self._encoders.get()
        for spec in MODALITIES:
            if spec.source != "photos" or spec.name not in self.artifacts.modalities:
                continue
            encoder = encoders.for_modality(spec)
            if not isinstance(encoder, ImageEncoder):
                continue
            vecs, labels = encoder.encode([img])
            enc.vectors[f"photo:{spec.name}"] = vecs[0]
            if spec.encoder == "image" and labels[0]:
                enc.photo_labels = labels[0]
                enc.vectors["photo_labels"] = self._encode_text(labels_to_text(labels[0]))

    def _understand(self, query: Query) -> tuple[QueryEncoding, ParsedQuery | None]:
        enc = self.encode_query(query)
        return enc, parse_query(enc.text) if enc.text else None

    def search(self, query: Query | str, **kwargs: object) -> SearchResult:
        """Search by text, photo, or both. ``search("red backpack", k=5)`` is shorthand."""
        if isinstance(query, str):
            query = Query(text=query, **kwargs)  # type: ignore[arg-type]
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
        return [Hit(product=cat.products[pos], score=score, features=parts)
                for pos, score, parts in self.similar_items.run(cat.position(pid), k)]
