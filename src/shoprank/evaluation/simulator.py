"""A shopper simulator: does personalization help a shopper with hidden tastes?

Each simulated shopper has hidden preferences: a gender line (women / men), two favourite
colours and a price range. Their *true* relevance of a product for a query is

    grade = match(query, product) × (1 + [gender fits] + [colour is a favourite] + [price in range])

so 0 for off-topic products and 1..4 for on-topic ones. ``match`` is the product type the
query names (``jacket`` → the jacket categories) or, for queries that name no type, the
query word in the title or category.

Click model (a position-based model, Craswell et al. 2008; Chuklin et al. 2015): the
shopper examines rank r of the top 10 with probability ``1 / r**0.7`` and clicks an
examined result with probability ``(grade / 4) ** 1.5``; a clicked product of grade ≥ 3 is
added to the cart with probability 0.5 and bought with probability 0.3 after that. Every
click, cart and purchase is one interaction, posted to the personalizer as an event.

Protocol: before any interaction and after 1, 3 and 10 interactions, the shopper's
held-out test queries are ranked with and without personalization; nDCG@10 against the
shopper's true grades is averaged over shoppers. Interactions come from training queries
searched with the live (personalized) ranking, as on a real site.
"""
from __future__ import annotations

import logging
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shoprank.catalog.vocabulary import find_types, product_colors, product_genders, product_types
from shoprank.engine import ShopRank
from shoprank.index.analysis import stemmed_terms
from shoprank.personalization.online import Personalizer
from shoprank.personalization.store.sqlite import MemoryProfileStore, SQLiteEventLog
from shoprank.types import Event, EventType, Product, Query

log = logging.getLogger(__name__)

# Queries that name a kind of product but not whose: personalization has room to help.
DEFAULT_QUERIES: tuple[str, ...] = (
    "jacket", "hoodie", "sweatshirt", "shorts", "pants", "tee", "tank", "yoga pants", "running shorts",
    "training jacket", "zip hoodie", "gym tee", "workout pants", "rain jacket", "compression shorts",
    "fleece jacket", "crew neck tee", "yoga top", "running jacket", "sleeveless tank",
)
CHECKPOINTS: tuple[int, ...] = (0, 1, 3, 10)


@dataclass(frozen=True)
class Shopper:
    id: str
    gender: str
    colors: frozenset[str]
    price_range: tuple[float, float]
    train_queries: tuple[str, ...]
    test_queries: tuple[str, ...]


@dataclass
class SimulationReport:
    checkpoints: list[int]
    shoppers: int
    # per checkpoint: one nDCG@10 per shopper (mean over their test queries)
    personalized: dict[int, list[float]] = field(default_factory=dict)
    baseline: dict[int, list[float]] = field(default_factory=dict)
    interactions: dict[int, list[int]] = field(default_factory=dict)

    def rows(self) -> list[dict[str, float]]:
        from scipy.stats import ttest_rel

        out = []
        for n in self.checkpoints:
            p, b = np.array(self.personalized[n]), np.array(self.baseline[n])
            diff = p - b
            pval = float(ttest_rel(p, b).pvalue) if np.any(diff != 0) else 1.0
            out.append({"interactions": n, "ndcg10_baseline": float(b.mean()), "ndcg10_personalized": float(p.mean()),
                        "lift": float(diff.mean()), "lift_pct": float(100 * diff.mean() / max(b.mean(), 1e-9)),
                        "p_value": pval, "shoppers": len(p)})
        return out

    def markdown(self) -> str:
        lines = ["| interactions | nDCG@10 not personalized | nDCG@10 personalized | lift | paired t-test p |",
                 "|---|---|---|---|---|"]
        for r in self.rows():
            lines.append(f"| {r['interactions']} | {r['ndcg10_baseline']:.4f} | {r['ndcg10_personalized']:.4f} | "
                         f"{r['lift']:+.4f} ({r['lift_pct']:+.1f} %) | {r['p_value']:.2g} |")
        return "\n".join(lines)


