"""ShopRank: the one object an application holds. Build or open an index, then search.

A composition root: it wires, from the settings (:mod:`shoprank.factory`), query
understanding, the search pipeline over the served generation, the catalog writer (live
writes and generations), personalization, autocomplete and experiments; each role lives in
its own module and each lazily built resource has its own lock.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from shoprank import factory
from shoprank.analytics.experiments import Experiments
from shoprank.analytics.impressions import ImpressionLog
from shoprank.catalog import Catalog
from shoprank.config import Settings, get_settings
from shoprank.encoders.base import EncoderSet, ImageEncoder, TextEncoder
from shoprank.engine.models import Models
from shoprank.engine.personal import Personalization
from shoprank.engine.served import Served, serve
from shoprank.engine.suggest import Autocomplete
from shoprank.engine.writer import CatalogWriter, build_generation
from shoprank.index.artifacts import IndexArtifacts
from shoprank.index.generations import Generation, IndexHome
from shoprank.index.live import CatalogWrite
from shoprank.lazy import Lazy
from shoprank.personalization.online import Personalizer
from shoprank.query.plan import QueryError, QueryPlan
from shoprank.query.rewriters import IndexStores
from shoprank.query.understanding import QueryUnderstanding
from shoprank.ranking.base import Ranker
from shoprank.retrieval.suggest import Suggestion
from shoprank.search import Candidates, SearchPipeline, SearchResult
from shoprank.search.merchandising import hidden_ids
from shoprank.types import Hit, Product, Query

log = logging.getLogger(__name__)


class ShopRank:
    """Multimodal product search over one built index."""

    def __init__(self, artifacts: IndexArtifacts, settings: Settings | None = None,
                 text_encoder: TextEncoder | None = None, image_encoder: ImageEncoder | None = None,
                 ranker: Ranker | None = None, *, home: IndexHome | None = None,
                 generation: Generation | None = None):
        self.settings = s = settings or get_settings()
        self.models = Models(s, lambda: self.artifacts.manifest, text_encoder, image_encoder)
        self._impressions: Lazy[ImpressionLog] = Lazy(lambda: factory.impression_log(s))
        self.impressions_dropped = 0  # searches answered whose impression could not be written
        self.reranker = factory.reranker(s)  # loaded once: reloads keep it, as they keep the ranker
        self.understanding = QueryUnderstanding(lambda: self.models.text, self.models.encoders, s.query_rewriters,
                                                s.max_image_pixels, s.photo_label_min_confidence)
        self.synonyms = factory.synonym_store(s, home.root if home is not None else None)  # editable while serving
        self.writer = CatalogWriter(s, self._serve(artifacts, generation, ranker), home, self._serve,
                                    self.models.encoders)
        self.personalization = Personalization(s, lambda: self.pipeline.extractor.signals, lambda: self.impressions)
        for rewriter in self.understanding.rewriters:
            rewriter.bind(IndexStores(self.synonyms, self.personalization.peek))
        self.writer.followers.append(lambda new: self.personalization.follow(new.pipeline.extractor.signals))
        self.autocomplete = Autocomplete(self.personalization.peek)
        self.experiments = Experiments(s, factory.experiment_store(s), lambda q, r: self.search(q, ranker=r),
                                       lambda: self.ranker, factory.ranker)
        self.writer.catch_up()  # writes made since the generation was built

    def _serve(self, artifacts: IndexArtifacts, generation: Generation | None, ranker: Ranker | None) -> Served:
        return serve(artifacts, generation, factory.pipeline(artifacts, self.settings, ranker, self.reranker),
                     self.settings.currency)

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
        home, gen, art = build_generation(catalog, index_dir, settings, EncoderSet(text_encoder, image_encoder),
                                          catalog_seq)
        return cls(art, settings, text_encoder, image_encoder, home=home, generation=gen)

    @classmethod
    def open(cls, index_dir: Path, settings: Settings | None = None) -> ShopRank:
        """Serve the current generation of the index at ``index_dir`` (or a flat index folder)."""
        home = factory.index_home(settings or get_settings(), index_dir)
        gen, art = home.open()
        return cls(art, settings, home=home, generation=gen)

    # -- the served generation (replaced as a whole by reload and never changed by searches) -------
    @property
    def artifacts(self) -> IndexArtifacts:
        return self.writer.served.artifacts

    @property
    def pipeline(self) -> SearchPipeline:
        return self.writer.served.pipeline

    @property
    def ranker(self) -> Ranker:
        return self.pipeline.ranker

    @property
    def catalog_seq(self) -> int:
        """The last catalog write the served index holds."""
        return self.writer.served.writes.seq

    def reload(self) -> bool:
        """Serve the index's current generation if it is new (see :meth:`CatalogWriter.reload`)."""
        return self.writer.reload()

    def write(self, writes: Sequence[CatalogWrite]) -> list[int]:
        """Log ``writes`` and apply them; when it returns they are searchable (see :class:`CatalogWriter`)."""
        return self.writer.write(writes)

    @property
    def personalizer(self) -> Personalizer:
        """Events, profiles and collaborative models; opened on first use."""
        return self.personalization.personalizer

    def attach_personalizer(self, personalizer: Personalizer | None) -> Personalizer | None:
        return self.personalization.attach(personalizer)

    @property
    def generation(self) -> str | None:
        """The generation served ("gen-000007"; "flat" for an index from before generations),
        or None for artifacts that were handed over rather than opened."""
        gen = self.writer.served.generation
        return gen.name if gen is not None else None

    @property
    def text_encoder(self) -> TextEncoder:
        return self.models.text

    @property
    def image_encoder(self) -> ImageEncoder | None:
        return self.models.image

    @property
    def impressions(self) -> ImpressionLog | None:
        """What each search showed (None when ``log_impressions`` is off); opened on first use."""
        return self._impressions.get() if self.settings.log_impressions else None

    # -- search --------------------------------------------------------------------------------
    def understand(self, query: Query, served: Served | None = None) -> QueryPlan:
        """``query`` as every search stage reads it: text, rewrites, parsed filters, vectors."""
        served = served or self.writer.served
        return self.understanding.plan(query, served.artifacts, served.currency.get())

    def search(self, query: Query | str, ranker: Ranker | None = None, **kwargs: object) -> SearchResult:
        """Search by text, photo, or both. ``search("red backpack", k=5)`` is shorthand.
        ``ranker``: instead of the served one (an experiment's arm)."""
        if isinstance(query, str):
            query = Query(text=query, **kwargs)  # type: ignore[arg-type]
        if query.k < 1:
            raise QueryError("k must be at least 1")
        served = self.writer.served
        return served.pipeline.run(query, self.understand(query, served), self.personalization.context(query),
                                   ranker)

    def candidates(self, query: Query) -> Candidates:
        """Retrieval, fusion and features for ``query`` without ranking: what a ranker is trained on."""
        served = self.writer.served
        return served.pipeline.candidates(query, self.understand(query, served), self.personalization.context(query))

    def suggest(self, prefix: str, k: int = 8, segments: Sequence[str] = ()) -> list[Suggestion]:
        """Autocomplete from past queries, category names and titles (none a rule hides)."""
        return self.autocomplete.suggest(self.writer.served, prefix, k, segments)

    def product(self, pid: str) -> Product | None:
        return self.artifacts.catalog.get(pid)

    def similar(self, pid: str, k: int = 10, segments: Sequence[str] = ()) -> list[Hit]:
        """Items like ``pid`` by text and photo, other variants of the same model left out, and
        the products site-wide rules (and those of ``segments``) hide."""
        served = self.writer.served
        cat = served.artifacts.catalog
        if pid not in cat:
            raise KeyError(pid)
        hidden = {cat.position(h) for h in hidden_ids(served.pipeline.rules.rules, None, segments) if h in cat}
        return [Hit(product=cat.products[pos], score=score, features=parts)
                for pos, score, parts in served.similar_items.run(cat.position(pid), k, hidden)]
