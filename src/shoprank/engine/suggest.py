"""Autocomplete as served: the generation's titles and categories (catalog writes keep them
current), plus the past queries personalization collects."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from shoprank.engine.served import Served
from shoprank.personalization.online import Personalizer
from shoprank.retrieval.suggest import Suggester, Suggestion


class Autocomplete:
    def __init__(self, personalizer: Callable[[], Personalizer | None]):
        self._personalizer = personalizer  # never opens it: autocomplete waits for no event store
        self._lock = threading.Lock()
        self._built = 0.0
        self._version = -1
        self._suggested: Suggester | None = None  # the autocomplete that has those past queries

    def suggest(self, served: Served, prefix: str, k: int = 8) -> list[Suggestion]:
        """Completions of ``prefix`` from past queries, category names and titles."""
        suggester = served.suggester  # catalog writes keep it current
        p = self._personalizer()
        # New past queries arrive with events; re-sort the keys at most once a second.
        # A new generation's autocomplete gets them at once.
        if p is not None and (p.queries_version != self._version or self._suggested is not suggester):
            with self._lock:
                now = time.monotonic()
                if self._suggested is not suggester or (p.queries_version != self._version
                                                        and now - self._built > 1.0):
                    suggester.update_queries(p.past_queries())
                    self._built, self._version, self._suggested = now, p.queries_version, suggester
        catalog = served.artifacts.catalog
        # A product deleted since the autocomplete was built is never offered.
        return [s for s in suggester.suggest(prefix, k) if s.product_id is None or s.product_id in catalog]
