"""Search analytics from impressions joined to the events that name them.

A *page view* is one impression with what happened on it: the positions clicked, carts and
purchases of events that carry its ``search_id``. Metrics over page views:

- ``ctr@k``: share of searches with a click in the top k positions;
- ``mrr``: mean over searches of 1 / (position of the first click), 0 without a click;
- ``cart_rate`` / ``conversion``: share of searches followed by a cart / a purchase of a shown product;
- ``zero_results``: share of searches that showed nothing;
- latency percentiles of the server's search time (encoding included).

Experiments: an ``ab`` experiment is read out per shopper (the unit of randomisation: user,
else session, else the single search): each unit's mean of a metric, Welch's t-test between
arms. An ``interleave`` experiment credits each page's clicks to the team that placed them
(:func:`shoprank.analytics.interleave.credit`) and tests wins against losses (sign test).
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats as sps

from shoprank.analytics.clickmodel import Page
from shoprank.analytics.experiments import Experiment
from shoprank.analytics.impressions import Impression, ImpressionLog
from shoprank.analytics.interleave import InterleavingResult, credit, tally
from shoprank.analytics.stats import Readout, bootstrap_mean_ci, sign_test, welch_test
from shoprank.personalization.store.base import EventLog, StoredEvent

CTR_AT = (1, 3, 10)
AB_METRICS = ("mrr", "ctr@10", "conversion")


@dataclass(frozen=True)
class PageView:
    imp: Impression
    clicks: frozenset[int] = frozenset()  # 1-based positions clicked
    carts: int = 0
    purchases: int = 0

    @property
    def unit(self) -> str:
        """Whose behaviour this is, for per-shopper statistics."""
        return self.imp.user_id or self.imp.session_id or self.imp.search_id

    def ctr_at(self, k: int) -> float:
        return float(any(p <= k for p in self.clicks))

    @property
    def reciprocal_rank(self) -> float:
        return 1.0 / min(self.clicks) if self.clicks else 0.0

    def value(self, metric: str) -> float:
        if metric.startswith("ctr@"):
            return self.ctr_at(int(metric[4:]))
        if metric == "mrr":
            return self.reciprocal_rank
        if metric == "conversion":
            return float(self.purchases > 0)
        if metric == "cart_rate":
            return float(self.carts > 0)
        raise KeyError(metric)

    def page(self) -> Page:
        """The page as a click model reads it."""
        return Page(query=self.imp.query or "", shown=self.imp.products, clicked=self.clicks)


def join(impressions: Iterable[Impression], events: Iterable[StoredEvent]) -> list[PageView]:
    """Page views: each impression with the events that name its ``search_id``."""
    by_search: dict[str, list[StoredEvent]] = defaultdict(list)
    for se in events:
        if se.event.search_id is not None:
            by_search[se.event.search_id].append(se)
    views = []
    for imp in impressions:
        clicks: set[int] = set()
        carts = purchases = 0
        for se in by_search.get(imp.search_id, ()):
            e = se.event
            pos = e.position
            if pos is None and e.product_id in imp.products:
                pos = imp.products.index(e.product_id) + 1
            if pos is None:
                continue  # a product that was not on this page: not a result of this search
            if e.type == "click":
                clicks.add(pos)
            elif e.type == "cart":
                carts += 1
            elif e.type == "purchase":
                purchases += 1
        views.append(PageView(imp, frozenset(clicks), carts, purchases))
    return views


def metrics(views: Sequence[PageView]) -> dict[str, float]:
    if not views:
        return {"searches": 0}
    n = len(views)
    lat = np.array([v.imp.latency_ms for v in views])
    out: dict[str, float] = {"searches": n, "zero_results": sum(not v.imp.products for v in views) / n}
    for k in CTR_AT:
        out[f"ctr@{k}"] = sum(v.ctr_at(k) for v in views) / n
    out["clicks_per_search"] = sum(len(v.clicks) for v in views) / n
    out["mrr"] = sum(v.reciprocal_rank for v in views) / n
    out["cart_rate"] = sum(v.carts > 0 for v in views) / n
    out["conversion"] = sum(v.purchases > 0 for v in views) / n
    for q in (50, 95, 99):
        out[f"latency_p{q}_ms"] = float(np.percentile(lat, q))
    return out


def ab_readout(views: Sequence[PageView], control: str, treatment: str, metric: str) -> Readout:
    """Per-unit means of ``metric`` in each arm, compared by Welch's t-test (95 % interval).

    Searches without a user or session id (anonymous, or anonymized by retention) are left
    out: they cannot be told apart from another search of the same shopper."""
    per_unit: dict[str, dict[str, list[float]]] = {control: defaultdict(list), treatment: defaultdict(list)}
    for v in views:
        if v.imp.arm in per_unit and (v.imp.user_id or v.imp.session_id):
            per_unit[v.imp.arm][v.unit].append(v.value(metric))
    a = np.array([np.mean(x) for x in per_unit[control].values()])
    b = np.array([np.mean(x) for x in per_unit[treatment].values()])
    delta, p = welch_test(a, b)
    lo = hi = math.nan
    if a.size >= 2 and b.size >= 2:
        va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
        se = math.sqrt(va + vb)
        if se > 0:
            df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
            t = float(sps.t.ppf(0.975, df))
            lo, hi = delta - t * se, delta + t * se
    return Readout(metric=metric, control=float(a.mean()) if a.size else math.nan,
                   treatment=float(b.mean()) if b.size else math.nan, delta=delta, ci=(lo, hi), p_value=p,
                   n_control=int(a.size), n_treatment=int(b.size), test="welch t-test over shoppers")


def interleaving_readout(views: Sequence[PageView]) -> InterleavingResult:
    """Wins of control ("a") and treatment ("b") over interleaved pages (ties: no click, or equal)."""
    return tally(credit(v.imp.teams, v.clicks) for v in views if v.imp.teams is not None)


def session_wins(views: Sequence[PageView]) -> dict[str, tuple[int, int]]:
    """Per shopper (user, session, else the search itself): pages won by control and by treatment."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for v in views:
        if v.imp.teams is None:
            continue
        won = credit(v.imp.teams, v.clicks)
        if won is not None:
            out[v.unit][won == "b"] += 1
    return {u: (a, b) for u, (a, b) in out.items()}


