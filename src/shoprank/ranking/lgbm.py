"""LambdaMART with LightGBM; served through onnxruntime when available (measured faster).

Burges, "From RankNet to LambdaRank to LambdaMART: An Overview", MSR-TR-2010-82.
Explanations are LightGBM's exact TreeSHAP contributions (Lundberg et al., 2020).
"""
from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from shoprank.features.registry import FEATURE_NAMES
from shoprank.lazy import Lazy
from shoprank.ranking.base import CandidateBatch, Ranker

log = logging.getLogger(__name__)

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": [10],
    # Small, regularised trees: chosen by 5-fold CV on CrowdFlower among three settings
    # (31/20/0.05, 15/50/0.05, 7/100/0.03 leaves/min-data/learning-rate); deeper ones overfit.
    "learning_rate": 0.03,
    "num_leaves": 7,
    "min_data_in_leaf": 100,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambdarank_truncation_level": 100,
    "verbose": -1,
    "num_threads": 2,
    "seed": 0,
}


# LightGBM imports these when they are installed, for inputs (data frames, the scikit-learn API)
# this package never gives it: ~150 MB of a serving process's memory for nothing.
_LIGHTGBM_OPTIONAL = ("pandas", "sklearn", "pyarrow", "dask", "matplotlib", "graphviz")


def _lightgbm():
    if (loaded := sys.modules.get("lightgbm")) is not None:
        return loaded
    # A None entry makes ``import x`` raise ImportError, which LightGBM takes as "not installed";
    # the entries go again at once, so later imports of those packages work as usual.
    hidden = [m for m in _LIGHTGBM_OPTIONAL if m not in sys.modules]
    sys.modules.update(dict.fromkeys(hidden))  # type: ignore[arg-type]
    try:
        import lightgbm
    except ImportError as e:  # pragma: no cover - depends on the extra
        raise ImportError("the LambdaMART ranker needs: pip install 'shoprank[ltr]'") from e
    finally:
        for m in hidden:
            if sys.modules.get(m, "") is None:
                del sys.modules[m]
    return lightgbm


def _model_feature_names(model: bytes) -> list[str] | None:
    """The feature names a LightGBM model file lists in its header, if it does."""
    for line in model.split(b"\nTree=", 1)[0].splitlines():  # the header: before the first tree
        if line.startswith(b"feature_names="):
            return line.removeprefix(b"feature_names=").decode("utf-8").split(" ")
    return None


def _converter() -> None:
    """What converting a booster to ONNX takes (an ImportError if it is not installed)."""
    _lightgbm()
    import onnxmltools  # noqa: F401


_cache_warned = False


def _warn_unwritable_cache(e: OSError) -> None:
    global _cache_warned
    if not _cache_warned:
        _cache_warned = True
        log.warning("cannot keep the ranker's ONNX copy in the model cache (%s): converting it in memory "
                    "at every load; point SHOPRANK_USER_CACHE_DIR at a writable folder", e)


