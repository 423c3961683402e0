"""The ``merchandising`` search rule: applies the stored rules (:mod:`~shoprank.search.rule_store`)
that are active and match the search (found through a :class:`~shoprank.search.rule_index.RuleIndex`,
so a thousand rules cost a search the few that can match).

A search's segments are those it carries (``Query.segments``) and two derived from the profile
the ranking already read, at no extra lookup: ``returning`` (a profile with events) and ``new``
(a shopper id whose profile has none, or no profile). A search with ``personalize`` off, or
answered unpersonalized because the profile store is down, reads no profile: it is ``new``
only in the second case, and neither in the first.

For each, in id order: its hides join ``state.hidden``; its pins take slots in list order (a
slot an earlier rule took goes to the next free one; a pin the query's filters refuse, or one
hidden, is left out); a boost adds ``by`` times the query's score spread (best minus worst
candidate) to the candidates its filter accepts, a bury subtracts it. Each product a rule
placed or shifted records it in ``state.moved_by`` (the result's ``rules`` and explanation).

:func:`previewing` applies rules that are not stored, for one search in this thread
(``POST /admin/rules:preview``). :func:`hidden_ids` gives the products the rules hide outside
a search (autocomplete, similar items), where pins, boosts and buries have nothing to order.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING

import numpy as np

from shoprank.search.merch_rule import MerchRule, ScoreShift, normalize_text
from shoprank.search.rule_index import RuleIndex
from shoprank.search.rule_store import RULE_STORES, RuleStore
from shoprank.search.rules import Rule

if TYPE_CHECKING:
    from shoprank.catalog import Catalog
    from shoprank.config import Settings
    from shoprank.search.state import SearchState

# Rules a preview adds (or replaces, by id) for the searches of this context; None: none.
_PREVIEW: ContextVar[Mapping[str, MerchRule] | None] = ContextVar("merchandising_preview", default=None)


@contextlib.contextmanager
def previewing(rules: Mapping[str, MerchRule]) -> Iterator[None]:
    """Searches in this block apply ``rules`` beside the stored ones (replacing those of the same
    id), whatever their time window says."""
    token = _PREVIEW.set(rules)
    try:
        yield
    finally:
        _PREVIEW.reset(token)


def search_texts(state: SearchState) -> list[str]:
    """The query's readings a rule's query is compared with: as typed and as searched."""
    texts = [state.plan.original, state.plan.text, state.query.text]
    return list(dict.fromkeys(n for t in texts if t and (n := normalize_text(t))))


def search_segments(state: SearchState) -> list[str]:
    """The segments a search carries, and ``new`` or ``returning`` from the profile it read."""
    query, personal = state.query, state.personal
    derived: list[str] = []
    if personal is not None and personal.profile.n_events > 0:
        derived.append("returning")
    elif query.user_id and query.personalize:
        derived.append("new")
    return [*query.segments, *derived]


class Merchandising(Rule):
    name = "merchandising"

    @classmethod
    def from_settings(cls, settings: Settings) -> Merchandising:
        return cls(RULE_STORES.get_class(settings.rule_store).from_settings(settings))

    def __init__(self, store: RuleStore):
        self.store = store
        self._indexed: tuple[Mapping[str, MerchRule], RuleIndex] | None = None

    def _index(self, stored: Mapping[str, MerchRule]) -> RuleIndex:
        # The store hands back the same mapping until the rules change: index each version once.
        indexed = self._indexed
        if indexed is None or indexed[0] is not stored:
            indexed = self._indexed = (stored, RuleIndex(stored))
        return indexed[1]

    def matching(self, texts: list[str], category: str | None, segments: Collection[str]
                 ) -> list[tuple[str, MerchRule]]:
        """The rules that apply to a search of ``texts`` (normalized; none for a browse) on
        ``category``'s page by a shopper of ``segments``, in id order."""
        stored, preview = self.store.rules(), _PREVIEW.get()
        if not stored and not preview:
            return []
        now = time.time()
        ids = self._index(stored).candidates(texts, category) if stored else set()
        rules = {i: stored[i] for i in ids if stored[i].active(now) and not (preview and i in preview)}
        if preview:
            rules.update(preview)
        return [(i, rules[i]) for i in sorted(rules) if rules[i].applies(texts, category, segments)]

    def active_rules(self, state: SearchState) -> list[tuple[str, MerchRule]]:
        """The rules this search applies, in id order."""
        category = state.query.filters.category if state.query.image is None else None  # a photo search is no page
        return self.matching(search_texts(state), category, search_segments(state))

    def hidden(self, text: str | None, segments: Collection[str]) -> set[str]:
        """Product ids hidden outside a search: by the site-wide and segment rules, and by the
        query rules ``text`` (typed into autocomplete) matches as a search would."""
        texts = [n] if text and (n := normalize_text(text)) else []
        return {pid for _, rule in self.matching(texts, None, segments) for pid in rule.hide}

    def apply(self, state: SearchState) -> None:
        rules = self.active_rules(state)
        if not rules or state.batch.artifacts is None:
            return
        catalog = state.batch.artifacts.catalog
        for rule_id, rule in rules:
            self._hide(state, catalog, rule_id, rule)
        spread = _spread(state.scores)
        for rule_id, rule in rules:
            self._pin(state, catalog, rule_id, rule)
            for shift, sign in ((rule.boost, 1.0), (rule.bury, -1.0)):
                if shift is not None:
                    self._shift(state, catalog, rule_id, shift, sign * shift.by * spread)

    @staticmethod
    def _hide(state: SearchState, catalog: Catalog, rule_id: str, rule: MerchRule) -> None:
        for pid in rule.hide:
            if pid in catalog:
                state.hidden.add(catalog.position(pid))

    @staticmethod
    def _pin(state: SearchState, catalog: Catalog, rule_id: str, rule: MerchRule) -> None:
        taken = set(state.pins.values())
        slot = 0
        for pid in rule.pin:
            if pid not in catalog:
                continue
            pos = catalog.position(pid)
            if pos in state.pins or pos in state.hidden or not catalog.is_live(pos):
                continue
            if not state.query.filters.empty and not state.query.filters.accepts(catalog.products[pos]):
                continue
            while slot in taken:
                slot += 1
            state.pins[pos] = slot
            taken.add(slot)
            state.moved_by.setdefault(pos, {})[rule_id] = 0.0

    @staticmethod
    def _shift(state: SearchState, catalog: Catalog, rule_id: str, shift: ScoreShift, delta: float) -> None:
        if not len(state.scores):
            return
        products = catalog.products
        rows = [i for i, pos in enumerate(state.batch.positions) if shift.filter.accepts(products[int(pos)])]
        if not rows:
            return
        scores = np.asarray(state.scores, np.float64).copy()
        scores[rows] += delta
        state.scores = scores
        for i in rows:
            moved = state.moved_by.setdefault(int(state.batch.positions[i]), {})
            moved[rule_id] = moved.get(rule_id, 0.0) + delta


def hidden_ids(rules: Iterable[Rule], text: str | None = None, segments: Collection[str] = ()) -> set[str]:
    """Product ids the merchandising rules among ``rules`` hide outside a search (see
    :meth:`Merchandising.hidden`)."""
    return {pid for rule in rules if isinstance(rule, Merchandising) for pid in rule.hidden(text, segments)}


def _spread(scores: np.ndarray) -> float:
    """The query's score spread (best minus worst candidate); 1 where there is none to measure."""
    if len(scores) < 2:
        return 1.0
    spread = float(np.max(scores) - np.min(scores))
    return spread if spread > 0 else 1.0
