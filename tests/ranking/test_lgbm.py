import numpy as np
import pytest

pytest.importorskip("lightgbm", reason="pip install 'shoprank[ltr]'")

from shoprank.features.registry import FEATURE_NAMES
from shoprank.ranking import CandidateBatch, load_ranker
from shoprank.ranking.lgbm import LambdaMARTRanker
from shoprank.ranking.training import TrainingSet, query_folds


def _synthetic(n_queries=60, per_query=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_queries * per_query, len(FEATURE_NAMES))).astype(np.float32)
    signal = X[:, FEATURE_NAMES.index("cos_text")] + 0.5 * X[:, FEATURE_NAMES.index("bm25_title")]
    y = np.digitize(signal, [0.0, 0.8, 1.6])  # grades 0..3
    qids = np.repeat([f"q{i}" for i in range(n_queries)], per_query)
    return TrainingSet(X, y, qids, np.arange(len(y)).astype(str))


def test_folds_never_share_a_query():
    ts = _synthetic()
    seen_test = []
    for train, test in query_folds(ts.qids, 5):
        assert not set(ts.qids[train]) & set(ts.qids[test])
        seen_test.extend(set(ts.qids[test]))
    assert sorted(seen_test) == sorted(set(ts.qids))  # every query is tested exactly once


def test_lambdamart_learns_onnx_matches_and_explains(tmp_path):
    ts = _synthetic()
    train, test = next(query_folds(ts.qids, 5))
    tr = ts.subset(train)
    model = LambdaMARTRanker.fit(tr.X, tr.y, tr.group_sizes, num_rounds=60, backend="onnx")
    Xt, yt = ts.X[test], ts.y[test]
    s = model.score(CandidateBatch.from_features(Xt))
    # Held-out queries: the learned order agrees with the grades.
    assert np.corrcoef(s, yt)[0, 1] > 0.6
    assert np.allclose(s, model.booster.predict(Xt), atol=1e-4)  # ONNX == LightGBM
    contrib = model.explain(CandidateBatch.from_features(Xt))
    assert np.allclose(contrib.sum(axis=1) + model.base_score(), model.booster.predict(Xt), atol=1e-4)
    assert np.allclose(model.explain(CandidateBatch.from_features(Xt), [3, 1]), contrib[[3, 1]])
    top = list(model.feature_importance())[:2]
    assert set(top) == {"cos_text", "bm25_title"}
    model.save(tmp_path / "m")
    again = load_ranker(tmp_path / "m")
    assert isinstance(again, LambdaMARTRanker)
    assert np.allclose(again.score_matrix(Xt), model.booster.predict(Xt), atol=1e-4)


def test_feature_log_roundtrip(tmp_path):
    ts = _synthetic(3, 4)
    ts.to_parquet(tmp_path / "log.parquet")
    back = TrainingSet.from_parquet(tmp_path / "log.parquet")
    assert np.array_equal(back.X, ts.X) and list(back.qids) == list(ts.qids) and back.group_sizes == [4, 4, 4]
    import pandas as pd

    cols = pd.read_parquet(tmp_path / "log.parquet").columns.tolist()
    assert cols[:3] == ["query_id", "product_id", "label"] and cols[3:] == FEATURE_NAMES


def test_load_refuses_a_feature_list_its_model_file_does_not_hold(tmp_path):
    ts = _synthetic(10, 10)
    model = LambdaMARTRanker.fit(ts.X, ts.y, ts.group_sizes, num_rounds=5, backend="lightgbm")
    model.save(tmp_path / "m")
    (tmp_path / "m" / "ranker.json").write_text('{"type": "lambdamart", "features": ["a", "b"]}')
    with pytest.raises(ValueError, match="other features than its ranker.json"):
        LambdaMARTRanker.load(tmp_path / "m")


def test_a_feature_log_keeps_its_names_and_a_model_fitted_on_it_records_them(tmp_path):
    ts = _synthetic(20, 10)
    names = [f"f{j}" for j in range(ts.X.shape[1])]  # another version's features
    TrainingSet(ts.X, ts.y, ts.qids, ts.pids, names).to_parquet(tmp_path / "log.parquet")
    back = TrainingSet.from_parquet(tmp_path / "log.parquet")
    assert back.names == names and back.subset(np.arange(5)).names == names
    model = LambdaMARTRanker.fit(back.X, back.y, back.group_sizes, num_rounds=5, feature_names=back.names,
                                 backend="lightgbm")
    model.save(tmp_path / "m")
    assert load_ranker(tmp_path / "m").feature_names == names  # loads though this version computes others
    with pytest.raises(ValueError, match="feature columns for"):
        LambdaMARTRanker.fit(back.X[:, :3], back.y, back.group_sizes, feature_names=names)


