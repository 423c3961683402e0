"""Redis profile store: one profile store shared by every API process.

Profiles are ``Profile.to_bytes()`` under ``prefix + owner``. Updates are optimistic
transactions (WATCH / GET / MULTI / SET / EXEC), so concurrent updates of one owner from
any number of processes never lose each other's events.

Redis down or frozen must not take search down with it: every command has a socket timeout
and no retries, and after a failure the store answers :class:`StoreUnavailable` at once for
``cooldown_s`` (a circuit breaker) instead of making each search wait out the timeout again.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from shoprank.personalization.profile import Profile
from shoprank.personalization.store.base import ProfileStore, StoreUnavailable

if TYPE_CHECKING:
    from shoprank.config import Settings

log = logging.getLogger(__name__)

MAX_RETRIES = 50
# A profile read is well under a millisecond on a healthy Redis; a search waits at most this
# long for one before it goes on unpersonalized.
TIMEOUT_S = 0.25
COOLDOWN_S = 2.0


class RedisProfileStore(ProfileStore):
    """Profiles in Redis, coherent across threads and processes.

    ``update`` may call ``fn`` more than once (each time another writer changed the
    profile between our read and our write), so ``fn`` must be free of side effects.
    With ``ttl_s`` a profile expires that long after its last update. Redis is not
    assumed durable: profiles can be rebuilt from the event log. Every method raises
    :class:`StoreUnavailable` when Redis does not answer within ``timeout_s``.
    """

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisProfileStore:
        return cls(settings.redis_url)

    def __init__(self, url: str, prefix: str = "shoprank:profile:", ttl_s: int | None = None,
                 timeout_s: float = TIMEOUT_S, cooldown_s: float = COOLDOWN_S):
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError as err:  # the client is an optional dependency
            raise ImportError("RedisProfileStore needs the redis client: pip install 'shoprank[redis]'") from err
        self._watch_error: type[Exception] = redis.WatchError
        self._redis_error: type[Exception] = redis.RedisError
        # from_url builds a connection pool: threads share it, each command borrows a connection.
        # No retries: the client's default (3, with backoff) multiplied the wait on a dead server.
        self._r: Any = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                            retry=Retry(NoBackoff(), 0))
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.cooldown_s = cooldown_s
        self._down_until = 0.0
        self._probe = threading.Lock()  # after the cool-down, one request tries Redis; the others skip it

    def _key(self, owner: str) -> str:
        return self.prefix + owner

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Run a command unless Redis failed within ``cooldown_s``; its errors become StoreUnavailable."""
        probing = False
        if self._down_until:
            if time.monotonic() < self._down_until or not self._probe.acquire(blocking=False):
                raise StoreUnavailable(f"the Redis profile store is unavailable (it failed less than "
                                       f"{self.cooldown_s:g} s ago)")
            probing = True
        try:
            yield
        except self._watch_error:
            raise
        except self._redis_error as e:
            self._down_until = time.monotonic() + self.cooldown_s
            log.warning("Redis profile store unavailable for %g s: %s", self.cooldown_s, e)
            raise StoreUnavailable(f"the Redis profile store is unavailable: {type(e).__name__}") from e
        else:
            if probing:
                log.info("Redis profile store is back")
            self._down_until = 0.0
        finally:
            if probing:
                self._probe.release()

    def get(self, owner: str) -> Profile | None:
        with self._guard():
            raw = self._r.get(self._key(owner))
        return Profile.from_bytes(raw) if raw is not None else None

    def update(self, owner: str, fn: Callable[[Profile | None], Profile]) -> Profile:
        key = self._key(owner)
        with self._guard(), self._r.pipeline() as pipe:
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
        with self._guard():
            return int(self._r.delete(self._key(owner))) > 0

    def close(self) -> None:
        self._r.close()
