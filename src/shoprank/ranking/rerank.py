"""The second stage of a search: a cross-encoder reads the query with each of the ranker's top few
products, and a LambdaMART "stack" rescores them from the features, the first stage's score and
rank, and the cross-encoder's score (how the top KDD Cup 2022 ESCI solutions combined theirs).

``shoprank eval --cross-encoder --save-model DIR`` trains both (the stack on out-of-fold
cross-encoder and first-stage scores) and writes ``DIR/<set>-ce``; a server reranks with it when
``SHOPRANK_RERANKER_MODEL`` names that folder. The columns the stack reads are built here, for
training and serving alike; the stack reads them, and the features, by name.
"""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from shoprank.features.registry import FEATURE_NAMES
from shoprank.ranking.base import CandidateBatch, read_meta

if TYPE_CHECKING:
    from shoprank.ranking.cross_encoder import CrossEncoder
    from shoprank.ranking.lgbm import LambdaMARTRanker

# Products the cross-encoder reads per query: its top-30 cost is the serving budget (benchmarks/RESULTS.md).
RERANK_TOP = 30
# The stack's columns after the features: the first stage's (all a stack without the cross-encoder
# reads), then the cross-encoder's.
STAGE1_FEATURES: tuple[str, ...] = ("stage1_z", "stage1_rank")
STACK_FEATURES: tuple[str, ...] = (*STAGE1_FEATURES, "ce", "ce_z")
# How the explanation groups the stack's own columns.
GROUPS = {"stage1_z": "first_stage", "stage1_rank": "first_stage", "ce": "cross_encoder", "ce_z": "cross_encoder"}
META = "reranker.json"
# The cross-encoder is MiniLM fine-tuned on English pairs: a query with Han characters keeps the
# ranker's order (the multilingual text encoder and BM25's bigrams serve it).
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


class PairScorer(Protocol):
    def score(self, query: str, texts: Sequence[str]) -> np.ndarray: ...


def _z(a: np.ndarray) -> np.ndarray:
    return (a - a.mean()) / (a.std() or 1.0)


def stack_columns(stage1: np.ndarray, ce: np.ndarray | None, top: int = RERANK_TOP) -> np.ndarray:
    """The columns a stack appends to the features of one query's first-stage top rows, given in
    the first stage's order: its z-scored score and rank / ``top``, then (unless ``ce`` is None)
    the cross-encoder's raw and z-scored score."""
    s1 = np.asarray(stage1, np.float64)
    cols = [_z(s1), np.arange(len(s1)) / top]
    if ce is not None:
        c = np.asarray(ce, np.float64)
        cols += [c, _z(c)]
    return np.column_stack(cols)


@dataclass
class Reranked:
    """One query's reranked top: ``rows`` (candidate rows, first-stage order) got ``scores``."""

    rows: np.ndarray
    scores: np.ndarray
    ce: np.ndarray
    X: np.ndarray  # the stack's input rows (columns: its feature_names), for explanations
    shift: float = 0.0  # added to the other candidates' scores to keep them below these


@dataclass
class CrossEncoderReranker:
    scorer: PairScorer
    stack: LambdaMARTRanker
    top: int = RERANK_TOP
    first_stage: str = "lambdamart"  # the ranker whose top the stack was trained on

    def reads(self, query: str) -> bool:
        """Whether this reranker's cross-encoder reads ``query`` (non-blank, no Han characters)."""
        return bool(query.strip()) and _HAN.search(query) is None

    def rerank(self, query: str, texts: Sequence[str], X: np.ndarray, stage1: np.ndarray,
               rows: np.ndarray, names: Sequence[str] = FEATURE_NAMES) -> Reranked:
        """Rescore a first stage's top rows (``X``, its feature columns ``names``; ``stage1``,
        ``texts`` in its order)."""
        ce = np.asarray(self.scorer.score(query, texts), np.float64)
        both = np.hstack([np.asarray(X, np.float64), stack_columns(stage1, ce, self.top)]).astype(np.float32)
        Xs = np.asarray(CandidateBatch.from_features(both, [*names, *STACK_FEATURES]).columns(self.stack.feature_names))
        return Reranked(rows, np.asarray(self.stack.score_matrix(Xs), np.float64), ce, Xs)

    def explain(self, X: np.ndarray) -> list[dict[str, float]]:
        """Each row's stack score (``X``: the stack's input rows, :attr:`Reranked.X`) as
        contributions: the features by name, plus "first_stage" and "cross_encoder" for the
        stack's own columns, and "base"."""
        contrib = self.stack.booster.predict(np.asarray(X, np.float32), pred_contrib=True)
        names = self.stack.feature_names
        out = []
        for row in contrib:
            d: dict[str, float] = {}
            for n, v in zip(names, row[:-1]):
                if v != 0:
                    key = GROUPS.get(n, n)
                    d[key] = d.get(key, 0.0) + float(v)
            d["base"] = float(row[-1])
            out.append(d)
        return out

    @classmethod
    def load(cls, path: Path, threads: int = 1) -> CrossEncoderReranker:
        """A reranker saved by :func:`save_reranker`, its cross-encoder on onnxruntime int8."""
        from shoprank.ranking.cross_encoder import OnnxCrossEncoder
        from shoprank.ranking.lgbm import LambdaMARTRanker

        path = Path(path)
        meta_file = path / META
        if not meta_file.is_file():
            raise FileNotFoundError(f"{path} holds no reranker ({META} missing): save one with "
                                    "`shoprank eval --cross-encoder --save-model DIR`")
        meta: dict[str, Any] = json.loads(meta_file.read_text())
        stack_meta = read_meta(path / "stack")
        # Any features, by name; but a stack reads at least the first stage's columns.
        if stack_meta["type"] != LambdaMARTRanker.name or not set(STAGE1_FEATURES) <= set(stack_meta["features"]):
            raise ValueError(f"{path / 'stack'} is not a stack (a LambdaMART model reading {list(STAGE1_FEATURES)})")
        stack = LambdaMARTRanker._load(path / "stack", stack_meta)
        scorer = OnnxCrossEncoder(path / "cross-encoder", meta["runtime"], int(meta["max_length"]), threads)
        return cls(scorer, stack, int(meta["top"]), str(meta["first_stage"]))


def save_reranker(path: Path, cross_encoder: CrossEncoder, stack: LambdaMARTRanker, top: int = RERANK_TOP,
                  first_stage: str = "lambdamart", runtime: str = "onnx-int8") -> Path:
    """Write ``cross_encoder`` (exported to onnxruntime ``runtime``) and ``stack`` to ``path``,
    loadable by :meth:`CrossEncoderReranker.load`."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    out = path / "cross-encoder"
    cross_encoder.export_onnx(out, runtime)
    if runtime != "onnx-fp32":
        (out / "model-fp32.onnx").unlink(missing_ok=True)  # only the served graph is kept
    stack.save(path / "stack")
    meta = {"type": "cross-encoder-stack", "top": top, "first_stage": first_stage, "runtime": runtime,
            "max_length": cross_encoder.max_length, "pooling": cross_encoder.pooling}
    (path / META).write_text(json.dumps(meta, indent=2))
    return path