def test_rows_by_query_are_each_query_once_sorted_with_its_rows_in_order():
    qids = np.array(["b", "a", "b", "c", "a", "b"], dtype=object)
    ts = TrainingSet(np.zeros((6, 1), np.float32), np.zeros(6), qids, np.arange(6).astype(str))
    got = [(q, rows.tolist()) for q, rows in ts.by_query()]
    assert got == [("a", [1, 4]), ("b", [0, 2, 5]), ("c", [3])]


@pytest.mark.slow  # a child process: only a fresh interpreter shows what an import pulls in
def test_serving_the_default_ranker_imports_neither_pandas_nor_scikit_learn():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from shoprank.ranking.default import PACKAGED\n"
        "from shoprank.ranking import CandidateBatch, load_ranker\n"
        "r = load_ranker(PACKAGED / 'default-e5')\n"
        "X = np.random.default_rng(0).normal(size=(5, r.relevance.booster.num_feature())).astype(np.float32)\n"
        "b = CandidateBatch.from_features(X, r.feature_names)\n"
        "s, c = r.score(b), r.explain(b)\n"
        "assert np.isfinite(s).all() and c.shape[0] == 5\n"
        "print(sorted(m for m in ('pandas', 'sklearn', 'pyarrow') if m in sys.modules))\n"
        "import pandas, sklearn  # still importable afterwards\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_saved_model_is_served_from_its_cached_onnx_without_lightgbm(tmp_path, monkeypatch):
    """A one-off search loads the default ranker: converted once per user, then no LightGBM import."""
    import sys

    from shoprank.config import get_settings

    pytest.importorskip("onnxmltools")
    monkeypatch.setenv("SHOPRANK_USER_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    try:
        ts = _synthetic(n_queries=20)
        model = LambdaMARTRanker.fit(ts.X, ts.y, ts.group_sizes, num_rounds=20)
        model.save(tmp_path / "m")
        load_ranker(tmp_path / "m")  # the first load converts
        monkeypatch.setitem(sys.modules, "lightgbm", None)  # `import lightgbm` raises from here on
        monkeypatch.setitem(sys.modules, "onnxmltools", None)
        again = load_ranker(tmp_path / "m")
        assert np.allclose(again.score_matrix(ts.X), model.booster.predict(ts.X), atol=1e-4)
        assert len(list((tmp_path / "cache" / "models").glob("lambdamart-*/model.onnx"))) == 1
    finally:
        get_settings.cache_clear()


@pytest.fixture
def user_cache(tmp_path, monkeypatch):
    from shoprank.config import get_settings

    pytest.importorskip("onnxmltools")
    monkeypatch.setenv("SHOPRANK_USER_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    yield tmp_path / "cache"
    get_settings.cache_clear()


def test_explanations_come_from_the_model_scored_even_if_its_file_is_replaced(tmp_path, user_cache):
    ts = _synthetic(n_queries=20)
    LambdaMARTRanker.fit(ts.X, ts.y, ts.group_sizes, num_rounds=20).save(tmp_path / "m")
    load_ranker(tmp_path / "m")  # converts once; the next load serves the cached ONNX copy
    served = load_ranker(tmp_path / "m")
    other = LambdaMARTRanker.fit(ts.X, ts.y[::-1].copy(), ts.group_sizes, num_rounds=5)
    other.booster.save_model(str(tmp_path / "m" / "model.txt"))  # a new model lands after the load
    X = ts.X[:30]
    contrib = served.explain(CandidateBatch.from_features(X))
    assert np.allclose(contrib.sum(axis=1) + served.base_score(), served.score_matrix(X), atol=1e-4)


def test_a_read_only_model_cache_converts_in_memory(tmp_path, user_cache, monkeypatch, caplog):
    from shoprank.encoders import onnx_runtime

    def read_only(*a, **k):
        raise PermissionError(13, "Read-only file system")

    ts = _synthetic(n_queries=20)
    model = LambdaMARTRanker.fit(ts.X, ts.y, ts.group_sizes, num_rounds=20)
    model.save(tmp_path / "m")
    monkeypatch.setattr(onnx_runtime, "build_once", read_only)
    monkeypatch.setattr("shoprank.ranking.lgbm._cache_warned", False)  # said once per process
    served = load_ranker(tmp_path / "m")
    assert served._onnx is not None and "converting it in memory" in caplog.text
    assert np.allclose(served.score_matrix(ts.X), model.booster.predict(ts.X), atol=1e-4)
