"""The embedding cache: re-indexing an unchanged catalog re-encodes nothing.

Keys are content hashes (text, or image bytes) scoped by a namespace naming the encoder, so a
changed product re-encodes only what changed, and a different model never reads stale vectors.

:class:`EmbeddingCache` is the interface; :class:`SQLiteEmbeddingCache`
(``<home>/cache/embeddings.sqlite``) is registered as ``sqlite`` in :data:`EMBEDDING_CACHES` and
chosen by ``Settings.embedding_cache_store`` (``factory.embedding_cache``). What another backend
(Redis, Postgres, a blob store) must guarantee:

- **Exact values.** ``get_many`` gives back a stored vector bit for bit (float32) and its JSON
  payload as stored; a key is found only in the namespace it was put in.
- **Idempotent puts.** A key names content, so putting it again (another process encoding the same
  title at the same time) stores the same vector: the last put wins and no error is raised.
- **Durability is optional.** It is a cache: a lost entry is encoded again. A shared backend lets
  one process's encodings serve another's (a build then a server's live writes).
- **Threads** share one object; ``written`` counts the items this object stored (what was
  encoded rather than found: builds report it).
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from shoprank.registry import Registry

if TYPE_CHECKING:
    from shoprank.config import Settings


def content_key(*parts: str | bytes) -> str:
    h = hashlib.sha1()
    for p in parts:
        h.update(p.encode("utf-8") if isinstance(p, str) else p)
        h.update(b"\x00")
    return h.hexdigest()


class EmbeddingCache(ABC):
    """``(namespace, key) -> (float32 vector, JSON payload or None)`` (see the module for the guarantees)."""

    written: int = 0  # items this object stored

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings) -> EmbeddingCache:
        """The cache as ``settings`` configure it."""

    @abstractmethod
    def get_many(self, ns: str, keys: Sequence[str]) -> dict[str, tuple[np.ndarray, Any]]:
        """``{key: (vector, payload)}`` of the ``keys`` stored in ``ns``; missing keys are left out."""

    @abstractmethod
    def put_many(self, ns: str, items: Sequence[tuple[str, np.ndarray, Any]]) -> None:
        """Store ``(key, vector, payload)`` items in ``ns``, replacing any stored under those keys."""

    def close(self) -> None:  # noqa: B027 - optional hook: a backend may hold nothing to release
        pass


class SQLiteEmbeddingCache(EmbeddingCache):
    """SQLite table of (namespace, key) -> float32 vector and optional JSON payload."""

    @classmethod
    def from_settings(cls, settings: Settings) -> SQLiteEmbeddingCache:
        return cls(settings.cache_dir / "embeddings.sqlite")

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS emb (ns TEXT, key TEXT, vec BLOB, meta TEXT, PRIMARY KEY (ns, key))")
        self._lock = threading.Lock()
        self.written = 0  # items stored by this process: what was encoded rather than found

    def get_many(self, ns: str, keys: Sequence[str]) -> dict[str, tuple[np.ndarray, Any]]:
        out: dict[str, tuple[np.ndarray, Any]] = {}
        uniq = list(dict.fromkeys(keys))
        with self._lock:
            for i in range(0, len(uniq), 500):
                chunk = uniq[i:i + 500]
                q = f"SELECT key, vec, meta FROM emb WHERE ns=? AND key IN ({','.join('?' * len(chunk))})"
                for key, blob, meta in self._db.execute(q, [ns, *chunk]):
                    out[key] = (np.frombuffer(blob, dtype=np.float32), json.loads(meta) if meta else None)
        return out

    def put_many(self, ns: str, items: Sequence[tuple[str, np.ndarray, Any]]) -> None:
        with self._lock, self._db:
            self.written += len(items)
            self._db.executemany(
                "INSERT OR REPLACE INTO emb VALUES (?, ?, ?, ?)",
                [(ns, k, np.asarray(v, np.float32).tobytes(), json.dumps(m) if m is not None else None)
                 for k, v, m in items])

    def close(self) -> None:
        self._db.close()


EMBEDDING_CACHES: Registry[EmbeddingCache] = Registry("embedding cache")
EMBEDDING_CACHES.register("sqlite", SQLiteEmbeddingCache)


def cached_encode(
    cache: EmbeddingCache | None,
    ns: str,
    keys: Sequence[str],
    compute: Callable[[list[int]], tuple[np.ndarray, list[Any] | None]],
    dim: int,
    batch_size: int = 32,
    desc: str | None = None,
) -> tuple[np.ndarray, list[Any]]:
    """Vectors (and metadata) for ``keys``, computing only cache misses, in batches with a progress bar.

    ``compute(indices)`` encodes the items at those positions and returns ``(vectors, metas)``.
    """
    n = len(keys)
    vecs = np.zeros((n, dim), np.float32)
    metas: list[Any] = [None] * n
    hits = cache.get_many(ns, keys) if cache else {}
    todo: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        if k in hits:
            vecs[i], metas[i] = hits[k]
        else:
            todo.setdefault(k, []).append(i)
    first = [idx[0] for idx in todo.values()]  # identical content is encoded once
    with tqdm(total=len(first), desc=desc, disable=desc is None or not first, unit="item") as bar:
        for s in range(0, len(first), batch_size):
            batch = first[s:s + batch_size]
            v, m = compute(batch)
            m = m if m is not None else [None] * len(batch)
            rows = []
            for j, i in enumerate(batch):
                for t in todo[keys[i]]:
                    vecs[t], metas[t] = v[j], m[j]
                rows.append((keys[i], v[j], m[j]))
            if cache:
                cache.put_many(ns, rows)
            bar.update(len(batch))
    return vecs, metas
