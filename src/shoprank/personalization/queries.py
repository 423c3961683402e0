"""Past queries that earned a place in autocomplete.

A query that led to an event is a good suggestion (it found something), but one shopper,
or one script, must not be able to put words in everybody's search box. A query is
suggested once ``min_users`` distinct shoppers (users or sessions) have used it, and never
when it contains a term the operator blocked.
"""
from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable

# Queries still short of ``min_users`` shoppers that are tracked at once; the least recently
# seen is forgotten first, so a flood of one-off queries cannot grow memory or evict popular ones.
MAX_PENDING = 100_000


def query_key(q: str) -> str:
    """The form queries are counted under: case-folded, whitespace collapsed."""
    return " ".join(q.casefold().split())


class PastQueries:
    """Counts queries per distinct shopper; thread-safe."""

    def __init__(self, min_users: int = 3, blocklist: Iterable[str] = (), max_pending: int = MAX_PENDING):
        self.min_users = max(1, min_users)
        self.blocklist = tuple(k for k in (query_key(t) for t in blocklist) if k)
        self.max_pending = max_pending
        self.version = 0  # bumped when the suggestible set changes (autocomplete rebuilds)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()  # key -> events, for suggestible queries
        self._spelling: dict[str, str] = {}  # key -> first spelling seen, for suggestible queries
        self._pending: OrderedDict[str, tuple[str, set[str], int]] = OrderedDict()  # key -> (spelling, owners, n)

    def blocked(self, q: str) -> bool:
        """True when ``q`` contains a blocked term (substring of the case-folded query)."""
        return self._blocked_key(query_key(q))

    def _blocked_key(self, key: str) -> bool:
        return any(term in key for term in self.blocklist)

    def add(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Count ``(query, owner)`` pairs."""
        with self._lock:
            for q, owner in pairs:
                key = query_key(q)
                if not key:
                    continue
                if key in self._counts:
                    self._counts[key] += 1
                    continue
                spelling, owners, n = self._pending.pop(key, (q.strip(), set(), 0))
                owners.add(owner)
                if len(owners) >= self.min_users:
                    self._counts[key], self._spelling[key] = n + 1, spelling
                    if not self._blocked_key(key):
                        self.version += 1
                    continue
                self._pending[key] = (spelling, owners, n + 1)  # (re)inserted last: most recent
                if len(self._pending) > self.max_pending:
                    self._pending.popitem(last=False)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._spelling.clear()
            self._pending.clear()
            self.version += 1

    def suggestible(self) -> Counter[str]:
        """``{query: times used}`` for the queries autocomplete may offer."""
        with self._lock:
            return Counter({self._spelling[k]: n for k, n in self._counts.items() if not self._blocked_key(k)})
