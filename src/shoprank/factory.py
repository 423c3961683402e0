"""Components built from :class:`~shoprank.config.Settings`, each backend looked up by name."""
from __future__ import annotations

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
    from shoprank.encoders.speech import SpeechRecognizer
    from shoprank.personalization.collaborative.base import Recommender
    from shoprank.personalization.store.base import EventLog, ProfileStore
    from shoprank.ranking.rerank import CrossEncoderReranker


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
                          [RULES.create(name) for name in settings.search_rules])


def event_log(settings: Settings) -> EventLog:
    from shoprank.personalization.store.sqlite import SQLiteEventLog

    settings.events_path.parent.mkdir(parents=True, exist_ok=True)
    return SQLiteEventLog(settings.events_path)


def profile_store(settings: Settings) -> ProfileStore:
    from shoprank.personalization.backends import PROFILE_STORES

    settings.events_path.parent.mkdir(parents=True, exist_ok=True)
    return PROFILE_STORES.get_class(settings.profile_store).from_settings(settings)


def recommender(kind: str, **kwargs: object) -> Recommender:
    from shoprank.personalization.backends import COLLABORATIVE_MODELS

    return COLLABORATIVE_MODELS.create(kind, **kwargs)


def speech(settings: Settings) -> SpeechRecognizer:
    from shoprank.encoders.speech import make_speech_recognizer

    return make_speech_recognizer(settings.speech_backend, settings.max_audio_seconds, settings.max_upload_bytes)
