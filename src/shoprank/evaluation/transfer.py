"""Train the default ranker on the labelled sets, and check it on a set it never saw.

Each set's products are indexed with the chosen text encoder (no photo encoder: the sets have
no photos), every judged query's candidates are collected as a search would serve them and
labelled from the judgments (unjudged: 0), and :class:`~shoprank.ranking.default.DefaultRanker`
is fitted on the rows. :func:`cross_check` fits it on one set and scores it on every query of
another, beside the pipelines that learn nothing.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from shoprank.evaluation.harness import EvalReport, evaluate_dataset
from shoprank.ranking.default import DefaultRanker
from shoprank.ranking.training import TrainingSet, collect_candidates, training_set

if TYPE_CHECKING:
    from shoprank.config import Settings
    from shoprank.engine import ShopRank
    from shoprank.evaluation.datasets import LabelledSet
    from shoprank.search import Candidates

# What the default is measured against on a set it never saw.
BASELINES: tuple[str, ...] = ("bm25", "dense_text", "rrf_hybrid", "linear_fusion", "linear_ranker")


@dataclass
class LabelledRows:
    ds: LabelledSet
    engine: ShopRank
    cands: dict[str, Candidates]
    rows: TrainingSet


def labelled_rows(name: str, settings: Settings, max_queries: int | None = None) -> LabelledRows:
    """Index labelled set ``name`` (index ``eval-<name>``) and collect its queries' candidate rows."""
    from shoprank.catalog import Catalog
    from shoprank.engine import ShopRank
    from shoprank.evaluation.datasets import load_dataset

    ds = load_dataset(name, settings.data_dir, **({"max_queries": max_queries} if max_queries else {}))
    if not ds.searchable or not ds.qrels:
        raise ValueError(f"{name} cannot train a ranker: {ds.note or 'no judged products with text'}")
    engine = ShopRank.build(Catalog(ds.products), settings.index_dir(f"eval-{name}"), settings)
    cands = collect_candidates(engine, {q: t for q, t in ds.queries.items() if ds.qrels.get(q)}, settings.rerank_k)
    return LabelledRows(ds, engine, cands, training_set(engine, cands, ds.qrels))


def fit_default(sets: Sequence[LabelledRows], text_encoder: str, num_rounds: int = 300) -> DefaultRanker:
    """The default ranker fitted on every row of ``sets`` (each set's grades on its own scale:
    LambdaMART compares candidates only within a query)."""
    names = sets[0].rows.names
    if any(s.rows.names != names for s in sets):
        raise ValueError("the labelled sets' rows hold other features")
    X = np.concatenate([s.rows.X for s in sets])
    y = np.concatenate([s.rows.y for s in sets])
    groups = [g for s in sets for g in s.rows.group_sizes]
    return DefaultRanker.fit(X, y, groups, num_rounds, [s.ds.name for s in sets], text_encoder, names)


def cross_check(train: LabelledRows, test: LabelledRows, text_encoder: str,
                num_rounds: int = 300) -> tuple[EvalReport, str]:
    """The default fitted on ``train`` alone, scored on every query of ``test`` beside
    :data:`BASELINES`; returns the report and the default's pipeline name in it."""
    name = f"default (trained on {train.ds.name})"
    model = fit_default([train], text_encoder, num_rounds)
    rep = evaluate_dataset(test.engine, test.ds, pipelines=BASELINES, models={name: model}, cands=test.cands)
    return rep, name
