"""Every registered synonym store backend passes the contract, opened as the factory opens it."""
from __future__ import annotations

from shoprank import factory
from shoprank.query.synonym_store import SYNONYM_STORES, MemorySynonymStore
from stores.contract import StoreContract
from stores.synonym_store_contract import BAGS, SynonymStoreContract


class TestSQLiteSynonymStore(SynonymStoreContract):
    registry, backend = SYNONYM_STORES, "sqlite"

    def make_store(self):
        return factory.synonym_store(self.settings.model_copy(update={"synonym_store": self.backend}), self.index_root)


def test_every_shipped_backend_has_a_contract_test_here():
    tested = {c.backend for c in globals().values() if isinstance(c, type) and issubclass(c, StoreContract)
              and getattr(c, "registry", None) is SYNONYM_STORES}
    assert set(SYNONYM_STORES.names()) <= tested


def test_an_engine_without_an_index_folder_keeps_its_sets_in_memory(fake_settings):
    store = factory.synonym_store(fake_settings, None)
    assert isinstance(store, MemorySynonymStore)
    store.put("bags", BAGS)
    assert store.sets().sets == {"bags": BAGS} and store.sets().version == 1
    assert store.delete("bags") and not store.delete("bags") and store.sets().version == 2
