"""Evaluation results as Markdown."""
from __future__ import annotations

from shoprank.evaluation.harness import EvalReport
from shoprank.evaluation.metrics import METRICS


def markdown_table(rep: EvalReport, key: str = "ndcg@10") -> str:
    rows = ["| pipeline | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
    for pipe, m in rep.means.items():
        rows.append(f"| {pipe} | " + " | ".join(f"{m[k]:.4f}" for k in METRICS) + " |")
    if "lambdamart" in rep.means and len(rep.means) > 1:
        best = rep.best_baseline(key)
        gain = rep.means["lambdamart"][key] - rep.means[best][key]
        rows.append(f"\nLambdaMART vs best baseline ({best}) on {key}: {gain:+.4f} "
                    f"({gain / rep.means[best][key]:+.1%})")
    return "\n".join(rows)
