"""Offline evaluation on labelled query sets: metrics, baselines, learned-ranker CV, plots."""
from shoprank.evaluation.datasets import LabelledSet, load_dataset
from shoprank.evaluation.harness import PIPELINES, EvalReport, evaluate_dataset
from shoprank.evaluation.metrics import METRICS, evaluate_run

__all__ = ["METRICS", "PIPELINES", "EvalReport", "LabelledSet", "evaluate_dataset", "evaluate_run", "load_dataset"]
