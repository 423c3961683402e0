"""ShopRank: the one object an application holds. Build or open an index, then search.

The engine wires components that :mod:`shoprank.factory` builds from settings; each
lazily built resource (encoders, personalizer, speech, autocomplete) has its own lock.

Everything built over one index generation (artifacts, pipeline, similar items,
autocomplete) is one :class:`_Served` value, which :meth:`ShopRank.reload` replaces in a
single assignment: each call reads it once, so a search that started on the old
generation finishes on it while the next one runs on the new.
"""
from __future__ import annotations

import functools
import io
import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from shoprank import factory
from shoprank.analytics.experiments import Experiment
from shoprank.analytics.impressions import ImpressionLog
from shoprank.catalog import Catalog
from shoprank.config import Settings, get_settings
from shoprank.encoders.base import EncoderSet, ImageEncoder, TextEncoder, confident_labels
from shoprank.encoders.cache import EmbeddingCache
from shoprank.features.query_parse import ParsedQuery, parse_query
from shoprank.index.artifacts import IndexArtifacts
from shoprank.index.builder import ImageTooLarge, build_index, encode_products, open_rgb
from shoprank.index.generations import Generation, IndexHome
from shoprank.index.live import CatalogLog, CatalogWrite, apply_writes, content_changed
from shoprank.index.sources.photos import encode_query_photo
from shoprank.lazy import Lazy
from shoprank.memory import release_free_memory
from shoprank.personalization.online import Forgotten, Personalizer
from shoprank.personalization.signals import PersonalContext
from shoprank.personalization.store.base import StoreUnavailable
from shoprank.ranking.base import Ranker
from shoprank.retrieval.hybrid import HybridRetriever
from shoprank.retrieval.similar import SimilarItems
from shoprank.retrieval.suggest import Suggester, Suggestion
from shoprank.search import Candidates, SearchPipeline, SearchResult
from shoprank.types import Hit, Product, Query, QueryEncoding

if TYPE_CHECKING:
    from shoprank.analytics.experiments import Arm
    from shoprank.encoders.speech import SpeechRecognizer, Transcript

log = logging.getLogger(__name__)
E = TypeVar("E")


class QueryError(ValueError):
    """The query cannot be served as given (an unreadable photo, nothing to search for)."""


class QueryTooLarge(QueryError):
    """A query input (a photo) larger than this server decodes."""


class ReloadError(RuntimeError):
    """The index's current generation cannot replace the served one; the served one stays."""


def _last_write(home: IndexHome, settings: Settings) -> int:
    if not factory.has_write_log(settings, home.root):
        return 0
    log_ = factory.write_log(settings, home.root)
    try:
        return log_.last_seq()
    finally:
        log_.close()


def _encoding(manifest: dict[str, object]) -> dict[str, object]:
    """What a reloaded generation must share with the served one: the engine keeps its encoders."""
    return {"text_encoder": manifest.get("text_encoder"), "image_encoder": manifest.get("image_encoder"),
            "joint_text_image": bool(manifest.get("joint_text_image"))}  # absent from older manifests


@dataclass
class _Writes:
    """How far the catalog write log is applied to one served generation."""

    seq: int = 0  # the last write applied
    version: int = 0  # bumped by every applied run of writes


@dataclass(frozen=True)
class _Served:
    """One index generation and what is built over it, replaced as a whole on reload."""

    artifacts: IndexArtifacts
    pipeline: SearchPipeline
    similar_items: SimilarItems
    suggester: Suggester  # kept current by catalog writes, like the pipeline's per-product columns
    generation: Generation | None
    writes: _Writes
    currency: Lazy[str]  # the catalog's, for price phrases: counted once per generation


def _catalog_currency(catalog: Catalog) -> str:
    counts = Counter(p.currency.upper() for p in catalog.live())
    return counts.most_common(1)[0][0] if counts else "USD"