class LambdaMARTRanker(Ranker):
    name = "lambdamart"

    def __init__(self, booster: Any, feature_names: Sequence[str] = FEATURE_NAMES,
                 backend: Literal["onnx", "lightgbm"] = "onnx", *, model_file: Path | None = None):
        """``booster``, or ``None`` with the ``model_file`` it was saved to: a saved model is then
        scored by its ONNX conversion cached per user (LightGBM is not even imported, ~1.7 s with
        scikit-learn), and the booster is read only for what needs it (explanations).
        ``feature_names``: the trees' inputs, in order; each is read from a batch by name."""
        if booster is None and model_file is None:
            raise ValueError("a LambdaMART ranker needs a booster or its model file")
        # Read once: scores (the ONNX copy keyed by these bytes) and explanations (the booster, read
        # later) then come from one model even if the file is replaced in between.
        self._model_bytes = model_file.read_bytes() if booster is None and model_file is not None else None
        self._booster = Lazy(lambda: _lightgbm().Booster(model_str=self._model_text()), booster)
        self.feature_names = list(feature_names)
        if self._model_bytes is not None and (saved := _model_feature_names(self._model_bytes)) is not None \
                and saved != self.feature_names:
            raise ValueError(f"{model_file} was trained on other features than its ranker.json lists")
        self.backend = backend
        self._base: float | None = None
        self._onnx = self._onnx_session() if backend == "onnx" else None

    def _model_text(self) -> str:
        assert self._model_bytes is not None  # a ranker without a booster was given its model file
        return self._model_bytes.decode("utf-8")

    @property
    def booster(self) -> Any:
        return self._booster.get()

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, group_sizes: Sequence[int], num_rounds: int = 300,
            params: dict[str, Any] | None = None, feature_names: Sequence[str] = FEATURE_NAMES,
            backend: Literal["onnx", "lightgbm"] = "lightgbm") -> LambdaMARTRanker:
        """Train on rows grouped by query (``group_sizes`` in row order); ``feature_names`` name the
        columns of ``X``."""
        if np.shape(X)[1] != len(feature_names):
            raise ValueError(f"{np.shape(X)[1]} feature columns for {len(feature_names)} names")
        lgb = _lightgbm()
        p = {**DEFAULT_PARAMS, **(params or {})}
        # Gains may exceed LightGBM's default 0..30 label table (ESCI uses 100/10/1/0).
        p.setdefault("label_gain", list(range(int(max(y.max(), 1)) + 1)))
        ds = lgb.Dataset(np.asarray(X, np.float32), label=np.asarray(y), group=list(group_sizes),
                         feature_name=[n for n in feature_names], free_raw_data=False)
        booster = lgb.train(p, ds, num_boost_round=num_rounds)
        return cls(booster, feature_names, backend)

    def _onnx_session(self) -> Any:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            log.info("onnxruntime not installed: scoring with LightGBM")
            return None
        from shoprank.encoders import onnx_runtime

        try:
            # One thread: requests run in parallel threads already.
            if self._model_bytes is None:
                return onnx_runtime.session(self._convert(), 1)

            def convert(out: Path) -> None:
                out.write_bytes(self._convert())

            # Converted once per user, keyed by the model's content; then served without LightGBM.
            digest = hashlib.sha1(self._model_bytes).hexdigest()[:16]
            try:
                path = onnx_runtime.build_once(onnx_runtime.model_path(None, f"lambdamart-{digest}", "onnx"),
                                               convert, _converter)
            except OSError as e:  # a read-only cache: convert for this process only
                _warn_unwritable_cache(e)
                return onnx_runtime.session(self._convert(), 1)
            return onnx_runtime.session(path, 1)
        except ImportError:
            self._booster.get()  # scoring with LightGBM, which must then be there (its error names the extra)
            log.info("onnxmltools not installed: scoring with LightGBM")
            return None

    def _convert(self) -> bytes:
        import onnxmltools
        from onnxmltools.convert.common.data_types import FloatTensorType

        onx = onnxmltools.convert_lightgbm(
            self.booster, initial_types=[("input", FloatTensorType([None, len(self.feature_names)]))],
            target_opset=15)
        return bytes(onx.SerializeToString())

    def score(self, batch: CandidateBatch) -> np.ndarray:
        return self.score_matrix(batch.columns(self.feature_names))

    def score_matrix(self, X: np.ndarray) -> np.ndarray:
        """Scores of the model's input rows (columns :attr:`feature_names`; trees score each row on
        its own, so rows of many queries may mix)."""
        X = np.asarray(X, np.float32)
        if len(X) == 0:
            return np.zeros(0, np.float32)
        if self._onnx is not None:
            return self._onnx.run(None, {"input": X})[0].ravel()
        return self.booster.predict(X)

    def explain(self, batch: CandidateBatch, rows: Sequence[int] | None = None) -> np.ndarray:
        # Trees score rows independently, so only the asked rows are explained (TreeSHAP is costly).
        X = batch.columns(self.feature_names)
        return self._by_batch_columns(batch, self.contributions(X if rows is None else X[list(rows)]))

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """TreeSHAP contributions of the model's input rows ``X``, in :attr:`feature_names` order."""
        X = np.asarray(X, np.float32)
        if len(X) == 0:
            return np.zeros((0, len(self.feature_names)), np.float32)
        return self.booster.predict(X, pred_contrib=True)[:, :-1]  # last column: base_score()

    def base_score(self) -> float:
        if self._base is None:
            zero = np.zeros((1, len(self.feature_names)), np.float32)
            self._base = float(self.booster.predict(zero, pred_contrib=True)[0, -1])
        return self._base

    def feature_importance(self) -> dict[str, float]:
        gains = self.booster.feature_importance(importance_type="gain")
        return dict(sorted(zip(self.feature_names, map(float, gains)), key=lambda t: -t[1]))

    def _save(self, path: Path) -> dict[str, Any]:
        self.booster.save_model(str(path / "model.txt"))
        return {"model": "model.txt"}

    @classmethod
    def _load(cls, path: Path, meta: dict[str, Any]) -> LambdaMARTRanker:
        return cls(None, meta["features"], model_file=path / meta.get("model", "model.txt"))
