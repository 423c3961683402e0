"""Online experiments and click-derived judgments, end to end over HTTP on Luma.

Simulated shoppers (hidden tastes, position-based clicks; shoprank.evaluation.traffic) use
a real server. Two experiments compare "personalized" (treatment) with "not personalized"
(control) on the same shoppers: team-draft interleaving, then an A/B split by shopper. Then:

1. sessions each experiment needs to detect the better ranker at p < 0.01 with 80 % power
   (bootstrap over the logged sessions), and each experiment's own readout;
2. click models (PBM, SDBN) fitted on the logged impressions + clicks: rank correlation of
   their estimates with the shoppers' hidden grades (raw CTR alongside);
3. LambdaMART trained only on the click-derived judgments vs trained on the true grades,
   both scored against the truth (query-grouped 5-fold CV).

    python benchmarks/experiments.py [--sessions-il 300 --sessions-ab 600 --searches 8]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from common import DATA_DIR, OUT, REPO, save, table
from server_process import start_server, stop_server
from shoprank.analytics.clickmodel import judgments, make_click_model, rank_correlation
from shoprank.analytics.impressions import SQLiteImpressionLog
from shoprank.analytics.interleave import credit
from shoprank.analytics.plots import figures
from shoprank.analytics.power import ab_power, interleaving_power, sessions_needed
from shoprank.analytics.report import analyze, join
from shoprank.catalog import Catalog, load_magento
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.evaluation.harness import train_on_labels
from shoprank.evaluation.simulator import ShopperModel, make_shoppers
from shoprank.evaluation.traffic import TRAFFIC_QUERIES, HttpShop, drive, sessions
from shoprank.personalization.store.sqlite import SQLiteEventLog

ADMIN = "experiments-admin-key"
GRID = (10, 20, 30, 40, 60, 80, 100, 150, 200, 300, 400, 600, 800, 1200, 1600, 2400, 3200)


def _experiment(name: str, kind: str) -> dict:
    return {"name": name, "kind": kind, "control": {"name": "plain", "personalize": False},
            "treatment": {"name": "personal", "personalize": True}}


def power_plot(rows: list[dict], path: Path) -> Path:
    """Power (share of resampled experiments with p < 0.01) against sessions, one line per test."""
    from shoprank.plotting import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for r in rows:
        pts = [tuple(map(float, x.split(":"))) for x in r["power curve"].split()]
        ax.plot([n for n, _ in pts], [p for _, p in pts], marker="o", ms=3, label=r["experiment"])
    ax.axhline(0.8, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("sessions (8 searches each)")
    ax.set_ylabel("power at p < 0.01")
    ax.set_title("Detecting personalization: interleaving vs A/B (Luma, simulated shoppers)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions-il", type=int, default=300)
    ap.add_argument("--sessions-ab", type=int, default=600)
    ap.add_argument("--searches", type=int, default=8, help="searches per session")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    home = Path(tempfile.mkdtemp())
    for shared in ("cache", "models"):
        (REPO / "var" / shared).mkdir(parents=True, exist_ok=True)
        (home / shared).symlink_to(REPO / "var" / shared)
    settings = Settings(home=home, data_dir=DATA_DIR)
    catalog = Catalog(load_magento(DATA_DIR / "magento_luma").products)
    engine = ShopRank.build(catalog, settings.index_dir("luma"), settings)
    products = engine.artifacts.catalog.products
    model = ShopperModel(products)
    n_max = max(args.sessions_il, args.sessions_ab)
    shoppers = make_shoppers(products, n_max, args.seed, queries=TRAFFIC_QUERIES)
    env = {"SHOPRANK_HOME": str(home), "SHOPRANK_DATA_DIR": str(DATA_DIR), "SHOPRANK_ADMIN_KEY": ADMIN,
           "SHOPRANK_RATE_SEARCH_PER_S": "0", "SHOPRANK_RATE_EVENTS_PER_S": "0", "SHOPRANK_CF_MODEL": "none"}
    OUT.mkdir(parents=True, exist_ok=True)
    url, proc = start_server("luma", env, OUT / "experiments_server.log")
    traffic = {}
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            shop = HttpShop(client, ADMIN)
            for name, kind, n in (("il", "interleave", args.sessions_il), ("ab", "ab", args.sessions_ab)):
                r = client.put("/admin/experiment", json=_experiment(name, kind), headers=shop.headers)
                r.raise_for_status()
                time.sleep(1.1)  # other processes pick a new experiment up within a second
                traffic[name] = drive(shop, model, sessions(shoppers[:n], f"{name}-"), args.searches, args.seed)
                print(f"{name}: {len(traffic[name].sessions)} sessions, {traffic[name].searches} searches, "
                      f"{traffic[name].events} events in {traffic[name].seconds:.0f} s")
            client.delete("/admin/experiment", headers=shop.headers)
    finally:
        stop_server(proc)

    imps = SQLiteImpressionLog(settings.impressions_path)
    events = SQLiteEventLog(settings.events_path)
    views = join(imps.scan(), list(events.scan()))
    by_unit: dict[str, list] = defaultdict(list)
    for v in views:
        by_unit[v.unit].append(v)

    # 1. sessions needed
    il_sessions = [(sum(credit(v.imp.teams, v.clicks) == "a" for v in by_unit[u]),
                    sum(credit(v.imp.teams, v.clicks) == "b" for v in by_unit[u])) for u in traffic["il"].sessions]
    rows = []
    metrics_ab = ("mrr", "ctr@10")
    ab_values = {m: {"plain": [], "personal": []} for m in metrics_ab}
    for u in traffic["ab"].sessions:
        vs = by_unit[u]
        for m in metrics_ab:
            ab_values[m][vs[0].imp.arm].append(float(np.mean([v.value(m) for v in vs])))
    n_il, curve_il = sessions_needed(lambda n: interleaving_power(il_sessions, n), GRID)
    rows.append({"experiment": "team-draft interleaving", "test": "sign test over shoppers",
                 "sessions logged": len(il_sessions), "sessions for 80 % power at p<0.01": n_il or f"> {GRID[-1]}",
                 "power curve": " ".join(f"{n}:{p:.2f}" for n, p in curve_il.items())})
    n_ab = {}
    for m in metrics_ab:
        vals = ab_values[m]
        n_ab[m], curve = sessions_needed(lambda n, vals=vals: ab_power(vals["plain"], vals["personal"], n), GRID)
        rows.append({"experiment": f"A/B split, {m} per shopper", "test": "Welch t-test",
                     "sessions logged": sum(len(x) for x in vals.values()),
                     "sessions for 80 % power at p<0.01": n_ab[m] or f"> {GRID[-1]}",
                     "power curve": " ".join(f"{n}:{p:.2f}" for n, p in curve.items())})
    print(table(rows, list(rows[0])))
    print("plot:", power_plot(rows, REPO / "benchmarks" / "figures" / "experiments_power.png"))
    rep = analyze(iter([v.imp for v in views]), events.scan(),
                  experiments=[("il", "interleave", "plain", "personal"), ("ab", "ab", "plain", "personal")])
    print(rep.markdown())
    fig_dir = REPO / "benchmarks" / "figures"
    for name, png in figures(rep).items():
        (fig_dir / f"analytics_{name}.png").write_bytes(png)

    # 2. click models vs the hidden grades
    pages = [v.page() for v in views if v.imp.query]
    crowd = shoppers[:200]  # the population whose mean grade is the truth (a sample keeps this quick)
    population = {(q, pid): float(np.mean([model.grade(s, q, pid) for s in crowd]))
                  for (q, pid) in {k for t in traffic.values() for k in t.shown_grades}}
    corr_rows = []
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for p in pages:
        for r, pid in enumerate(p.shown[:10], 1):
            c = counts[(p.query, pid)]
            c[0] += 1
            c[1] += r in p.clicked
    # Two truths: the mean grade over a population of shoppers, and over the shoppers who were shown the pair.
    shown_to = {k: float(np.mean(g)) for t in traffic.values() for k, g in t.shown_grades.items()}
    fitted = {name: make_click_model(name, **({"iterations": 300} if name == "pbm" else {})).fit(pages)
              for name in ("pbm", "sdbn")}
    for min_imp in (10, 30):
        ests = {name: {(e.query, e.product_id): e.attractiveness for e in cm.pairs() if e.impressions >= min_imp}
                for name, cm in fitted.items()}
        ests["raw CTR"] = {k: c[1] / c[0] for k, c in counts.items() if c[0] >= min_imp}
        for name, est in ests.items():
            pop, seen = rank_correlation(est, population), rank_correlation(est, shown_to)
            corr_rows.append({"estimate": name, "min impressions": min_imp, "pairs": int(pop["n"]),
                              "spearman (population)": round(pop["spearman"], 4),
                              "kendall (population)": round(pop["kendall"], 4),
                              "spearman (shoppers shown)": round(seen["spearman"], 4),
                              "kendall (shoppers shown)": round(seen["kendall"], 4)})
    print(table(corr_rows, list(corr_rows[0])))
    pbm = fitted["pbm"]
    print("PBM examination by rank:", np.round(pbm.examination, 3).tolist(),
          "(simulated: 1/r^0.7 =", np.round(1 / np.arange(1, 11) ** 0.7, 3).tolist(), ")")

    # 3. LambdaMART on click judgments vs on the truth
    qids = {f"q{i}": q for i, q in enumerate(TRAFFIC_QUERIES)}
    by_text = {q: qid for qid, q in qids.items()}
    truth: dict[str, dict[str, int]] = defaultdict(dict)
    for qid, q in qids.items():
        for pos in model.matching(q):
            pid = products[pos].id
            g = round(float(np.mean([model.grade(s, q, pid) for s in crowd])))
            if g > 0:
                truth[qid][pid] = g
    clicks: dict[str, dict[str, int]] = defaultdict(dict)
    judged = judgments(pbm, min_impressions=5)
    for j in judged:
        if j.query in by_text and j.grade > 0:
            clicks[by_text[j.query]][j.product_id] = j.grade
    scores = train_on_labels(engine, qids, {"click judgments (PBM)": dict(clicks), "true grades": dict(truth)},
                             dict(truth))
    ltr_rows = [{"ranker": k, **{m: round(v, 4) for m, v in s.items()}} for k, s in scores.items()]
    print(f"{len(judged)} click-derived judgments over {len({j.query for j in judged})} queries; "
          f"truth: {sum(len(v) for v in truth.values())} graded pairs")
    print(table(ltr_rows, list(ltr_rows[0])))
    print(f"load before: {load:.2f}")
    print("results:", save("experiments", {
        "args": vars(args), "load_before": load, "sessions_needed": rows, "analytics": rep.markdown(),
        "click_model_correlation": corr_rows, "pbm_examination": pbm.examination.tolist(),
        "ltr_on_clicks": ltr_rows, "judgments": len(judged)}))


if __name__ == "__main__":
    main()
