"""The online personalizer: record events durably, keep profiles current, forget users.

``record`` appends to the event log first (the durable truth) and then folds each event
into its owner's profile, so the very next search of that shopper reads the new profile.
``catch_up`` folds in whatever the log holds and a profile lacks, which is how a fresh
in-memory or Redis store, or one behind a crashed process, catches up.

The log is the truth and the profile store a cache of it: when the store fails (down, locked) an
event is still acknowledged once logged, and its owner is folded later (:meth:`Personalizer.fold_pending`).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shoprank.personalization.profile import Profile
from shoprank.personalization.queries import PastQueries
from shoprank.personalization.signals import ItemSignals
from shoprank.personalization.store.base import EventLog, ProfileStore, StoredEvent, StoreUnavailable
from shoprank.types import Event

if TYPE_CHECKING:
    from shoprank.personalization.collaborative import Recommender
    from shoprank.personalization.store.models import CFModelStore

log = logging.getLogger(__name__)
# Owners whose folding waits for the profile store to come back; beyond this many, the rest are
# folded by their next event or the next start's catch-up (memory stays bounded during an outage).
MAX_PENDING = 100_000
# What one call of fold_pending may spend (it runs inside a request): the rest waits for later calls.
FOLD_BATCH = 64
FOLD_BUDGET_S = 0.005


@dataclass(frozen=True)
class Forgotten:
    """What ``forget`` removed."""

    events: int
    profiles: int


def _queries_of(events: Iterable[StoredEvent]) -> list[tuple[str, str]]:
    """``(query, owner)`` of the events that came from a search."""
    return [(se.event.query, se.event.owner) for se in events if se.event.query and se.event.query.strip()]


class Personalizer:
    """Events in, profiles out, over one catalog's :class:`ItemSignals` (``signals`` may be
    replaced while serving, when the engine moves to a new index generation)."""

    def __init__(self, signals: ItemSignals, events: EventLog, profiles: ProfileStore,
                 half_life_s: float = 3 * 24 * 3600.0, suggest_min_users: int = 3,
                 suggest_blocklist: Iterable[str] = ()):
        self.signals = signals
        self.events = events
        self.profiles = profiles
        self.half_life_s = half_life_s
        self.recommender: Recommender | None = None  # "for you" and the cf_score feature; set by train()
        self._related: Recommender | None = None
        self.queries = PastQueries(suggest_min_users, suggest_blocklist)
        self._pending: dict[str, int] = {}  # owner -> newest logged seq not yet folded (store was down)
        self._failing: set[str] = set()  # pending owners whose failure was logged (once each, no flood)
        self._folding = threading.Lock()  # one fold_pending at a time; the others skip it

    @property
    def queries_version(self) -> int:
        """Changes when the suggestible past queries change (autocomplete rebuilds)."""
        return self.queries.version

    # -- events -------------------------------------------------------------------------------
    def unknown_products(self, events: Sequence[Event]) -> list[int]:
        """Indexes of events whose product is not in the catalog."""
        catalog = self.signals.art.catalog
        return [i for i, e in enumerate(events) if e.product_id not in catalog]

    def record(self, events: Sequence[Event], now: float | None = None) -> list[StoredEvent]:
        """Store ``events`` durably, then update their owners' profiles. Returns once both are done."""
        stored = self.events.append(events, time.time() if now is None else now)
        newest: dict[str, int] = {}
        for se in stored:
            newest[se.event.owner] = max(newest.get(se.event.owner, 0), se.seq)
        self.fold_pending()
        for owner, seq in newest.items():
            self._fold_or_defer(owner, seq)
        self.queries.add(_queries_of(se for se in stored if not se.duplicate))
        return stored

    def _fold_or_defer(self, owner: str, seq: int) -> None:
        try:
            self._fold_through(owner, seq)
        except Exception as e:  # logged is acknowledged: any store failure folds later
            if owner in self._pending or len(self._pending) < MAX_PENDING:
                self._pending[owner] = max(seq, self._pending.get(owner, 0))
            self._log_failure(owner, e)

    def _log_failure(self, owner: str, e: Exception) -> None:
        if owner in self._failing:
            return
        if owner in self._pending:  # remembered only while pending: the set stays within MAX_PENDING
            self._failing.add(owner)
        log.warning("profile of %s not updated, folding later: %s: %s", owner, type(e).__name__, e)

    def _try_pending(self, owner: str, seq: int) -> None:
        """Fold one pending owner; on success it leaves ``_pending`` (unless a newer event came)."""
        self._fold_through(owner, seq)
        if self._pending.get(owner) == seq:  # threads race here harmlessly: folding is idempotent
            self._pending.pop(owner, None)
            self._failing.discard(owner)

    def fold_pending(self) -> int:
        """Fold some of the owners whose events were logged while the profile store failed
        (at most ``FOLD_BATCH`` owners or ``FOLD_BUDGET_S`` per call, later calls fold the rest);
        returns how many owners are still waiting. Never raises: it runs after events were
        acknowledged. An owner whose fold fails for another reason (e.g. a corrupt profile) is
        kept, moved to the back: the log still holds its events, and a store that recovers or
        a profile that is deleted or repaired lets a later call fold them."""
        if not self._folding.acquire(blocking=False):  # another request is folding these owners
            return len(self._pending)
        try:
            deadline = time.perf_counter() + FOLD_BUDGET_S
            for owner, seq in list(self._pending.items())[:FOLD_BATCH]:
                try:
                    self._try_pending(owner, seq)
                except StoreUnavailable:
                    break  # still down: try again with the next events
                except Exception as e:  # one broken owner must not block the others
                    self._log_failure(owner, e)
                    newest = self._pending.pop(owner, None)
                    if newest is not None:
                        self._pending[owner] = newest
                if time.perf_counter() > deadline:
                    break
        finally:
            self._folding.release()
        return len(self._pending)

    def _fold_through(self, owner: str, seq: int) -> int:
        """Fold every logged event of ``owner`` up to ``seq`` that the profile lacks, in sequence
        order, in one atomic profile update. Returns how many were folded.

        ``Profile.last_seq`` is a watermark: every event of the owner at or below it is in the
        profile. Folding reads the gap from the log instead of trusting the caller's events,
        so each event is folded exactly once whichever thread or process gets there first,
        and one whose writer died before folding it is picked up by the owner's next event."""
        signals = self.signals  # read once: positions and facets of one catalog
        folded = 0

        def fold(current: Profile | None) -> Profile:
            nonlocal folded
            p = current or Profile(owner=owner)
            folded = 0
            if p.last_seq >= seq:
                return p
            for se in self.events.scan(owner, after_seq=p.last_seq, until_seq=seq):
                if se.event.owner == owner:  # not an event of a user seen in this session
                    self._fold_one(p, se, signals)
                    folded += 1
            p.last_seq = seq
            return p

        self.profiles.update(owner, fold)
        return folded

    def _fold_one(self, p: Profile, se: StoredEvent, signals: ItemSignals) -> None:
        e = se.event
        catalog = signals.art.catalog
        pos = catalog.position(e.product_id) if e.product_id in catalog else None
        facets = signals.facets(pos) if pos is not None else []
        vectors = signals.vectors(pos) if pos is not None else {}
        p.add(se.ts, self.half_life_s, e.type, e.product_id, facets, vectors, se.seq)

    def profile(self, owner: str) -> Profile | None:
        """``owner``'s profile; one whose fold was deferred is folded first when the store allows
        (else the stale profile is served)."""
        seq = self._pending.get(owner)
        if seq is not None:
            try:
                self._try_pending(owner, seq)
            except Exception as e:  # a stale profile beats none
                self._log_failure(owner, e)
        return self.profiles.get(owner)

    def catch_up(self, logged: Iterable[StoredEvent] | None = None) -> int:
        """Fold in logged events that no profile has yet, e.g. when a process died between
        writing an event and updating its profile, or the profile store is new. Returns the
        events folded. ``logged`` saves a scan when the caller already read the log."""
        newest: dict[str, int] = {}
        for se in self.events.scan() if logged is None else logged:
            newest[se.event.owner] = se.seq  # the log is in sequence order
        n = 0
        for owner, seq in newest.items():
            try:
                p = self.profiles.get(owner)
                if p is None or p.last_seq < seq:
                    n += self._fold_through(owner, seq)
            except StoreUnavailable as e:  # serve anyway; these owners fold when the store is back
                log.warning("profile store unavailable during catch-up: %s", e)
                self._pending.update(list(newest.items())[:MAX_PENDING])
                break
            except Exception as e:  # one unreadable profile (corrupt bytes) must not stop a start
                if len(self._pending) < MAX_PENDING:
                    self._pending[owner] = seq
                self._log_failure(owner, e)
        return n

    def forget(self, user_id: str, sessions: Iterable[str] = ()) -> Forgotten:
        """Remove a user's events and profile, and those of the sessions they used (seen with
        them in the event log, or given: e.g. from their searches). A session's events that
        name another user, and a session id that is also someone's user id, are left alone:
        session ids are chosen by clients."""
        sessions = (set(sessions) | self.events.sessions_of(user_id)) - {user_id}
        # A deferred fold would recreate their profiles (a session that is also a user id stays).
        for owner in [user_id, *(s for s in sessions if not self.events.has_user(s))]:
            self._pending.pop(owner, None)
            self._failing.discard(owner)
        n_events = self.events.delete_user(user_id, sessions)
        n_profiles = int(self.profiles.delete(user_id))
        n_profiles += sum(1 for s in sessions if not self.events.has_user(s) and self.profiles.delete(s))
        if self.recommender is not None:
            log.info("forgot %s; the collaborative model keeps its aggregate until it is retrained", user_id)
        return Forgotten(n_events, n_profiles)

    # -- past queries, for autocomplete --------------------------------------------------------
    def load_queries(self, logged: Iterable[StoredEvent] | None = None) -> None:
        """Count the queries that led to events (good suggestions: they found something)."""
        self.queries.reset()
        self.queries.add(_queries_of(self.events.scan() if logged is None else logged))

    def past_queries(self) -> Counter[str]:
        """``{query: times used}`` of the past queries autocomplete may offer."""
        return self.queries.suggestible()

    # -- collaborative filtering --------------------------------------------------------------
    def train(self, kind: str = "itemitem", logged: Sequence[StoredEvent] | None = None) -> int:
        """Fit "for you" (``kind``: a collaborative model's name, e.g. itemitem | als) and
        "bought together" models on the log (or on ``logged``, when the caller already read it)."""
        from shoprank.personalization.backends import COLLABORATIVE_MODELS

        model = COLLABORATIVE_MODELS.create(kind)  # an unknown name fails here, listing the choices
        events = list(self.events.scan()) if logged is None else logged
        self.recommender = self._fit(model, events)
        self._related = self._fit(COLLABORATIVE_MODELS.create("itemitem", event_types={"cart", "purchase"}), events)
        return len(events)

    def load_or_train(self, kind: str, store: CFModelStore, logged: Sequence[StoredEvent] | None = None) -> bool:
        """Serve the models :meth:`train` fits, loading them from ``store`` when another process
        already fitted them on exactly these events; else fit them and save them there. Returns
        whether they were loaded.

        A saved fit is current when its :class:`LogMark` equals the log's now: the same log, the
        same last sequence number and the same count. Fits are deterministic, so a loaded model
        is the one fitting would give, and a process opening while events arrive fits its own
        (as every process did before) and shares it with the next. Checking and fitting happen
        under the store's lock for ``kind``: processes that open together fit once."""
        from shoprank.personalization.store.models import CollaborativeFit, LogMark

        events = list(self.events.scan()) if logged is None else logged
        mark = LogMark(self.events.log_id(), events[-1].seq if events else 0, len(events))
        with store.lock(kind):
            saved = store.load(kind)
            if saved is not None and saved.mark == mark:
                self.recommender, self._related = saved.recommender, saved.related
                log.info("loaded the %s models fitted at event %d", kind, mark.last_seq)
                return True
            self.train(kind, events)
            try:
                store.save(CollaborativeFit(kind, mark, self.recommender, self._related))
            except OSError as e:  # the models serve here anyway; other processes fit their own
                log.warning("collaborative models not saved for other processes: %s", e)
        return False

    @staticmethod
    def _fit(model: Recommender, events: Sequence[StoredEvent]) -> Recommender | None:
        try:
            return model.fit(events)
        except ValueError as e:  # e.g. no carts or purchases logged yet
            log.info("%s not trained: %s", type(model).__name__, e)
            return None

    def for_you(self, owner: str, k: int = 10) -> list[tuple[str, float]]:
        """Items for ``owner`` from their recent history; empty for a cold-start shopper."""
        p = self.profile(owner)
        if self.recommender is None or p is None or not p.recent:
            return []
        return self.recommender.recommend(p.history(), k, exclude={pid for pid, _, _ in p.recent})

    def bought_together(self, product_id: str, k: int = 10) -> list[tuple[str, float]]:
        if self._related is None or not self._related.known(product_id):
            return []
        return self._related.related(product_id, k)
