"""One settings object, read from ``SHOPRANK_*`` environment variables."""
from __future__ import annotations

import importlib
import importlib.util
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Setting -> (module, registry) naming its choices; "none" turns an optional component off.
_BACKENDS: dict[str, tuple[str, str, bool]] = {
    "text_encoder": ("shoprank.encoders", "TEXT_ENCODERS", False),
    "image_encoder": ("shoprank.encoders", "IMAGE_ENCODERS", True),
    "fusion": ("shoprank.retrieval.fusion", "FUSION_METHODS", False),
    "ranker": ("shoprank.ranking", "RANKERS", False),
    "vector_backend": ("shoprank.index", "VECTOR_INDEXES", False),
    "lexical_backend": ("shoprank.index", "LEXICAL_INDEXES", False),
    "profile_store": ("shoprank.personalization.backends", "PROFILE_STORES", False),
    "event_store": ("shoprank.personalization.backends", "EVENT_LOGS", False),
    "cf_model_store": ("shoprank.personalization.backends", "CF_MODEL_STORES", False),
    "write_log_store": ("shoprank.index.writelog", "WRITE_LOGS", False),
    "generation_store": ("shoprank.index.generations", "GENERATION_POINTERS", False),
    "embedding_cache_store": ("shoprank.encoders.cache", "EMBEDDING_CACHES", False),
    "impression_store": ("shoprank.analytics.impressions", "IMPRESSION_LOGS", False),
    "experiment_store": ("shoprank.analytics.experiment_store", "EXPERIMENT_STORES", False),
    "synonym_store": ("shoprank.query.synonym_store", "SYNONYM_STORES", False),
    "rule_store": ("shoprank.search.rule_store", "RULE_STORES", False),
    "cf_model": ("shoprank.personalization.backends", "COLLABORATIVE_MODELS", True),
    "speech_backend": ("shoprank.encoders.speech", "SPEECH_RECOGNIZERS", False),
}

