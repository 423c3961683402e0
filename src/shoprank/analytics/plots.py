"""Pictures of an :class:`~shoprank.analytics.report.AnalyticsReport`, as PNG bytes."""
from __future__ import annotations

import io
from collections import defaultdict

import numpy as np
from matplotlib.ticker import MaxNLocator

from shoprank.analytics.report import CTR_AT, AnalyticsReport
from shoprank.plotting import pyplot

SIZE = (7.5, 3.2)  # every panel the same size: the page shows them side by side at one scale


def _png(fig) -> bytes:  # a matplotlib Figure
    plt = pyplot()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=96)
    plt.close(fig)
    return buf.getvalue()


def _groups(rep: AnalyticsReport) -> dict[str, dict[str, float]]:
    return {"all": rep.overall, **{f"arm {k}": v for k, v in rep.by_arm.items()}}


def searches_over_time(rep: AnalyticsReport) -> bytes:
    import datetime as dt

    plt = pyplot()
    fig, ax = plt.subplots(figsize=SIZE)
    series: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for t, arm, n in rep.timeline:
        series[arm].append((t, n))
    for arm, pts in sorted(series.items(), key=lambda kv: kv[0] != "all"):
        x = [dt.datetime.fromtimestamp(t, dt.UTC) for t, _ in pts]
        ax.plot(x, [n for _, n in pts], marker="o", ms=3, label=arm if arm == "all" else f"arm {arm}")
    ax.set_ylabel(f"searches per {_span(rep.bucket_s)}")
    ax.set_title("Searches over time (UTC)")
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8)
    fig.autofmt_xdate()
    return _png(fig)


def _span(seconds: float) -> str:
    for unit, s in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= s:
            n = seconds / s
            return unit if n == 1 else f"{n:g} {unit}s"
    return f"{seconds:g} s"


def engagement(rep: AnalyticsReport) -> bytes:
    plt = pyplot()
    groups = _groups(rep)
    metrics = [f"ctr@{k}" for k in CTR_AT] + ["mrr", "cart_rate", "conversion"]
    fig, ax = plt.subplots(figsize=SIZE)
    x = np.arange(len(metrics))
    w = 0.8 / max(len(groups), 1)
    for i, (name, m) in enumerate(groups.items()):
        ax.bar(x + i * w - 0.4 + w / 2, [m.get(k, 0.0) for k in metrics], w, label=name)
    ax.set_xticks(x, metrics)
    ax.set_ylim(0, 1)
    ax.set_title("Click-through, reciprocal rank of the first click, carts and purchases per search")
    ax.title.set_fontsize(9)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def click_positions(rep: AnalyticsReport) -> bytes:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=SIZE)
    last = max([10, *rep.click_positions])
    pos = list(range(1, last + 1))
    ax.bar(pos, [rep.click_positions.get(p, 0) for p in pos], color="#4a7fb5")
    ax.set_xticks(pos)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("position on the results page")
    ax.set_ylabel("clicks")
    ax.set_title("Clicks by position (position bias)")
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def latency(rep: AnalyticsReport) -> bytes:
    plt = pyplot()
    groups = _groups(rep)
    qs = ("p50", "p95", "p99")
    fig, ax = plt.subplots(figsize=SIZE)
    x = np.arange(len(qs))
    w = 0.8 / max(len(groups), 1)
    for i, (name, m) in enumerate(groups.items()):
        ax.bar(x + i * w - 0.4 + w / 2, [m.get(f"latency_{q}_ms", 0.0) for q in qs], w, label=name)
    ax.set_xticks(x, qs)
    ax.set_ylabel("ms")
    ax.set_title("Search latency (server)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def problem_queries(rep: AnalyticsReport, top: int = 10) -> bytes:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=SIZE)
    for ax, rows, title in ((axes[0], rep.zero_result_queries[:top], "Zero-result queries"),
                            (axes[1], rep.no_click_queries[:top], "Queries nobody clicked")):
        if rows:
            labels = [q if len(q) <= 28 else q[:27] + "…" for q, _ in rows][::-1]
            ax.barh(labels, [n for _, n in rows][::-1], color="#c0504d")
            ax.set_xlabel("searches")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        else:
            ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_title(title)
        ax.tick_params(axis="y", labelsize=8)
    return _png(fig)


def experiments(rep: AnalyticsReport) -> bytes | None:
    if not rep.experiments:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(rep.experiments), figsize=(SIZE[0] * max(1, len(rep.experiments) / 1.5),
                                                                SIZE[1]), squeeze=False)
    for ax, e in zip(axes[0], rep.experiments):
        if e.interleaving is not None:
            il = e.interleaving
            ax.bar([e.control, "tie", e.treatment], [il["wins_a"], il["ties"], il["wins_b"]],
                   color=["#4a7fb5", "#bbbbbb", "#9bbb59"])
            ax.set_title(f"{e.name}: pages won (sign test over {il['prefer_a'] + il['prefer_b']:.0f} shoppers: "
                         f"p = {il['p_value']:.2g})")
        elif e.ab:
            names = [r.metric for r in e.ab]
            d = [r.delta for r in e.ab]
            err = [[max(r.delta - r.ci[0], 0) if np.isfinite(r.ci[0]) else 0 for r in e.ab],
                   [max(r.ci[1] - r.delta, 0) if np.isfinite(r.ci[1]) else 0 for r in e.ab]]
            ax.bar(names, d, yerr=err, capsize=4, color="#9bbb59")
            ax.axhline(0, color="black", lw=0.8)
            ax.set_title(f"{e.name}: {e.treatment} − {e.control} (95 % CI)")
        ax.title.set_fontsize(9)
        ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def figures(rep: AnalyticsReport) -> dict[str, bytes]:
    """Every plot of the report by name (an experiment panel only when there is one)."""
    out = {"searches_over_time": searches_over_time(rep), "engagement": engagement(rep),
           "click_positions": click_positions(rep), "latency": latency(rep), "problem_queries": problem_queries(rep)}
    exp = experiments(rep)
    if exp is not None:
        out["experiments"] = exp
    return out