class ShopperModel:
    """True grades and clicks of simulated shoppers over one catalog."""

    def __init__(self, products: list[Product]):
        self.products = products
        self._types = [product_types(p) for p in products]
        self._colors = [product_colors(p) for p in products]
        self._genders = [product_genders(p) for p in products]
        self._words = [set(stemmed_terms(f"{p.title} {p.category}")) for p in products]
        self._index = {p.id: i for i, p in enumerate(products)}
        self._matching: dict[str, frozenset[int]] = {}
        self._ideal: dict[tuple[str, str], list[int]] = {}

    def matching(self, query: str) -> frozenset[int]:
        """Catalog positions on topic for ``query`` (cached: the same queries recur)."""
        if query not in self._matching:
            types = find_types(query.lower(), chinese=False)
            terms = set(stemmed_terms(query))
            self._matching[query] = frozenset(
                i for i in range(len(self.products))
                if (self._types[i].intersection(types) if types else terms & self._words[i]))
        return self._matching[query]

    def grade(self, shopper: Shopper, query: str, pid: str) -> int:
        pos = self._index[pid]
        if pos not in self.matching(query):
            return 0
        p = self.products[pos]
        lo, hi = shopper.price_range
        return (1 + int(shopper.gender in self._genders[pos]) + int(bool(self._colors[pos] & shopper.colors))
                + int(p.price is not None and lo <= p.price <= hi))

    def ideal(self, shopper: Shopper, query: str) -> list[int]:
        """Best possible grades for ``query``, one per product model (results show one variant)."""
        key = (shopper.id, query)
        if key not in self._ideal:
            best: dict[str, int] = {}
            for pos in self.matching(query):
                p = self.products[pos]
                best[p.group_id] = max(best.get(p.group_id, 0), self.grade(shopper, query, p.id))
            self._ideal[key] = sorted(best.values(), reverse=True)
        return self._ideal[key]

    def ndcg10(self, shopper: Shopper, query: str, ranked: list[str]) -> float:
        """nDCG@10 with exponential gain (Järvelin & Kekäläinen 2002; Burges et al. 2005)."""
        gains = [2 ** self.grade(shopper, query, pid) - 1 for pid in ranked[:10]]
        ideal = [2 ** g - 1 for g in self.ideal(shopper, query)[:10]]
        disc = 1 / np.log2(np.arange(2, 12))
        idcg = float(np.dot(ideal, disc[: len(ideal)]))
        return float(np.dot(gains, disc[: len(gains)])) / idcg if idcg > 0 else 0.0

    def browse(self, shopper: Shopper, query: str, ranked: list[str],
               rng: random.Random) -> list[tuple[str, EventType]]:
        """Event types for one results page under the position-based click model: [(pid, type)]."""
        events: list[tuple[str, EventType]] = []
        for r, pid in enumerate(ranked[:10], 1):
            if rng.random() >= 1 / r ** 0.7:
                continue
            g = self.grade(shopper, query, pid)
            if rng.random() < (g / 4) ** 1.5:
                events.append((pid, "click"))
                if g >= 3 and rng.random() < 0.5:
                    events.append((pid, "cart"))
                    if rng.random() < 0.3:
                        events.append((pid, "purchase"))
        return events


def make_shoppers(products: list[Product], n: int, seed: int, queries: tuple[str, ...] = DEFAULT_QUERIES,
                  n_test: int = 5) -> list[Shopper]:
    rng = random.Random(seed)
    colors = sorted({c for p in products for c in product_colors(p)})
    prices = np.array([p.price for p in products if p.price is not None])
    q = np.quantile(prices, [0.0, 0.33, 0.66, 1.0])
    bands = [(float(q[i]), float(q[i + 1])) for i in range(3)]
    out = []
    for i in range(n):
        qs = list(queries)
        rng.shuffle(qs)
        out.append(Shopper(id=f"sim-{seed}-{i}", gender=rng.choice(["women", "men"]),
                           colors=frozenset(rng.sample(colors, 2)), price_range=rng.choice(bands),
                           test_queries=tuple(qs[:n_test]), train_queries=tuple(qs[n_test:])))
    return out


def simulate(engine: ShopRank, n_shoppers: int = 40, seed: int = 0, checkpoints: tuple[int, ...] = CHECKPOINTS,
             workdir: Path | None = None) -> SimulationReport:
    """Run the protocol in the module docstring; the engine's own personalizer is not touched."""
    products = engine.artifacts.catalog.products
    model = ShopperModel(products)
    shoppers = make_shoppers(products, n_shoppers, seed)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        events = SQLiteEventLog(Path(tmp) / "sim-events.sqlite")
        pers = Personalizer(engine.pipeline.extractor.signals, events, MemoryProfileStore(),
                            engine.settings.profile_half_life_s)
        saved = engine.attach_personalizer(pers)  # searches read this simulation's profiles
        try:
            return _run(engine, model, shoppers, checkpoints, pers, random.Random(seed))
        finally:
            engine.attach_personalizer(saved)
            events.close()


def _ranked(engine: ShopRank, query: str, user: str, personalize: bool) -> list[str]:
    res = engine.search(Query(text=query, k=10, user_id=user, personalize=personalize))
    return [h.product.id for h in res.hits]


def _run(engine: ShopRank, model: ShopperModel, shoppers: list[Shopper], checkpoints: tuple[int, ...],
         pers: Personalizer, rng: random.Random) -> SimulationReport:
    rep = SimulationReport(list(checkpoints), len(shoppers))
    for n in checkpoints:
        rep.personalized[n], rep.baseline[n], rep.interactions[n] = [], [], []
    baseline_cache: dict[str, list[str]] = {}
    t = 1_700_000_000.0
    for shopper in shoppers:
        done = 0
        train = list(shopper.train_queries)
        for target in sorted(checkpoints):
            # Shop with the live ranking until ``target`` interactions have happened.
            tries = 0
            while done < target and tries < 200:
                tries += 1
                query = train[rng.randrange(len(train))]
                page = _ranked(engine, query, shopper.id, True)
                for pid, etype in model.browse(shopper, query, page, rng)[: target - done]:
                    t += 30.0
                    pers.record([Event(user_id=shopper.id, product_id=pid, type=etype, query=query, ts=t)], now=t)
                    done += 1
            per, base = [], []
            for query in shopper.test_queries:
                if query not in baseline_cache:
                    baseline_cache[query] = _ranked(engine, query, shopper.id, False)
                base.append(model.ndcg10(shopper, query, baseline_cache[query]))
                per.append(model.ndcg10(shopper, query, _ranked(engine, query, shopper.id, True)))
            rep.personalized[target].append(float(np.mean(per)))
            rep.baseline[target].append(float(np.mean(base)))
            rep.interactions[target].append(done)
        log.info("shopper %s: %d interactions", shopper.id, done)
    return rep
