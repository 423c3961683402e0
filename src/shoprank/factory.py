"""Components built from :class:`~shoprank.config.Settings`, each backend looked up by name."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from shoprank.config import Settings
from shoprank.encoders import IMAGE_ENCODERS, TEXT_ENCODERS
from shoprank.encoders.base import EncoderSet, ImageEncoder, TextEncoder
from shoprank.features.extract import FeatureExtractor
from shoprank.index.artifacts import IndexArtifacts
from shoprank.ranking import RANKERS, LinearRanker, Ranker, load_ranker
from shoprank.retrieval.hybrid import HybridRetriever
from shoprank.search import RULES, Budgets, SearchPipeline

if TYPE_CHECKING:
    from shoprank.analytics.experiment_store import ExperimentStore
    from shoprank.analytics.impressions import ImpressionLog
    from shoprank.encoders.cache import EmbeddingCache
    from shoprank.encoders.speech import SpeechRecognizer
    from shoprank.index.generations import IndexHome
    from shoprank.index.writelog import CatalogLog
    from shoprank.personalization.collaborative.base import Recommender
    from shoprank.personalization.store.base import EventLog, ProfileStore
    from shoprank.personalization.store.models import CFModelStore
    from shoprank.query.synonym_store import SynonymStore
    from shoprank.ranking.rerank import CrossEncoderReranker
    from shoprank.search.rule_store import RuleStore


def text_encoder(settings: Settings) -> TextEncoder:
    return TEXT_ENCODERS.create(settings.text_encoder, **_runtime_options(settings))


def _runtime_options(settings: Settings) -> dict[str, object]:
    opts: dict[str, object] = {"threads": settings.encoder_threads or None, "home": settings.models_dir}
    if settings.encoder_runtime is not None:
        opts["runtime"] = settings.encoder_runtime
    return opts


def image_encoder(settings: Settings) -> ImageEncoder | None:
    if settings.image_encoder == "none":
        return None
    return IMAGE_ENCODERS.create(settings.image_encoder, **_runtime_options(settings))


def encoders(settings: Settings) -> EncoderSet:
    return EncoderSet(text_encoder(settings), image_encoder(settings))


def ranker(settings: Settings) -> Ranker:
    """The configured ranker: a saved model when ``ranker_model`` is set; else the linear one, or
    for ``default`` the model packaged for the text encoder (the linear one where none ships)."""
    if settings.ranker == "default" and settings.ranker_model is None:
        from shoprank.ranking.default import default_ranker

        return default_ranker(settings.text_encoder, settings.ranker_weights)
    cls = RANKERS.get_class(settings.ranker)
    if settings.ranker_model is not None:
        saved = load_ranker(settings.ranker_model)
        if not isinstance(saved, cls):
            raise ValueError(f"SHOPRANK_RANKER_MODEL={settings.ranker_model} holds a {saved.name} ranker, "
                             f"not {settings.ranker}")
        return saved
    if cls is LinearRanker:
        return LinearRanker(settings.ranker_weights)
    raise ValueError(f"SHOPRANK_RANKER={settings.ranker} needs SHOPRANK_RANKER_MODEL (a saved model folder)")


def reranker(settings: Settings) -> CrossEncoderReranker | None:
    """The configured second stage, if any (loading it reads a cross-encoder of ~50 MB)."""
    if settings.reranker_model is None:
        return None
    from shoprank.ranking.rerank import CrossEncoderReranker

    return CrossEncoderReranker.load(settings.reranker_model)


def pipeline(artifacts: IndexArtifacts, settings: Settings, ranker_: Ranker | None = None,
             reranker_: CrossEncoderReranker | None = None) -> SearchPipeline:
    retriever = HybridRetriever(artifacts, settings.retriever_weights, settings.rrf_k)
    return SearchPipeline(artifacts, retriever, FeatureExtractor(artifacts), ranker_ or ranker(settings),
                          Budgets(settings.retrieve_k, settings.rerank_k,
                                  out_of_stock_band=settings.out_of_stock_band), settings.fusion, reranker_,
                          [RULES.get_class(name).from_settings(settings) for name in settings.search_rules])


# -- stores: each an interface, its backend chosen by a *_store setting ----------------------------
def event_log(settings: Settings) -> EventLog:
    from shoprank.personalization.backends import EVENT_LOGS

    return EVENT_LOGS.get_class(settings.event_store).from_settings(settings)


def profile_store(settings: Settings) -> ProfileStore:
    from shoprank.personalization.backends import PROFILE_STORES

    settings.events_path.parent.mkdir(parents=True, exist_ok=True)
    return PROFILE_STORES.get_class(settings.profile_store).from_settings(settings)


def cf_model_store(settings: Settings) -> CFModelStore:
    """Where fitted collaborative models are shared between processes."""
    from shoprank.personalization.backends import CF_MODEL_STORES

    return CF_MODEL_STORES.get_class(settings.cf_model_store).from_settings(settings)


def impression_log(settings: Settings) -> ImpressionLog:
    from shoprank.analytics.impressions import IMPRESSION_LOGS

    return IMPRESSION_LOGS.get_class(settings.impression_store).from_settings(settings)


def experiment_store(settings: Settings) -> ExperimentStore:
    from shoprank.analytics.experiment_store import EXPERIMENT_STORES

    return EXPERIMENT_STORES.get_class(settings.experiment_store).from_settings(settings)


def rule_store(settings: Settings) -> RuleStore:
    """The merchandising rules every process serving this home applies."""
    from shoprank.search.rule_store import RULE_STORES

    return RULE_STORES.get_class(settings.rule_store).from_settings(settings)


def embedding_cache(settings: Settings) -> EmbeddingCache:
    from shoprank.encoders.cache import EMBEDDING_CACHES

    return EMBEDDING_CACHES.get_class(settings.embedding_cache_store).from_settings(settings)


def write_log(settings: Settings, index_root: Path) -> CatalogLog:
    """The catalog write log of the index at ``index_root`` (created when missing)."""
    from shoprank.index.writelog import WRITE_LOGS

    return WRITE_LOGS.get_class(settings.write_log_store).from_settings(settings, index_root)


def has_write_log(settings: Settings, index_root: Path) -> bool:
    """Whether the index at ``index_root`` has a catalog write log; creates nothing."""
    from shoprank.index.writelog import WRITE_LOGS

    return WRITE_LOGS.get_class(settings.write_log_store).exists(settings, index_root)


def synonym_store(settings: Settings, index_root: Path | None) -> SynonymStore:
    """The synonym sets of the index at ``index_root``; without one (artifacts handed over), a
    store in memory that lasts as long as the engine."""
    from shoprank.query.synonym_store import SYNONYM_STORES, MemorySynonymStore

    if index_root is None:
        return MemorySynonymStore()
    return SYNONYM_STORES.get_class(settings.synonym_store).from_settings(settings, Path(index_root))


def index_home(settings: Settings, index_root: Path) -> IndexHome:
    """The generations of the index at ``index_root``, with the configured pointer to the served one."""
    from shoprank.index.generations import GENERATION_POINTERS, IndexHome

    pointer = GENERATION_POINTERS.get_class(settings.generation_store).from_settings(settings, Path(index_root))
    return IndexHome(index_root, pointer)


def recommender(kind: str, **kwargs: object) -> Recommender:
    from shoprank.personalization.backends import COLLABORATIVE_MODELS

    return COLLABORATIVE_MODELS.create(kind, **kwargs)


def speech(settings: Settings) -> SpeechRecognizer:
    from shoprank.encoders.speech import make_speech_recognizer

    return make_speech_recognizer(settings.speech_backend, settings.max_audio_seconds, settings.max_upload_bytes)
