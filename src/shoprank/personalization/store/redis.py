"""Redis profile store: one profile store shared by every API process.

Profiles are ``Profile.to_bytes()`` under ``prefix + owner``. Updates are optimistic
transactions (WATCH / GET / MULTI / SET / EXEC), so concurrent updates of one owner from
any number of processes never lose each other's events.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shoprank.personalization.profile import Profile
from shoprank.personalization.store.base import ProfileStore

if TYPE_CHECKING:
    from shoprank.config import Settings

log = logging.getLogger(__name__)

MAX_RETRIES = 50


class RedisProfileStore(ProfileStore):
    """Profiles in Redis, coherent across threads and processes.

    ``update`` may call ``fn`` more than once (each time another writer changed the
    profile between our read and our write), so ``fn`` must be free of side effects.
    With ``ttl_s`` a profile expires that long after its last update. Redis is not
    assumed durable: profiles can be rebuilt from the event log.
    """

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisProfileStore:
        return cls(settings.redis_url)

    def __init__(self, url: str, prefix: str = "shoprank:profile:", ttl_s: int | None = None):
        try:
            import redis
        except ImportError as err:  # the client is an optional dependency
            raise ImportError("RedisProfileStore needs the redis client: pip install 'shoprank[redis]'") from err
        self._watch_error: type[Exception] = redis.WatchError
        # from_url builds a connection pool: threads share it, each command borrows a connection.
        self._r: Any = redis.Redis.from_url(url)
        self.prefix = prefix
        self.ttl_s = ttl_s

    def _key(self, owner: str) -> str:
        return self.prefix + owner

    def get(self, owner: str) -> Profile | None:
        raw = self._r.get(self._key(owner))
        return Profile.from_bytes(raw) if raw is not None else None

    def update(self, owner: str, fn: Callable[[Profile | None], Profile]) -> Profile:
        key = self._key(owner)
        with self._r.pipeline() as pipe:
            for attempt in range(MAX_RETRIES):
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)  # immediate mode while watching
                    new = fn(Profile.from_bytes(raw) if raw is not None else None)
                    pipe.multi()
                    pipe.set(key, new.to_bytes(), ex=self.ttl_s)
                    pipe.execute()  # raises WatchError if the key changed since WATCH
                    return new
                except self._watch_error:
                    # Jittered backoff so a crowd of writers on one hot key stops colliding.
                    if attempt >= 2:
                        time.sleep(random.random() * min(0.0005 * 2 ** attempt, 0.02))
        raise RuntimeError(f"profile update of {owner!r} lost {MAX_RETRIES} races in a row; giving up")

    def delete(self, owner: str) -> bool:
        return int(self._r.delete(self._key(owner))) > 0

    def close(self) -> None:
        self._r.close()
