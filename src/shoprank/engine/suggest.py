"""Autocomplete as served: the generation's titles and categories (catalog writes keep them
current), plus the past queries personalization collects; products the merchandising rules hide
are never offered."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection

from shoprank.engine.served import Served
from shoprank.personalization.online import Personalizer
from shoprank.retrieval.suggest import Suggester, Suggestion
from shoprank.search.merchandising import hidden_ids

HIDDEN_SLACK = 20  # suggestions asked beyond k, so hidden products leave a full list


class Autocomplete:
    def __init__(self, personalizer: Callable[[], Personalizer | None]):
        self._personalizer = personalizer  # never opens it: autocomplete waits for no event store
        self._lock = threading.Lock()
        self._built = 0.0
        self._version = -1
        self._suggested: Suggester | None = None  # the autocomplete that has those past queries

    def suggest(self, served: Served, prefix: str, k: int = 8, segments: Collection[str] = ()) -> list[Suggestion]:
        """Completions of ``prefix`` from past queries, category names and titles; none of a
        product the rules hide for ``prefix`` (as a search of it) and a shopper of ``segments``."""
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
        hidden = hidden_ids(served.pipeline.rules.rules, prefix, segments)
        # A product deleted since the autocomplete was built is never offered, nor one a rule hides.
        found = suggester.suggest(prefix, k + min(len(hidden), HIDDEN_SLACK))
        return [s for s in found if s.product_id is None or (s.product_id in catalog and s.product_id not in hidden)
                ][:k]