def session_preferences(wins: Sequence[tuple[int, int]]) -> tuple[int, int, int]:
    """Shoppers preferring control, preferring treatment, and neither (more page wins decide).

    A shopper's pages are not independent (one profile, one taste), so the test counts shoppers."""
    d = np.array([b - a for a, b in wins], dtype=np.int64).reshape(-1)
    return int((d < 0).sum()), int((d > 0).sum()), int((d == 0).sum())


@dataclass
class ExperimentReadout:
    name: str
    kind: str
    control: str
    treatment: str
    searches: int
    units: int
    ab: list[Readout] = field(default_factory=list)
    # pages won (wins_a, wins_b, ties, delta), shoppers preferring each (prefer_a, prefer_b, prefer_neither),
    # the sign test over shoppers (p_value) and the per-shopper margin's interval (ci_lo, ci_hi)
    interleaving: dict[str, float] | None = None


@dataclass
class AnalyticsReport:
    since: float | None
    until: float | None
    overall: dict[str, float]
    by_arm: dict[str, dict[str, float]]
    by_ranker: dict[str, dict[str, float]]
    timeline: list[tuple[float, str, int]]  # (bucket start, arm or "all", searches)
    bucket_s: float
    click_positions: dict[int, int]
    zero_result_queries: list[tuple[str, int]]
    no_click_queries: list[tuple[str, int]]
    queries: list[dict[str, Any]]  # the most searched: searches, ctr@10, mrr, conversion
    kinds: dict[str, int]
    experiments: list[ExperimentReadout] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def markdown(self) -> str:
        cols = ["searches", "ctr@1", "ctr@3", "ctr@10", "mrr", "cart_rate", "conversion", "zero_results",
                "latency_p50_ms", "latency_p99_ms"]
        lines = ["| group | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        rows = [("all", self.overall)] + [(f"arm {k}", v) for k, v in self.by_arm.items()]
        rows += [(f"ranker {k}", v) for k, v in self.by_ranker.items()] if len(self.by_ranker) > 1 else []
        for name, m in rows:
            lines.append(f"| {name} | " + " | ".join(_fmt(m.get(c)) for c in cols) + " |")
        for e in self.experiments:
            lines += ["", f"Experiment {e.name} ({e.kind}: {e.control} vs {e.treatment}), {e.searches} searches, "
                          f"{e.units} shoppers"]
            if e.interleaving is not None:
                il = e.interleaving
                lines.append(f"- interleaving: pages won by {e.control} {il['wins_a']:.0f}, by {e.treatment} "
                             f"{il['wins_b']:.0f}, ties {il['ties']:.0f} (delta {il['delta']:+.4f}); shoppers "
                             f"preferring {e.control} {il['prefer_a']:.0f}, {e.treatment} {il['prefer_b']:.0f}, "
                             f"neither {il['prefer_neither']:.0f}: sign test over shoppers p = {il['p_value']:.3g}; "
                             f"per-shopper margin 95 % CI [{il['ci_lo']:+.4f}, {il['ci_hi']:+.4f}]")
            for r in e.ab:
                lines.append(f"- {r.metric}: {e.control} {r.control:.4f}, {e.treatment} {r.treatment:.4f}, "
                             f"delta {r.delta:+.4f} [{r.ci[0]:+.4f}, {r.ci[1]:+.4f}], p = {r.p_value:.3g} ({r.test})")
        if self.zero_result_queries:
            lines += ["", "Zero-result queries: " + ", ".join(f"{q!r} ({n})" for q, n in self.zero_result_queries)]
        if self.no_click_queries:
            lines += ["", "No-click queries: " + ", ".join(f"{q!r} ({n})" for q, n in self.no_click_queries)]
        return "\n".join(lines)


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:.0f}" if float(v).is_integer() and abs(v) >= 1 else f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"


