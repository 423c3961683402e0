"""Every registered rule store backend passes the rule store contract, opened as the factory opens it."""
from __future__ import annotations

import sqlite3

from shoprank import factory
from shoprank.search.merch_rule import MerchRule
from shoprank.search.rule_store import RULE_STORES
from stores.contract import StoreContract
from stores.rule_store_contract import CrossProcessRuleStoreContract


class TestSQLiteRuleStore(CrossProcessRuleStoreContract):
    registry, backend = RULE_STORES, "sqlite"

    def make_store(self):
        return factory.rule_store(self.settings.model_copy(update={"rule_store": self.backend}))

    def test_a_rule_that_no_longer_parses_is_skipped_and_the_others_apply(self, caplog):
        store = self.open()
        store.put_many({"good": MerchRule(query="tent", hide=["p1"]), "bad": MerchRule(query="x", pin=["p2"])})
        with sqlite3.connect(self.settings.rules_path) as conn:  # edited by hand
            conn.execute("UPDATE rules SET body = '{\"query\": 1}' WHERE id = 'bad'")
            conn.execute("UPDATE meta SET value = value + 1")
        assert list(self.open().rules()) == ["good"]
        assert "rule 'bad' is not valid" in caplog.text


def test_every_shipped_rule_store_has_a_contract_test_here():
    tested = {c.backend for c in globals().values()
              if isinstance(c, type) and issubclass(c, StoreContract) and getattr(c, "registry", None) is RULE_STORES}
    assert set(RULE_STORES.names()) <= tested
