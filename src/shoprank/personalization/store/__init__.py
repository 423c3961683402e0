"""Event log and profile store backends."""
from shoprank.personalization.store.base import EventLog, ProfileStore, StoredEvent

__all__ = ["EventLog", "ProfileStore", "StoredEvent"]