def _pages_per_unit(views: Sequence[PageView], wins: dict[str, tuple[int, int]]) -> list[int]:
    n: Counter[str] = Counter(v.unit for v in views if v.imp.teams is not None)
    return [n[u] for u in wins]


def _bucket(span: float) -> float:
    for b in (10.0, 60.0, 300.0, 3600.0, 6 * 3600.0, 86400.0, 7 * 86400.0):
        if span / b <= 200:
            return b
    return 30 * 86400.0


def _query_key(v: PageView) -> str | None:
    q = (v.imp.query or "").strip().lower()
    return q or None


def experiment_readout(views: Sequence[PageView], name: str, kind: str, control: str,
                       treatment: str) -> ExperimentReadout:
    mine = [v for v in views if v.imp.experiment == name]
    out = ExperimentReadout(name=name, kind=kind, control=control, treatment=treatment, searches=len(mine),
                            units=len({v.unit for v in mine}))
    if kind == "interleave":
        res = interleaving_readout(mine)
        wins = session_wins(mine)
        pa, pb, pt = session_preferences(list(wins.values()))
        # Interval of the per-page margin by resampling shoppers (pages of one shopper stay together).
        margins = [(b - a) / max(1, n) for (a, b), n in zip(wins.values(), _pages_per_unit(mine, wins))]
        _, lo, hi = bootstrap_mean_ci(margins) if margins else (0.0, 0.0, 0.0)
        out.interleaving = {"wins_a": res.wins_a, "wins_b": res.wins_b, "ties": res.ties, "delta": res.delta,
                            "prefer_a": pa, "prefer_b": pb, "prefer_neither": pt, "p_value": sign_test(pa, pb),
                            "ci_lo": lo, "ci_hi": hi}
    else:
        out.ab = [ab_readout(mine, control, treatment, m) for m in AB_METRICS]
    return out


