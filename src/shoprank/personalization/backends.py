"""Personalization backends by name: profile stores and collaborative models.

Registered lazily: naming a backend whose extra is missing fails with the extra's name."""
from __future__ import annotations

from typing import TYPE_CHECKING

from shoprank.registry import Registry

if TYPE_CHECKING:
    from shoprank.personalization.collaborative.base import Recommender
    from shoprank.personalization.store.base import ProfileStore

PROFILE_STORES: Registry[ProfileStore] = Registry("profile store")
PROFILE_STORES.register("sqlite", "shoprank.personalization.store.sqlite:SQLiteProfileStore")
PROFILE_STORES.register("memory", "shoprank.personalization.store.sqlite:MemoryProfileStore")
PROFILE_STORES.register("redis", "shoprank.personalization.store.redis:RedisProfileStore", extra="redis")

COLLABORATIVE_MODELS: Registry[Recommender] = Registry("collaborative model")
COLLABORATIVE_MODELS.register("itemitem", "shoprank.personalization.collaborative.itemitem:ItemItemCF", extra="eval")
COLLABORATIVE_MODELS.register("als", "shoprank.personalization.collaborative.als:ALSRecommender", extra="cf")
