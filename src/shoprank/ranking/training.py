"""Training data for learned rankers, and query-grouped cross-validation."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from shoprank.features.registry import FEATURE_NAMES
from shoprank.types import Query

if TYPE_CHECKING:
    from shoprank.search import Candidates

_LOG_KEYS = ("query_id", "product_id", "label")  # a feature log's columns that are not features


@dataclass
class TrainingSet:
    """Feature rows of every (query, candidate) pair, in query order, with graded labels; a model
    fitted on them records ``names``, the features in ``X``."""

    X: np.ndarray
    y: np.ndarray
    qids: np.ndarray  # query id per row
    pids: np.ndarray  # product id per row
    names: list[str] = field(default_factory=lambda: FEATURE_NAMES)

    @property
    def group_sizes(self) -> list[int]:
        _, first, counts = np.unique(self.qids, return_index=True, return_counts=True)
        return [int(c) for _, c in sorted(zip(first, counts))]

    def by_query(self) -> Iterator[tuple[str, np.ndarray]]:
        """Each query id (sorted) with its rows (ascending), in one pass over the rows."""
        qids, inv = np.unique(self.qids, return_inverse=True)
        groups = np.split(np.argsort(inv, kind="stable"), np.cumsum(np.bincount(inv))[:-1])
        yield from zip((str(q) for q in qids), groups)

    def subset(self, rows: np.ndarray) -> TrainingSet:
        return TrainingSet(self.X[rows], self.y[rows], self.qids[rows], self.pids[rows], self.names)

    def to_parquet(self, path: Path) -> None:
        """Feature log: one row per (query, product) with label and every named feature."""
        import pandas as pd

        df = pd.DataFrame(self.X, columns=self.names)
        df.insert(0, "label", self.y)
        df.insert(0, "product_id", self.pids)
        df.insert(0, "query_id", self.qids)
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(path, index=False)

    @classmethod
    def from_parquet(cls, path: Path) -> TrainingSet:
        """A feature log as written, with the features it holds (whichever version wrote it)."""
        import pandas as pd

        df = pd.read_parquet(path)
        names = [str(c) for c in df.columns if c not in _LOG_KEYS]
        return cls(df[names].to_numpy(np.float32), df["label"].to_numpy(), df["query_id"].to_numpy(),
                   df["product_id"].to_numpy(), names)


def collect_candidates(engine, queries: dict[str, str], rerank_k: int = 200) -> dict[str, Candidates]:
    """Candidates (retriever lists, features) for each query id; what rankers see at serving time."""
    out = {}
    for qid, text in tqdm(queries.items(), desc="candidates", unit="query", disable=len(queries) < 50):
        out[qid] = engine.candidates(Query(text=text, k=rerank_k, collapse_variants=False))
    return out


def training_set(engine, cands: dict[str, Candidates], qrels: dict[str, dict[str, int]]) -> TrainingSet:
    """Label each candidate from the judgments (unjudged = 0); the rows keep the candidates' feature names."""
    products = engine.artifacts.catalog.products
    names = next((c.batch.names for c in cands.values()), FEATURE_NAMES)
    X: list[np.ndarray] = []
    y: list[int] = []
    q: list[str] = []
    p: list[str] = []
    for qid, c in cands.items():
        if not len(c.positions):
            continue
        pids = [products[i].id for i in c.positions]
        X.append(c.batch.columns(names))
        y.extend(qrels.get(qid, {}).get(pid, 0) for pid in pids)
        q.extend([qid] * len(pids))
        p.extend(pids)
    return TrainingSet(np.concatenate(X).astype(np.float32), np.array(y, np.int64), np.array(q), np.array(p), names)


def query_folds(qids: np.ndarray, n_folds: int = 5, seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train rows, test rows) per fold; every query's rows fall in exactly one test fold."""
    from sklearn.model_selection import GroupKFold

    rows = np.arange(len(qids))
    yield from GroupKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(rows, groups=qids)


class EarlyStopping:
    """Keeps the best weights of a network by a validation score (higher is better) and says
    when ``patience`` checks in a row brought no improvement."""

    def __init__(self, patience: int, min_delta: float = 1e-5):
        self.patience = patience
        self.min_delta = min_delta
        self.best = -float("inf")
        self._state: dict | None = None
        self._bad = 0

    def check(self, score: float, net: Any) -> bool:
        """Record ``score`` of ``net`` (a torch module) now; True when training should stop."""
        if score > self.best + self.min_delta:
            self.best, self._bad = score, 0
            self._state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            return False
        self._bad += 1
        return self._bad >= self.patience

    def restore(self, net: Any) -> None:
        """Put the best weights seen back into ``net`` (if any check was made)."""
        if self._state is not None:
            net.load_state_dict(self._state)