class ShopRank:
    """Multimodal product search over one built index."""

    def __init__(self, artifacts: IndexArtifacts, settings: Settings | None = None,
                 text_encoder: TextEncoder | None = None, image_encoder: ImageEncoder | None = None,
                 ranker: Ranker | None = None, *, home: IndexHome | None = None,
                 generation: Generation | None = None):
        self.settings = s = settings or get_settings()
        self.home = home  # where reload() looks for new generations; None: serve ``artifacts`` only
        self._text_encoder = Lazy(lambda: self._checked(factory.text_encoder(s), "text_encoder"), text_encoder)
        self._image_encoder: Lazy[ImageEncoder | None] = Lazy(
            lambda: self._checked(factory.image_encoder(s), "image_encoder"), image_encoder)
        self._encoders = Lazy(lambda: EncoderSet(self.text_encoder, self.image_encoder))
        self._personalizer: Lazy[Personalizer] = Lazy(self._open_personalizer)
        self._speech: Lazy[SpeechRecognizer] = Lazy(lambda: factory.speech(s))
        self._suggest_lock = threading.Lock()
        self._suggest_built = 0.0
        self._suggest_version = -1
        self._suggested: Suggester | None = None  # the autocomplete that has those past queries
        # Popular queries repeat: keep their embeddings (the encoder is most of a text query's time).
        self._encode_text = functools.lru_cache(maxsize=4096)(self._encode_text_uncached)
        # Serialises what changes the served index: reloads and catalog writes.
        self._reload_lock = threading.Lock()
        self._write_log: Lazy[CatalogLog] = Lazy(self._open_write_log)
        self._write_cache: Lazy[EmbeddingCache] = Lazy(lambda: factory.embedding_cache(s))
        self._impressions: Lazy[ImpressionLog] = Lazy(lambda: factory.impression_log(s))
        self.impressions_dropped = 0  # searches answered whose impression could not be written
        self._experiments = factory.experiment_store(s)
        self._arm_rankers: dict[str, Ranker] = {}
        self.reranker = factory.reranker(s)  # loaded once: reloads keep it, as they keep the ranker
        self._served = self._serve(artifacts, generation, ranker)
        if self.home is not None and factory.has_write_log(s, self.home.root):
            with self._reload_lock:
                self._apply_logged(self._served)  # writes made since the generation was built

    def _serve(self, artifacts: IndexArtifacts, generation: Generation | None, ranker: Ranker | None) -> _Served:
        return _Served(artifacts, factory.pipeline(artifacts, self.settings, ranker, self.reranker),
                       SimilarItems(artifacts),
                       Suggester(artifacts.catalog), generation,
                       _Writes(seq=int(artifacts.manifest.get("catalog_seq") or 0)),
                       Lazy(lambda: self.settings.currency or _catalog_currency(artifacts.catalog)))

    # -- construction -------------------------------------------------------------------
    @classmethod
    def build(cls, catalog: Catalog, index_dir: Path, settings: Settings | None = None,
              text_encoder: TextEncoder | None = None, image_encoder: ImageEncoder | None = None,
              catalog_seq: int | None = None) -> ShopRank:
        """Index ``catalog`` as a new generation of ``index_dir`` and serve it: the generation
        being served stays intact until the new one is complete (see :mod:`shoprank.index.generations`).

        ``catalog_seq``: the last catalog write ``catalog`` already holds (default: every write
        logged so far, i.e. the catalog replaces them); later ones are applied on top."""
        settings = settings or get_settings()
        text_encoder = text_encoder or factory.text_encoder(settings)
        if image_encoder is None:
            image_encoder = factory.image_encoder(settings)
        encoders = EncoderSet(text_encoder, image_encoder)
        cache = factory.embedding_cache(settings)
        home = factory.index_home(settings, index_dir)
        # The catalog given is the truth as of now: catalog writes logged before are not applied on top.
        seq = _last_write(home, settings) if catalog_seq is None else catalog_seq
        try:
            gen, art = home.build(lambda path: build_index(
                catalog, path, encoders, cache, settings.exact_vector_limit, settings.vector_backend,
                settings.lexical_backend, seq))
        finally:
            cache.close()
            release_free_memory()  # the build's batches: a process that serves next keeps none of them
        return cls(art, settings, text_encoder, image_encoder, home=home, generation=gen)

    @classmethod
    def open(cls, index_dir: Path, settings: Settings | None = None) -> ShopRank:
        """Serve the current generation of the index at ``index_dir`` (or a flat index folder)."""
        home = factory.index_home(settings or get_settings(), index_dir)
        gen, art = home.open()
        return cls(art, settings, home=home, generation=gen)

    # -- the served generation ----------------------------------------------------------------
    @property
    def artifacts(self) -> IndexArtifacts:
        return self._served.artifacts

    @property
    def pipeline(self) -> SearchPipeline:
        return self._served.pipeline

    @property
    def retriever(self) -> HybridRetriever:
        return self._served.pipeline.retriever

    @property
    def similar_items(self) -> SimilarItems:
        return self._served.similar_items

    @property
    def generation(self) -> str | None:
        """The name of the generation served ("gen-000007"; "flat" for an index from before
        generations), or None for artifacts that were handed over rather than opened."""
        gen = self._served.generation
        return gen.name if gen is not None else None

    def reload(self) -> bool:
        """Serve the index's current generation, if it is not the one served. Returns whether
        it changed. Searches in flight finish on the generation they started with; events,
        profiles and collaborative models carry over. Raises :class:`ReloadError` (and keeps
        serving) when the new generation cannot be served by this engine."""
        if self.home is None:
            raise ReloadError("this engine serves artifacts it was handed, not an index folder")
        with self._reload_lock:
            old = self._served
            try:
                if old.generation is not None and self.home.current() == old.generation.name:
                    return False
                gen, art = self.home.open()
            except Exception as e:  # whatever is wrong with the new generation, the served one stays
                raise ReloadError(f"cannot open the current generation of {self.home.root}: {e}") from e
            if old.generation is not None and gen.name == old.generation.name:
                return False
            served_encoding = _encoding(old.artifacts.manifest)
            changed = [k for k, v in _encoding(art.manifest).items() if v != served_encoding[k]]
            if changed:
                raise ReloadError(f"{gen.name} was encoded differently ({', '.join(changed)}); restart the server "
                                  "with settings for it")
            new = self._serve(art, gen, old.pipeline.ranker)
            self._apply_logged(new)  # catalog writes made after the generation was built
            self._served = new

            def follow(p: Personalizer) -> None:
                p.signals = new.pipeline.extractor.signals  # events on new products fold in with their facets

            # A personalizer being opened right now read the old signals: the lazy value's lock waits for it.
            self._personalizer.if_built(follow)
        log.info("serving %s (was %s)", gen.name, old.generation.name if old.generation else "handed-over artifacts")
        return True

    # -- catalog writes while serving (see shoprank.index.live) ----------------------------------
    def _open_write_log(self) -> CatalogLog:
        if self.home is None:
            raise RuntimeError("catalog writes need an index folder; this engine serves artifacts it was handed")
        return factory.write_log(self.settings, self.home.root)

    def write(self, writes: Sequence[CatalogWrite]) -> list[int]:
        """Log ``writes`` durably and apply them (with any other process's before them) to the
        index served. Returns their sequence numbers; when it returns they are searchable."""
        if not writes:
            return []
        log_ = self._write_log.get()
        self._encode_ahead(writes)  # the slow part, outside the lock: later encodes are cache hits
        with self._reload_lock:
            seqs = log_.append(writes)
            self._apply_logged(self._served, seqs[-1])
        return seqs

    def sync_writes(self) -> int:
        """Apply writes other processes logged; returns how many. Cheap when there are none."""
        if self.home is None or not factory.has_write_log(self.settings, self.home.root):
            return 0
        log_ = self._write_log.get()
        if log_.last_seq() <= self._served.writes.seq:
            return 0
        with self._reload_lock:
            return self._apply_logged(self._served)

    @property
    def catalog_seq(self) -> int:
        """The last catalog write the served index holds."""
        return self._served.writes.seq

    def _encode_ahead(self, writes: Sequence[CatalogWrite]) -> None:
        catalog = self._served.artifacts.catalog
        fresh = {}
        for w in writes:
            if w.product is not None:
                cur = catalog.get(w.id)
                if cur is None or content_changed(cur, w.product):
                    fresh[w.id] = w.product
        if fresh:
            encode_products(Catalog(fresh.values()), self._encoders.get(), self._write_cache.get())

    def _apply_logged(self, served: _Served, until: int | None = None) -> int:
        """Apply logged writes after ``served``'s to it. Call with the reload lock held."""
        batch = list(self._write_log.get().scan(served.writes.seq, until))
        if not batch:
            return 0
        done = apply_writes(served.artifacts, served.pipeline.extractor, [w for _, w in batch],
                            self._encoders.get, self._write_cache.get, also=(served.suggester,))
        served.writes.seq = batch[-1][0]
        served.writes.version += 1
        log.debug("applied catalog writes up to %d: %s", served.writes.seq, done)
        return len(batch)

    # -- components, built on first use ----------------------------------------------------
    def _checked(self, encoder: E, role: str) -> E:
        """``encoder``, warning when the index was built by another one (another model, or the
        same model on another runtime or graph version): its queries then land in another space."""
        built = self.artifacts.manifest.get(role)
        name = getattr(encoder, "name", None)
        if encoder is not None and built and name != built:
            log.warning("the index was built with %s %s but queries use %s: rebuild the index "
                        "(shoprank index) or set the encoder it was built with", role.replace("_", " "), built, name)
        return encoder

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
        p = Personalizer(self.pipeline.extractor.signals, events, factory.profile_store(s), s.profile_half_life_s,
                         s.suggest_min_users, s.suggest_blocklist)
        if events.count():
            logged = list(events.scan())  # read once for the three start-up passes below
            caught_up = p.catch_up(logged)  # events logged but not yet in a profile (a crash, a fresh store)
            if caught_up:
                log.info("folded %d logged events into profiles", caught_up)
            p.load_queries(logged)
            if s.cf_model != "none":
                p.load_or_train(s.cf_model, factory.cf_model_store(s), logged)
        return p

    def forget(self, user_id: str) -> tuple[Forgotten, int]:
        """Forget a shopper everywhere: events and profiles (theirs and their sessions'), and
        the impressions of their searches. Returns what the personalizer removed and the
        number of impressions deleted."""
        p = self.personalizer
        imps = self.impressions
        sessions = p.events.sessions_of(user_id) | (imps.sessions_of(user_id) if imps is not None else set())
        sessions.discard(user_id)
        gone = p.forget(user_id, sessions)
        return gone, imps.forget(user_id, sessions) if imps is not None else 0

    # -- analytics and experiments ------------------------------------------------------------
    @property
    def impressions(self) -> ImpressionLog | None:
        """What each search showed (None when ``log_impressions`` is off); opened on first use."""
        return self._impressions.get() if self.settings.log_impressions else None

    def experiment(self) -> Experiment | None:
        """The running experiment, shared by every process serving the index (re-read at most once a second)."""
        return self._experiments.get()

    def set_experiment(self, experiment: Experiment | None) -> None:
        """Start ``experiment`` (replacing any running one) or, with None, stop it."""
        for arm in (experiment.control, experiment.treatment) if experiment is not None else ():
            if arm.changes_ranker:
                try:  # fail now, not in searches
                    self.arm_ranker(arm)
                except Exception as e:  # a saved model's files can be anything
                    raise ValueError(f"arm {arm.name!r}: {e}") from e
        self._experiments.put(experiment)

    def arm_ranker(self, arm: Arm) -> Ranker:
        """The ranker ``arm`` configures (built once per configuration). Raises if it cannot
        be built (:func:`~shoprank.analytics.experiments.serve` then serves the default)."""
        key = arm.model_dump_json(include={"ranker", "ranker_model", "ranker_weights"})
        ranker = self._arm_rankers.get(key)
        if ranker is None:
            update: dict[str, object] = {"ranker": arm.ranker or self.settings.ranker}
            if arm.ranker_model is not None:
                update["ranker_model"] = arm.ranker_model
            elif arm.ranker is not None:
                update["ranker_model"] = None
            if arm.ranker_weights is not None:
                update["ranker_weights"] = arm.ranker_weights
            ranker = self._arm_rankers[key] = factory.ranker(self.settings.model_copy(update=update))
        return ranker

    def train_recommender(self, kind: str | None = None) -> int:
        """Refit the collaborative models on the event log; return the events used."""
        return self.personalizer.train(kind or (self.settings.cf_model if self.settings.cf_model != "none"
                                                else "itemitem"))

    def suggest(self, prefix: str, k: int = 8) -> list[Suggestion]:
        """Autocomplete from past queries, category names and titles."""
        served = self._served
        suggester = served.suggester
        p = self._personalizer.peek()
        # New past queries arrive with events; re-sort the keys at most once a second.
        # A new generation's autocomplete gets them at once.
        if p is not None and (p.queries_version != self._suggest_version or self._suggested is not suggester):
            with self._suggest_lock:
                now = time.monotonic()
                if self._suggested is not suggester or (p.queries_version != self._suggest_version
                                                        and now - self._suggest_built > 1.0):
                    suggester.update_queries(p.past_queries())
                    self._suggest_built, self._suggest_version, self._suggested = now, p.queries_version, suggester
        catalog = served.artifacts.catalog
        # A product deleted since the autocomplete was built is never offered.
        return [s for s in suggester.suggest(prefix, k) if s.product_id is None or s.product_id in catalog]

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
        try:
            profile = p.profile(query.user_id)
        except StoreUnavailable as e:  # the shopper still gets results, unpersonalized
            # Debug only: the store logs the outage itself, once per cooldown, not once per search.
            log.debug("searching unpersonalized: %s", e)
            return None
        return PersonalContext(profile, p.recommender) if profile is not None else None

    # -- search -----------------------------------------------------------------------------
    def _encode_text_uncached(self, text: str) -> np.ndarray:
        vec = self.text_encoder.encode_query(text)
        vec.setflags(write=False)  # shared by every later query with the same text
        return vec

    def encode_query(self, query: Query) -> QueryEncoding:
        """The query's vector for every input a modality route of this index can take."""
        return self._encode(query, self._served)

    def _encode(self, query: Query, served: _Served) -> QueryEncoding:
        t0 = time.perf_counter()
        enc = QueryEncoding(text=(query.text or "").strip() or None)
        if enc.text:
            enc.vectors["text"] = self._encode_text(enc.text)
        if query.image is not None:
            self._encode_photo(query.image, enc, served)
        enc.encode_ms = (time.perf_counter() - t0) * 1000
        return enc

    def _encode_photo(self, data: bytes, enc: QueryEncoding, served: _Served) -> None:
        try:
            img = open_rgb(io.BytesIO(data), max_pixels=self.settings.max_image_pixels)
        except ImageTooLarge as e:
            raise QueryTooLarge(str(e)) from None
        except Exception as e:  # decoders of hostile files raise OSError, SyntaxError, EOFError, struct.error...
            # The type, not the message: PIL's names the buffer's memory address.
            raise QueryError(f"the uploaded file is not a readable image ({type(e).__name__})") from None
        if self.image_encoder is None:
            raise QueryError("this index was built without an image encoder; photo search is unavailable")
        vectors, labels = encode_query_photo(img, served.artifacts.modalities, self._encoders.get(), self._encode_text)
        enc.vectors.update(vectors)
        if labels:
            enc.photo_labels = self.shown_labels(labels)

    def _understand(self, query: Query, served: _Served) -> tuple[QueryEncoding, ParsedQuery | None]:
        enc = self._encode(query, served)
        return enc, parse_query(enc.text, served.currency.get()) if enc.text else None

    def search(self, query: Query | str, **kwargs: object) -> SearchResult:
        """Search by text, photo, or both. ``search("red backpack", k=5)`` is shorthand."""
        if isinstance(query, str):
            query = Query(text=query, **kwargs)  # type: ignore[arg-type]
        if query.k < 1:
            raise QueryError("k must be at least 1")
        served = self._served
        return served.pipeline.run(query, *self._understand(query, served), self._personal_for(query))

    def candidates(self, query: Query) -> Candidates:
        """Retrieval, fusion and features for ``query`` without ranking: what a ranker is trained on."""
        served = self._served
        return served.pipeline.candidates(query, *self._understand(query, served), self._personal_for(query))

    def shown_labels(self, labels: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
        """The image labels confident enough to show a shopper (``photo_label_min_confidence``)."""
        return confident_labels(labels, self.settings.photo_label_min_confidence)

    def product(self, pid: str) -> Product | None:
        return self._served.artifacts.catalog.get(pid)

    def similar(self, pid: str, k: int = 10) -> list[Hit]:
        """Items like ``pid`` by text and photo, other variants of the same model left out."""
        served = self._served
        cat = served.artifacts.catalog
        if pid not in cat:
            raise KeyError(pid)
        return [Hit(product=cat.products[pos], score=score, features=parts)
                for pos, score, parts in served.similar_items.run(cat.position(pid), k)]
