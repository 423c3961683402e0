"""The served index and what changes it: new generations (reload) and live catalog writes.

One lock serialises everything that changes the served index; searches never take it (they
read :attr:`CatalogWriter.served` once). See :mod:`shoprank.index.live` for how a write is
applied and :mod:`shoprank.index.generations` for generations.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from shoprank import factory
from shoprank.catalog import Catalog
from shoprank.config import Settings
from shoprank.encoders.base import EncoderSet
from shoprank.engine.served import Served, ServeFn
from shoprank.index.artifacts import IndexArtifacts
from shoprank.index.builder import build_index, encode_products
from shoprank.index.generations import Generation, IndexHome
from shoprank.index.live import CatalogLog, CatalogWrite, apply_writes, content_changed
from shoprank.lazy import Lazy
from shoprank.memory import release_free_memory

log = logging.getLogger(__name__)


class ReloadError(RuntimeError):
    """The index's current generation cannot replace the served one; the served one stays."""


def last_write(home: IndexHome, settings: Settings) -> int:
    """The last write logged for the index at ``home`` (0: none)."""
    if not factory.has_write_log(settings, home.root):
        return 0
    log_ = factory.write_log(settings, home.root)
    try:
        return log_.last_seq()
    finally:
        log_.close()


def build_generation(catalog: Catalog, index_dir: Path, settings: Settings, encoders: EncoderSet,
                     catalog_seq: int | None = None) -> tuple[IndexHome, Generation, IndexArtifacts]:
    """Index ``catalog`` as a new generation of ``index_dir`` (see :meth:`ShopRank.build`)."""
    cache = factory.embedding_cache(settings)
    home = factory.index_home(settings, index_dir)
    # The catalog given is the truth as of now: catalog writes logged before are not applied on top.
    seq = last_write(home, settings) if catalog_seq is None else catalog_seq
    try:
        gen, art = home.build(lambda path: build_index(
            catalog, path, encoders, cache, settings.exact_vector_limit, settings.vector_backend,
            settings.lexical_backend, seq))
    finally:
        cache.close()
        release_free_memory()  # the build's batches: a process that serves next keeps none of them
    return home, gen, art


def _encoding(manifest: dict[str, object]) -> dict[str, object]:
    """What a reloaded generation must share with the served one: the engine keeps its encoders."""
    return {"text_encoder": manifest.get("text_encoder"), "image_encoder": manifest.get("image_encoder"),
            "joint_text_image": bool(manifest.get("joint_text_image"))}  # absent from older manifests


class CatalogWriter:
    def __init__(self, settings: Settings, served: Served, home: IndexHome | None, serve: ServeFn,
                 encoders: Callable[[], EncoderSet]):
        self.settings = settings
        self.served = served
        self.home = home  # where reload() looks for new generations; None: serve the artifacts handed over
        self._serve = serve
        self._encoders = encoders
        self._log: Lazy[CatalogLog] = Lazy(self._open_log)
        self._cache = Lazy(lambda: factory.embedding_cache(settings))
        self.lock = threading.Lock()
        self.followers: list[Callable[[Served], None]] = []  # told of each new generation served

    def catch_up(self) -> None:
        """Apply the writes logged since the served generation was built (at start-up)."""
        if self._logged():
            with self.lock:
                self._apply_logged(self.served)

    def reload(self) -> bool:
        """Serve the index's current generation, if it is not the one served. Returns whether
        it changed. Raises :class:`ReloadError` (and keeps serving) when the new generation
        cannot be served by this engine."""
        if self.home is None:
            raise ReloadError("this engine serves artifacts it was handed, not an index folder")
        with self.lock:
            old = self.served
            try:
                if old.generation is not None and self.home.current() == old.generation.name:
                    return False
                gen, art = self.home.open()
            except Exception as e:  # whatever is wrong with the new generation, the served one stays
                raise ReloadError(f"cannot open the current generation of {self.home.root}: {e}") from e
            if old.generation is not None and gen.name == old.generation.name:
                return False
            served_encoding = _encoding(old.artifacts.manifest)
            changed = [k for k, v in _encoding(art.manifest).items() if v != served_encoding[k]]
            if changed:
                raise ReloadError(f"{gen.name} was encoded differently ({', '.join(changed)}); restart the server "
                                  "with settings for it")
            new = self._serve(art, gen, old.pipeline.ranker)
            self._apply_logged(new)  # catalog writes made after the generation was built
            self.served = new
            for follow in self.followers:
                follow(new)
        log.info("serving %s (was %s)", gen.name, old.generation.name if old.generation else "handed-over artifacts")
        return True

    def _logged(self) -> bool:
        return self.home is not None and factory.has_write_log(self.settings, self.home.root)

    def _open_log(self) -> CatalogLog:
        if self.home is None:
            raise RuntimeError("catalog writes need an index folder; this engine serves artifacts it was handed")
        return factory.write_log(self.settings, self.home.root)

    def write(self, writes: Sequence[CatalogWrite]) -> list[int]:
        """Log ``writes`` durably and apply them (with any other process's before them) to the
        index served. Returns their sequence numbers; when it returns they are searchable."""
        if not writes:
            return []
        log_ = self._log.get()
        self._encode_ahead(writes)  # the slow part, outside the lock: later encodes are cache hits
        with self.lock:
            seqs = log_.append(writes)
            self._apply_logged(self.served, seqs[-1])
        return seqs

    def sync(self) -> int:
        """Apply writes other processes logged; returns how many. Cheap when there are none."""
        if not self._logged():
            return 0
        if self._log.get().last_seq() <= self.served.writes.seq:
            return 0
        with self.lock:
            return self._apply_logged(self.served)

    def _encode_ahead(self, writes: Sequence[CatalogWrite]) -> None:
        catalog = self.served.artifacts.catalog
        fresh = {}
        for w in writes:
            if w.product is not None:
                cur = catalog.get(w.id)
                if cur is None or content_changed(cur, w.product):
                    fresh[w.id] = w.product
        if fresh:
            encode_products(Catalog(fresh.values()), self._encoders(), self._cache.get())

    def _apply_logged(self, served: Served, until: int | None = None) -> int:
        """Apply logged writes after ``served``'s to it. Call with the lock held."""
        batch = list(self._log.get().scan(served.writes.seq, until))
        if not batch:
            return 0
        done = apply_writes(served.artifacts, served.pipeline.extractor, [w for _, w in batch],
                            self._encoders, self._cache.get, also=(served.suggester,))
        served.writes.seq = batch[-1][0]
        log.debug("applied catalog writes up to %d: %s", served.writes.seq, done)
        return len(batch)
