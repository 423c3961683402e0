"""Event log and profile store backends (Redis is imported on use: it is an extra)."""
from shoprank.personalization.store.base import EventLog, ProfileStore, StoredEvent, StoreUnavailable
from shoprank.personalization.store.sqlite import MemoryProfileStore, SQLiteEventLog, SQLiteProfileStore

__all__ = ["EventLog", "MemoryProfileStore", "ProfileStore", "SQLiteEventLog", "SQLiteProfileStore", "StoreUnavailable",
           "StoredEvent"]