# Settings listing several backends of one registry.
_LISTS: dict[str, tuple[str, str]] = {
    "query_rewriters": ("shoprank.query.rewriters", "REWRITERS"),
    "search_rules": ("shoprank.search.rules", "RULES"),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def default_rewriters() -> list[str]:
    """Pinyin and typo tolerance where the ``query`` extra is installed (named without it, each is a
    MissingExtraError saying so), then the index's synonym sets. Pinyin first: a pinyin query
    becomes Chinese before the typo corrector could read it as a misspelled English word."""
    return [*(["pinyin"] if _installed("pypinyin") else []), *(["typo"] if _installed("symspellpy") else []),
            "synonym"]


def user_cache_dir() -> Path:
    """The per-user cache (``$XDG_CACHE_HOME/shoprank``, else ``~/.cache/shoprank``): exported
    models are built once per user and shared by every ``SHOPRANK_HOME``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "shoprank"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPRANK_", env_file=".env", extra="ignore")

    # Where the public data bundle lives (read in place, never copied).
    data_dir: Path = Path("../shared/data")
    # Built indexes and the embedding cache.
    home: Path = Path("var")
    # Encoder models exported to ONNX (and converted rankers), shared by every home of this user.
    user_cache_dir: Path = Field(default_factory=user_cache_dir)

    # Backends are named here and validated against their registries (see _BACKENDS).
    text_encoder: str = "e5"            # e5 | minilm | hashing (model-free, for tests)
    # How encoders run: onnx-int8, onnx-fp32, or reference (the original engine, for checking); unset:
    # each encoder's default (e5 and minilm onnx-int8, efficientnet onnx-fp32).
    encoder_runtime: Literal["onnx-int8", "onnx-fp32", "reference"] | None = None
    # Intra-op threads of batch encoding (indexing); 0: one per core. Queries always use one.
    encoder_threads: int = Field(default=0, ge=0)
    image_encoder: str = "efficientnet"  # efficientnet | palette | palette-joint | none
    # Photo labels are shown to shoppers only from this classifier confidence: on 723 Luma photos
    # labels from 0.81 up were right 16 times in 17 (2.4 % of photos get one; below, precision
    # falls under 0.9: benchmarks/photo_labels.py). Ranking reads every label regardless.
    photo_label_min_confidence: float = Field(default=0.81, ge=0.0, le=1.0)
    vector_backend: str = "faiss"
    lexical_backend: str = "tantivy"

    fusion: str = "rrf"                 # rrf | linear
    # Query rewriters (shoprank.query.rewriters) that run on every query, in order; search rules
    # (shoprank.search.rules) applied after ranking, in order. Names in their registries. "typo"
    # (query/typo.py) is on where its extra (shoprank[query]) is installed: on correctly spelled
    # queries it changed 0 of 256 CrowdFlower and 45 of 6,487 Home Depot ones (99.3 % unchanged;
    # "correct": every word a catalog or English word), most of those real-word typos ("sower head").
    # "merchandising" applies the pin/hide/boost/bury rules of /admin/rules (rule_store).
    query_rewriters: list[str] = Field(default_factory=default_rewriters)
    search_rules: list[str] = ["merchandising"]
    # The catalog's currency: a price limit a query names in another ("50元以下" in USD) is not
    # applied (no exchange rate is kept); the response's parsed.price_note says so. Unset: the
    # most common currency of the served catalog's products (USD for an empty catalog).
    currency: str | None = None
    # "default": LambdaMART trained on the labelled sets plus hand-set terms for what it does not learn
    # (profile, photos, query understanding), packaged per text encoder (the linear ranker where none
    # ships); "linear": hand-set weights; "lambdamart"
    # serves a model saved by `shoprank eval --save-model DIR` (ranker_model = DIR/<set>).
    ranker: str = "default"
    ranker_model: Path | None = None
    # A second stage over the ranker's top 30: a saved cross-encoder reranker
    # (`shoprank eval --cross-encoder --save-model DIR` writes DIR/<set>-ce). Unset: none.
    reranker_model: Path | None = None
    rrf_k: int = 60
    # Candidate budgets: each retriever returns `retrieve_k`, the ranker scores at most `rerank_k`.
    retrieve_k: int = 200
    rerank_k: int = 200
    # Out-of-stock products drop below in-stock ones scoring within this share of the query's
    # candidate score range above them, not below clearly less relevant ones; 1: after every
    # in-stock product (each part in relevance order); 0: keep their rank. 0.1 measured with 20 %
    # simulated stock-outs: CrowdFlower nDCG@10 .8249 (keep rank .8253, after all .8146), 96 % of
    # the top 10 buyable; a sold-out exact title match on Luma stays first in 93 % of queries
    # (after all: median rank 24). benchmarks/stock_ordering.py.
    out_of_stock_band: float = Field(default=0.1, ge=0.0)
    # Overrides of the default weights, e.g. SHOPRANK_RANKER_WEIGHTS='{"cos_text": 3}'.
    ranker_weights: dict[str, float] = {}
    retriever_weights: dict[str, float] = {}
    # Up to this many vectors faiss searches exactly; above it builds HNSW. An exact search scans
    # every row (a 50k x 384 flat scan is ~10 ms a query); HNSW keeps 0.97 of the top 200 in <1 ms.
    exact_vector_limit: int = 20_000

    # Personalization: the durable event log, where profiles live, and how fast tastes fade.
    events_db: Path | None = None  # default: <home>/events.sqlite
    # What each search showed (analytics, click models, experiments): <home>/impressions.sqlite.
    log_impressions: bool = True
    impressions_db: Path | None = None
    # Impressions lose their user and session ids after this many days, and are deleted after the second.
    impression_anonymize_days: float | None = Field(default=30.0, gt=0)
    impression_retention_days: float | None = Field(default=365.0, gt=0)
    # The running online experiment (A/B or interleaving), as JSON; default <home>/experiment.json,
    # written by PUT /admin/experiment.
    experiment_file: Path | None = None
    # Merchandising rules (PUT /admin/rules/{id}, `shoprank rules import`); default <home>/rules.sqlite.
    rules_db: Path | None = None
    profile_store: str = "sqlite"  # sqlite | memory | redis
    redis_url: str = "redis://127.0.0.1:6379/0"
    profile_half_life_s: float = 3 * 24 * 3600.0
    # Autocomplete offers a past query once this many distinct shoppers used it, and never one
    # containing a blocked term (case-insensitive substring), e.g. SHOPRANK_SUGGEST_BLOCKLIST='["badword"]'.
    suggest_min_users: int = Field(default=3, ge=1)
    suggest_blocklist: list[str] = []
    # Collaborative model fitted on the event log when the engine opens (if there are events).
    cf_model: str = "itemitem"  # itemitem | als | none

    # Where host-local state lives: each store is an interface with backends registered by name
    # (see _BACKENDS); the defaults are the embedded ones, SQLite files and plain files under home.
    event_store: str = "sqlite"            # the event log, at events_db
    impression_store: str = "sqlite"       # the impression log, at impressions_db
    experiment_store: str = "file"         # the running experiment, at experiment_file
    rule_store: str = "sqlite"             # merchandising rules, at rules_db
    cf_model_store: str = "file"           # fitted collaborative models, shared by processes: <home>/models
    write_log_store: str = "sqlite"        # each index's catalog write log: <index>/writes.sqlite
    generation_store: str = "file"         # each index's served-generation pointer: <index>/CURRENT
    embedding_cache_store: str = "sqlite"  # encoded vectors by content: <home>/cache/embeddings.sqlite
    synonym_store: str = "sqlite"          # each index's synonym sets: <index>/synonyms.sqlite

    # Voice queries: faster-whisper (tiny.en), pocketsphinx as the fallback; auto and whisper-multilingual
    # use Whisper base (the voice-zh extra) for the languages below, where installed.
    speech_backend: str = "auto"  # auto | whisper | pocketsphinx | whisper-multilingual
    # Languages voice queries may be in, most common first. English only by default: with "zh" too,
    # every clip's language is detected by Whisper base first (English voice p50 0.32 -> 1.76 s,
    # and Chinese hit@5 is 0.49 on synthetic speech: benchmarks/RESULTS.md, issue 33).
    speech_languages: list[Literal["en", "zh"]] = Field(default=["en"], min_length=1)
    max_audio_seconds: float = 30.0
    # Transcriptions one server process runs at once, apart from searches (voice cannot take
    # text search's threads); a few more wait, the rest are told to retry (503).
    speech_threads: int = Field(default=1, ge=1)
    # A transcript below this confidence is answered "didn't catch that" instead of searched. On
    # espeak-ng clips -1.0 kept 10 of 11 right English transcripts and turned away 18 of 34 wrong
    # ones and 11 of 20 Mandarin ones, which tiny.en cannot understand (benchmarks/voice_confidence.py).
    voice_min_avg_logprob: float = -1.0
    # Above this no-speech probability too (spoken clips measured at most 0.52).
    voice_max_no_speech_prob: float = Field(default=0.6, ge=0.0, le=1.0)

    host: str = "127.0.0.1"
    port: int = 8000
    # Searches (and voice transcriptions) one server process runs at once; more wait their turn.
    # 0: one per core. A search encodes its query on one thread, so this bounds the busy cores:
    # 16 concurrent requests on 2 cores then queue instead of time-slicing 16 threads.
    search_threads: int = Field(default=0, ge=0)
    # How often a server checks its index for a newly published generation and switches to it;
    # 0: never (POST /admin/reload still does).
    index_watch_s: float = Field(default=0.0, ge=0)
    # How often a server applies catalog writes other processes logged (PUT/PATCH/DELETE
    # /products, `shoprank index --update`); its own are applied before they are acknowledged.
    catalog_poll_s: float = Field(default=0.5, ge=0)
    # The folder photos named in catalog writes over HTTP must be in (None: such writes name no photo).
    image_root: Path | None = None
    max_bulk_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # Bounds on what one request may send: a photo/voice upload, any other body, a photo's pixels
    # (checked from its header before decoding; JPEGs count at their reduced decode size).
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_image_pixels: int = Field(default=16_000_000, ge=1)
    # Product videos and video queries (encoders/video_decode.py): refused beyond these bounds.
    video_max_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    video_max_seconds: float = Field(default=300.0, gt=0)
    video_max_pixels: int = Field(default=3840 * 2160, ge=1)
    video_decode_timeout_s: float = Field(default=30.0, gt=0)
    video_max_keyframes: int = Field(default=8, ge=1, le=256)

    # Exposure (README "Running it on the internet"). prod: refuses to start without an admin key,
    # /docs off. dev (default): with no key set every scope is open, and start-up says so.
    env: Literal["dev", "prod"] = "dev"
    # X-API-Key values: admin (everything), events (events + search), search (search only).
    admin_key: SecretStr | None = None
    events_key: SecretStr | None = None
    search_key: SecretStr | None = None
    # Scopes granted without a key once keys are in force; add "events" to let the page send clicks.
    public_scopes: list[Literal["search", "events"]] = ["search"]
    # Signs per-shopper tokens (X-User-Token) for their own profile, recommendations and forgetting;
    # default: the admin key.
    user_token_secret: SecretStr | None = None
    # Requests per second per client (its API key, else its IP); bursts of 2 s worth; 0: unlimited.
    rate_search_per_s: float = Field(default=30.0, ge=0)
    rate_events_per_s: float = Field(default=50.0, ge=0)
    # Take the client IP from X-Forwarded-For (only behind a proxy that sets it): the address the
    # outermost of ``forwarded_proxies`` trusted proxies appended, not what the client wrote.
    trust_forwarded_for: bool = False
    forwarded_proxies: int = Field(default=1, ge=1)
    # Origins allowed to call the API from a browser; default: same origin only.
    cors_origins: list[str] = []
    # /docs and /redoc pages; default: on in dev, off in prod (/openapi.json stays).
    docs: bool | None = None

    @field_validator(*_BACKENDS)
    @classmethod
    def _known_backend(cls, v: str, info: Any) -> str:
        module, registry, optional = _BACKENDS[info.field_name]
        if optional and v == "none":
            return v
        reg = getattr(importlib.import_module(module), registry)
        return str(reg.validate(v))

    @field_validator("query_rewriters", "search_rules")
    @classmethod
    def _known_names(cls, v: list[str], info: Any) -> list[str]:
        module, registry = _LISTS[info.field_name]
        reg = getattr(importlib.import_module(module), registry)
        return [str(reg.validate(name)) for name in v]

    @field_validator("retriever_weights")
    @classmethod
    def _known_retrievers(cls, v: dict[str, float]) -> dict[str, float]:
        from shoprank.retrieval.hybrid import check_weights

        check_weights(v)
        return v

    @field_validator("ranker_weights")
    @classmethod
    def _known_features(cls, v: dict[str, float]) -> dict[str, float]:
        from shoprank.features.registry import BY_NAME

        unknown = sorted(set(v) - set(BY_NAME))
        if unknown:
            raise ValueError(f"weights for unknown features {unknown}; known: {', '.join(BY_NAME)}")
        return v

    @property
    def models_dir(self) -> Path:
        """Encoder models exported to ONNX, built once per user (not per home)."""
        return self.user_cache_dir / "models"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def events_path(self) -> Path:
        return self.events_db or self.home / "events.sqlite"

    @property
    def impressions_path(self) -> Path:
        return self.impressions_db or self.home / "impressions.sqlite"

    @property
    def experiment_path(self) -> Path:
        return self.experiment_file or self.home / "experiment.json"

    @property
    def rules_path(self) -> Path:
        return self.rules_db or self.home / "rules.sqlite"

    def index_dir(self, name: str) -> Path:
        return self.home / "indexes" / name


@lru_cache
def get_settings() -> Settings:
    return Settings()
