"""Personalization backends by name: event logs, profile stores, fitted-model stores, collaborative models.

Registered lazily: naming a backend whose extra is missing fails with the extra's name."""
from __future__ import annotations

from typing import TYPE_CHECKING

from shoprank.registry import Registry

if TYPE_CHECKING:
    from shoprank.personalization.collaborative.base import Recommender
    from shoprank.personalization.store.base import EventLog, ProfileStore
    from shoprank.personalization.store.models import CFModelStore

EVENT_LOGS: Registry[EventLog] = Registry("event log")
EVENT_LOGS.register("sqlite", "shoprank.personalization.store.sqlite:SQLiteEventLog")

PROFILE_STORES: Registry[ProfileStore] = Registry("profile store")
PROFILE_STORES.register("sqlite", "shoprank.personalization.store.sqlite:SQLiteProfileStore")
PROFILE_STORES.register("memory", "shoprank.personalization.store.sqlite:MemoryProfileStore")
PROFILE_STORES.register("redis", "shoprank.personalization.store.redis:RedisProfileStore", extra="redis")

CF_MODEL_STORES: Registry[CFModelStore] = Registry("collaborative model store")
CF_MODEL_STORES.register("file", "shoprank.personalization.store.models:FileCFModelStore")

COLLABORATIVE_MODELS: Registry[Recommender] = Registry("collaborative model")
COLLABORATIVE_MODELS.register("itemitem", "shoprank.personalization.collaborative.itemitem:ItemItemCF", extra="eval")
COLLABORATIVE_MODELS.register("als", "shoprank.personalization.collaborative.als:ALSRecommender", extra="cf")
