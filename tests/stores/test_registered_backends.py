"""Every registered store backend passes its interface's contract suite, opened as the factory opens it."""
from __future__ import annotations

import pytest

from shoprank import factory
from shoprank.analytics.experiment_store import EXPERIMENT_STORES
from shoprank.analytics.impressions import IMPRESSION_LOGS
from shoprank.encoders.cache import EMBEDDING_CACHES
from shoprank.index.generations import GENERATION_POINTERS
from shoprank.index.writelog import WRITE_LOGS
from shoprank.personalization.backends import CF_MODEL_STORES, EVENT_LOGS
from shoprank.registry import Registry
from stores.cf_model_store_contract import CFModelStoreContract
from stores.contract import StoreContract
from stores.embedding_cache_contract import EmbeddingCacheContract
from stores.event_log_contract import EventLogContract
from stores.experiment_store_contract import ExperimentStoreContract
from stores.generation_pointer_contract import GenerationPointerContract
from stores.impression_log_contract import ImpressionLogContract
from stores.write_log_contract import WriteLogContract


class TestSQLiteEventLog(EventLogContract):
    registry, backend = EVENT_LOGS, "sqlite"

    def make_store(self):
        return factory.event_log(self.settings.model_copy(update={"event_store": self.backend}))


class TestSQLiteWriteLog(WriteLogContract):
    registry, backend = WRITE_LOGS, "sqlite"

    def make_store(self):
        return factory.write_log(self.settings.model_copy(update={"write_log_store": self.backend}), self.index_root)


class TestSQLiteImpressionLog(ImpressionLogContract):
    registry, backend = IMPRESSION_LOGS, "sqlite"

    def make_store(self):
        return factory.impression_log(self.settings.model_copy(update={"impression_store": self.backend}))


class TestSQLiteEmbeddingCache(EmbeddingCacheContract):
    registry, backend = EMBEDDING_CACHES, "sqlite"

    def make_store(self):
        return factory.embedding_cache(self.settings.model_copy(update={"embedding_cache_store": self.backend}))


class TestFileExperimentStore(ExperimentStoreContract):
    registry, backend = EXPERIMENT_STORES, "file"

    def make_store(self):
        return factory.experiment_store(self.settings.model_copy(update={"experiment_store": self.backend}))


class TestFileGenerationPointer(GenerationPointerContract):
    registry, backend = GENERATION_POINTERS, "file"

    def make_store(self):
        settings = self.settings.model_copy(update={"generation_store": self.backend})
        return factory.index_home(settings, self.index_root).pointer


class TestFileCFModelStore(CFModelStoreContract):
    registry, backend = CF_MODEL_STORES, "file"

    def make_store(self):
        return factory.cf_model_store(self.settings.model_copy(update={"cf_model_store": self.backend}))


STORE_REGISTRIES: list[Registry] = [EVENT_LOGS, WRITE_LOGS, IMPRESSION_LOGS, EMBEDDING_CACHES, EXPERIMENT_STORES,
                                    GENERATION_POINTERS, CF_MODEL_STORES]


@pytest.mark.parametrize("registry", STORE_REGISTRIES, ids=lambda r: r.role)
def test_every_shipped_backend_has_a_contract_test_here(registry):
    tested = {c.backend for c in globals().values()
              if isinstance(c, type) and issubclass(c, StoreContract) and getattr(c, "registry", None) is registry}
    shipped = {n for n in registry.names() if registry.get(n).__module__.startswith("shoprank.")}  # not tests' fakes
    assert shipped <= tested, f"{registry.role} backends without a contract test: {sorted(shipped - tested)}"
