"""One settings object, read from ``SHOPRANK_*`` environment variables."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPRANK_", env_file=".env", extra="ignore")

    # Where the public data bundle lives (read in place, never copied).
    data_dir: Path = Path("../shared/data")
    # Built indexes and the embedding cache.
    home: Path = Path("var")

    text_encoder: Literal["e5", "minilm"] = "e5"
    image_encoder: Literal["efficientnet", "none"] = "efficientnet"

    fusion: Literal["rrf", "linear"] = "rrf"
    # "lambdamart" serves a model saved by `shoprank eval --save-model DIR` (ranker_model = DIR/<set>).
    ranker: Literal["linear", "lambdamart"] = "linear"
    ranker_model: Path | None = None
    rrf_k: int = 60
    # Candidate budgets: each retriever returns `retrieve_k`, the ranker scores at most `rerank_k`.
    retrieve_k: int = 200
    rerank_k: int = 200
    # Overrides of the default weights, e.g. SHOPRANK_RANKER_WEIGHTS='{"cos_text": 3}'.
    ranker_weights: dict[str, float] = {}
    retriever_weights: dict[str, float] = {}
    # Below this many vectors faiss searches exactly; above it builds HNSW.
    exact_vector_limit: int = 100_000

    # Personalization: the durable event log, where profiles live, and how fast tastes fade.
    events_db: Path | None = None  # default: <home>/events.sqlite
    profile_store: Literal["sqlite", "memory", "redis"] = "sqlite"
    redis_url: str = "redis://127.0.0.1:6379/0"
    profile_half_life_s: float = 3 * 24 * 3600.0
    # Collaborative model fitted on the event log when the engine opens (if there are events).
    cf_model: Literal["itemitem", "als", "none"] = "itemitem"

    # Voice queries: faster-whisper (tiny.en), pocketsphinx as the fallback.
    speech_backend: Literal["auto", "whisper", "pocketsphinx"] = "auto"
    max_audio_seconds: float = 30.0

    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = 10 * 1024 * 1024

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def events_path(self) -> Path:
        return self.events_db or self.home / "events.sqlite"

    def index_dir(self, name: str) -> Path:
        return self.home / "indexes" / name


@lru_cache
def get_settings() -> Settings:
    return Settings()
