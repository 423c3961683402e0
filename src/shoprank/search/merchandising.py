"""The ``merchandising`` search rule: applies the stored rules (:mod:`~shoprank.search.rule_store`)
that are active and match the search.

For each, in id order: its hides join ``state.hidden``; its pins take slots in list order (a
slot an earlier rule took goes to the next free one; a pin the query's filters refuse, or one
hidden, is left out); a boost adds ``by`` times the query's score spread (best minus worst
candidate) to the candidates its filter accepts, a bury subtracts it. Each product a rule
placed or shifted records it in ``state.moved_by`` (the result's ``rules`` and explanation).

:func:`previewing` applies rules that are not stored, for one search in this thread
(``POST /admin/rules:preview``).
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING

import numpy as np

from shoprank.search.merch_rule import MerchRule, ScoreShift, normalize_text
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


class Merchandising(Rule):
    name = "merchandising"

    @classmethod
    def from_settings(cls, settings: Settings) -> Merchandising:
        return cls(RULE_STORES.get_class(settings.rule_store).from_settings(settings))

    def __init__(self, store: RuleStore):
        self.store = store

    def active_rules(self, state: SearchState) -> list[tuple[str, MerchRule]]:
        """The rules this search applies, in id order."""
        stored, preview = self.store.rules(), _PREVIEW.get()
        if not stored and not preview:
            return []
        now = time.time()
        rules = {i: r for i, r in stored.items() if r.active(now)}
        if preview:
            rules.update(preview)
        texts = search_texts(state)
        category = state.query.filters.category if state.query.image is None else None  # a photo search is no page
        return [(i, rules[i]) for i in sorted(rules) if rules[i].applies(texts, category)]

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


def _spread(scores: np.ndarray) -> float:
    """The query's score spread (best minus worst candidate); 1 where there is none to measure."""
    if len(scores) < 2:
        return 1.0
    spread = float(np.max(scores) - np.min(scores))
    return spread if spread > 0 else 1.0
