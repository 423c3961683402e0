"""Evaluation results as Markdown."""
from __future__ import annotations

from shoprank.evaluation.harness import EvalReport
from shoprank.evaluation.metrics import METRICS


def paired_p(rep: EvalReport, a: str, b: str, metric: str = "ndcg@10") -> float:
    """Two-sided paired t-test of per-query ``metric`` between pipelines ``a`` and ``b``."""
    from scipy.stats import ttest_rel

    qa, qb = rep.per_query[a][metric], rep.per_query[b][metric]
    qids = sorted(qa)
    return float(ttest_rel([qa[q] for q in qids], [qb[q] for q in qids]).pvalue)


def markdown_table(rep: EvalReport, key: str = "ndcg@10", vs: str | None = None) -> str:
    """One row per pipeline; with LambdaMART (or ``vs``), each other pipeline's paired t-test p
    against it on ``key``; training time of the pipelines that train per fold; for learned pipelines, the
    time to score one query's candidates and the saved model's size."""
    vs = vs or ("lambdamart" if "lambdamart" in rep.means else None)
    extra = ([f"p vs {vs} ({key})"] if vs else []) + (["train s (all folds)"] if rep.train_s else []) + \
        (["score ms (p50, one query)", "model KB"] if rep.serving else [])
    rows = ["| pipeline | " + " | ".join([*METRICS, *extra]) + " |", "|---|" + "---|" * (len(METRICS) + len(extra))]
    for pipe, m in rep.means.items():
        cells = [f"{m[k]:.4f}" for k in METRICS]
        if vs:
            cells.append("" if pipe == vs else f"{paired_p(rep, pipe, vs, key):.2g}")
        if rep.train_s:
            cells.append(f"{rep.train_s[pipe]:.0f}" if pipe in rep.train_s else "")
        if rep.serving:
            cost = rep.serving.get(pipe, {})
            cells += [f"{cost['score_ms_p50']:.2f}" if cost else "", f"{cost['model_kb']:.0f}" if cost else ""]
        rows.append(f"| {pipe} | " + " | ".join(cells) + " |")
    best = rep.best_baseline(key) if "lambdamart" in rep.means else None
    if best is not None:
        gain = rep.means["lambdamart"][key] - rep.means[best][key]
        rows.append(f"\nLambdaMART vs best baseline ({best}) on {key}: {gain:+.4f} "
                    f"({gain / rep.means[best][key]:+.1%}), paired t-test over queries p = "
                    f"{paired_p(rep, 'lambdamart', best, key):.3f}")
    return "\n".join(rows)