def analyze(impressions: Iterable[Impression], events: Iterable[StoredEvent], *, top_n: int = 15,
            since: float | None = None, until: float | None = None,
            experiments: Sequence[tuple[str, str, str, str]] = ()) -> AnalyticsReport:
    """The report over ``impressions`` (already limited to a time window by the caller) and
    ``events``. ``experiments``: ``(name, kind, control arm, treatment arm)`` to read out;
    those seen in the impressions but not named are read out with the arms they logged."""
    views = join(impressions, events)
    by_arm: dict[str, list[PageView]] = defaultdict(list)
    by_ranker: dict[str, list[PageView]] = defaultdict(list)
    for v in views:
        by_ranker[v.imp.ranker or "?"].append(v)
        if v.imp.arm is not None:
            by_arm[v.imp.arm].append(v)
    ts = [v.imp.ts for v in views]
    bucket = _bucket(max(ts) - min(ts)) if ts else 3600.0
    timeline: Counter[tuple[float, str]] = Counter()
    for v in views:
        start = math.floor(v.imp.ts / bucket) * bucket
        timeline[(start, "all")] += 1
        if v.imp.arm is not None:
            timeline[(start, v.imp.arm)] += 1
    positions: Counter[int] = Counter(p for v in views for p in v.clicks)
    zero: Counter[str] = Counter()
    per_query: dict[str, list[PageView]] = defaultdict(list)
    for v in views:
        key = _query_key(v)
        if key is None:
            continue
        per_query[key].append(v)
        if not v.imp.products:
            zero[key] += 1
    no_click = Counter({q: len(vs) for q, vs in per_query.items()
                       if all(not v.clicks for v in vs) and any(v.imp.products for v in vs)})
    top = sorted(per_query.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:top_n]
    queries = [{"query": q, "searches": len(vs), "ctr@10": sum(v.ctr_at(10) for v in vs) / len(vs),
                "mrr": sum(v.reciprocal_rank for v in vs) / len(vs),
                "conversion": sum(v.purchases > 0 for v in vs) / len(vs)} for q, vs in top]
    named = {e[0] for e in experiments}
    seen: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for v in views:
        if v.imp.experiment is not None and v.imp.experiment not in named:
            seen[v.imp.experiment].add(("interleave", "") if v.imp.teams is not None else ("ab", v.imp.arm or ""))
    found = list(experiments)
    for name, kinds in sorted(seen.items()):
        arms = sorted(a for k, a in kinds if k == "ab")
        if any(k == "interleave" for k, _ in kinds):
            found.append((name, "interleave", "a", "b"))
        elif len(arms) == 2:
            found.append((name, "ab", arms[0], arms[1]))
    return AnalyticsReport(
        since=since, until=until, overall=metrics(views), by_arm={k: metrics(v) for k, v in sorted(by_arm.items())},
        by_ranker={k: metrics(v) for k, v in sorted(by_ranker.items())},
        timeline=sorted((t, arm, n) for (t, arm), n in timeline.items()), bucket_s=bucket,
        click_positions=dict(sorted(positions.items())), zero_result_queries=zero.most_common(top_n),
        no_click_queries=no_click.most_common(top_n), queries=queries,
        kinds=dict(Counter(v.imp.kind for v in views)),
        experiments=[experiment_readout(views, *e) for e in found])


def load_report(impressions: ImpressionLog, events: EventLog, *, since: float | None = None,
                until: float | None = None, experiment: Experiment | None = None, top_n: int = 15) -> AnalyticsReport:
    """:func:`analyze` over stored impressions in ``[since, until)`` and the event log; the
    running ``experiment`` (if any) is read out with its arms' names."""
    named = [] if experiment is None else [(experiment.name, experiment.kind, experiment.control.name,
                                            experiment.treatment.name)]
    return analyze(impressions.scan(since, until), events.scan(), top_n=top_n, since=since, until=until,
                   experiments=named)
