"""Personalization as the engine serves it: events, profiles and collaborative models,
opened on first use, and the per-search context a profile gives the ranker."""
from __future__ import annotations

import logging
from collections.abc import Callable

from shoprank import factory
from shoprank.analytics.impressions import ImpressionLog
from shoprank.config import Settings
from shoprank.lazy import Lazy
from shoprank.personalization.online import Forgotten, Personalizer
from shoprank.personalization.signals import ItemSignals, PersonalContext
from shoprank.personalization.store.base import StoreUnavailable
from shoprank.types import Query

log = logging.getLogger(__name__)


class Personalization:
    def __init__(self, settings: Settings, signals: Callable[[], ItemSignals],
                 impressions: Callable[[], ImpressionLog | None]):
        self.settings = settings
        self._signals = signals  # the served generation's (they change on reload)
        self._impressions = impressions
        self._personalizer: Lazy[Personalizer] = Lazy(self._open)

    @property
    def personalizer(self) -> Personalizer:
        return self._personalizer.get()

    def peek(self) -> Personalizer | None:
        """The personalizer if it is open (never opens it)."""
        return self._personalizer.peek()

    def attach(self, personalizer: Personalizer | None) -> Personalizer | None:
        """Serve with ``personalizer`` (e.g. a simulation's own stores); return the previous one.
        ``None`` detaches: the next use opens the configured stores again."""
        return self._personalizer.swap(personalizer)

    def follow(self, signals: ItemSignals) -> None:
        """A new generation is served: events on its new products fold in with their facets."""
        def swap(p: Personalizer) -> None:
            p.signals = signals

        # A personalizer being opened right now read the old signals: the lazy value's lock waits for it.
        self._personalizer.if_built(swap)

    def _open(self) -> Personalizer:
        s = self.settings
        events = factory.event_log(s)
        p = Personalizer(self._signals(), events, factory.profile_store(s), s.profile_half_life_s,
                         s.suggest_min_users, s.suggest_blocklist)
        if events.count():
            logged = list(events.scan())  # read once for the three start-up passes below
            caught_up = p.catch_up(logged)  # events logged but not yet in a profile (a crash, a fresh store)
            if caught_up:
                log.info("folded %d logged events into profiles", caught_up)
            p.load_queries(logged)
            if s.cf_model != "none":
                p.load_or_train(s.cf_model, factory.cf_model_store(s), logged)
        return p

    def context(self, query: Query) -> PersonalContext | None:
        """What the shopper's profile gives the ranker for ``query`` (None: unpersonalized)."""
        if not query.user_id or not query.personalize:
            return None
        p = self.personalizer
        try:
            profile = p.profile(query.user_id)
        except StoreUnavailable as e:  # the shopper still gets results, unpersonalized
            # Debug only: the store logs the outage itself, once per cooldown, not once per search.
            log.debug("searching unpersonalized: %s", e)
            return None
        return PersonalContext(profile, p.recommender) if profile is not None else None

    def forget(self, user_id: str) -> tuple[Forgotten, int]:
        """Forget a shopper everywhere: events and profiles (theirs and their sessions'), and
        the impressions of their searches. Returns what the personalizer removed and the
        number of impressions deleted."""
        p = self.personalizer
        imps = self._impressions()
        sessions = p.events.sessions_of(user_id) | (imps.sessions_of(user_id) if imps is not None else set())
        sessions.discard(user_id)
        gone = p.forget(user_id, sessions)
        return gone, imps.forget(user_id, sessions) if imps is not None else 0

    def train(self, kind: str | None = None) -> int:
        """Refit the collaborative models on the event log; return the events used."""
        s = self.settings
        return self.personalizer.train(kind or (s.cf_model if s.cf_model != "none" else "itemitem"))
