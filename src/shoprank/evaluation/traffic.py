"""Simulated shoppers using a running shop over its HTTP API, as real ones would.

Each session is one shopper of :class:`~shoprank.evaluation.simulator.ShopperModel` (hidden
gender, colours and price range) searching a few times; every results page is browsed
with the position-based click model and the clicks, carts and purchases are posted as
events naming the page's ``search_id`` and ``position``. So impressions, events,
personalization, experiments, analytics and click models are all exercised end to end,
and the shoppers' hidden grades are the truth they are measured against.
"""
from __future__ import annotations

import logging
import random
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from shoprank.evaluation.simulator import DEFAULT_QUERIES, Shopper, ShopperModel

log = logging.getLogger(__name__)

# The personalization simulator's queries plus more product kinds of the Luma catalog.
TRAFFIC_QUERIES: tuple[str, ...] = DEFAULT_QUERIES + (
    "sports bra", "bra", "gym bag", "backpack", "fitness watch", "capri", "pullover", "short sleeve tee",
    "duffle bag", "insulated jacket",
)


class HttpShop:
    """The shop's HTTP API, through any ``httpx.Client``-like object with a base URL
    (a real server, or FastAPI's in-process ``TestClient``)."""

    def __init__(self, client: Any, api_key: str | None = None, k: int = 10):
        self.client = client
        self.headers = {"X-API-Key": api_key} if api_key else {}
        self.k = k

    def search(self, query: str, user_id: str) -> tuple[str, list[str]]:
        r = self.client.post("/search", json={"q": query, "k": self.k, "user_id": user_id}, headers=self.headers)
        r.raise_for_status()
        body = r.json()
        return body["search_id"], [x["id"] for x in body["results"]]

    def send(self, events: Sequence[dict[str, Any]]) -> None:
        if not events:
            return
        r = self.client.post("/events", json={"events": list(events)}, headers=self.headers)
        r.raise_for_status()
        rejected = r.json().get("rejected")
        if rejected:
            raise RuntimeError(f"the shop rejected simulated events: {rejected}")


@dataclass
class Traffic:
    """What the simulated shoppers did."""

    sessions: list[str] = field(default_factory=list)  # user ids, in the order they shopped
    searches: int = 0
    events: int = 0
    seconds: float = 0.0
    # (query, product) -> hidden grades of the shoppers who were shown it, for judging click models
    shown_grades: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))


def sessions(shoppers: Iterable[Shopper], prefix: str) -> list[Shopper]:
    """The same shoppers under other ids (a second run of the same traffic starts from blank profiles)."""
    return [replace(s, id=f"{prefix}{s.id}") for s in shoppers]


def drive(shop: HttpShop, model: ShopperModel, shoppers: Sequence[Shopper], searches_per_session: int,
          seed: int, queries: Sequence[str] | None = None) -> Traffic:
    """Each shopper searches ``searches_per_session`` times (their own queries, or ``queries``)
    and acts on each page; the random choices depend on ``seed`` and the pages shown only."""
    rng = random.Random(seed)
    out = Traffic()
    t0 = time.perf_counter()
    for shopper in shoppers:
        pool = list(queries) if queries is not None else list(shopper.train_queries + shopper.test_queries)
        for _ in range(searches_per_session):
            query = pool[rng.randrange(len(pool))]
            search_id, shown = shop.search(query, shopper.id)
            out.searches += 1
            for pid in shown:
                out.shown_grades[(query, pid)].append(model.grade(shopper, query, pid))
            events = [{"user_id": shopper.id, "product_id": pid, "type": etype, "query": query,
                       "search_id": search_id, "position": shown.index(pid) + 1}
                      for pid, etype in model.browse(shopper, query, shown, rng)]
            shop.send(events)
            out.events += len(events)
        out.sessions.append(shopper.id)
    out.seconds = time.perf_counter() - t0
    log.info("%d sessions, %d searches, %d events in %.1f s", len(out.sessions), out.searches, out.events,
             out.seconds)
    return out
