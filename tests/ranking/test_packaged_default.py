"""The shipped default models score as they did before models were bound to features by name, and
keep doing so when the feature registry gains a feature (a new modality's route, a typo feature)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from shoprank.features import registry
from shoprank.ranking import CandidateBatch, base

pytest.importorskip("lightgbm", reason="pip install 'shoprank[ltr]'")
from shoprank.ranking import default as default_mod
from shoprank.ranking.default import DefaultRanker, default_ranker

N = 12
RANGES = {"bm25_title": (0.0, 30.0), "bm25_description": (0.0, 20.0), "bm25_category": (0.0, 8.0),
          "query_terms": (1.0, 8.0), "title_words": (3.0, 40.0), "title_trigram_gap": (-1.0, 0.0),
          "cos_text": (0.72, 0.95), "rrf": (0.01, 0.033), "price_log": (1.0, 6.0), "rating": (0.0, 5.0),
          "review_count_log": (0.0, 4.0), "sales_log": (0.0, 5.0), "type_match": (-1.0, 1.0),
          "color_match": (-1.0, 1.0), "gender_match": (-1.0, 1.0)}
# The packaged models' scores of :func:`_column`'s batch, computed with the code that read columns
# by position (the commit before name binding), onnxruntime serving the trees.
EXPECTED = {
    "e5": [9.37501335144043, 5.304917335510254, 5.944637298583984, 4.404160499572754, 6.611452102661133,
           9.182950973510742, 6.808398246765137, 8.528241157531738, 7.020237922668457, 4.927988529205322,
           10.07719898223877, 6.145019054412842],
    "minilm": [9.475021362304688, 5.507636070251465, 6.020898818969727, 4.318166732788086, 6.36608362197876,
               9.466064453125, 7.09686803817749, 8.736234664916992, 7.087204933166504, 4.994090557098389,
               9.9344482421875, 6.313591957092285],
}


def _column(name: str) -> np.ndarray:
    """A fixed column per feature name, in a plausible range, ordered differently per name."""
    i = np.arange(N)
    k = sum(map(ord, name)) % 7 + 1
    lo, hi = RANGES.get(name, (0.0, 1.0))
    return lo + (hi - lo) * ((i * k + len(name)) % N) / (N - 1)


def _batch(names: list[str]) -> CandidateBatch:
    return CandidateBatch.from_features(np.column_stack([_column(n) for n in names]).astype(np.float32), names)


@pytest.mark.parametrize("encoder", sorted(EXPECTED))
def test_the_packaged_model_scores_as_before(encoder):
    model = default_ranker(encoder)
    assert isinstance(model, DefaultRanker) and model.text_encoder == encoder
    b = _batch(model.feature_names)
    s = model.score(b)
    assert s == pytest.approx(EXPECTED[encoder], abs=1e-5)
    assert model.explain(b).sum(axis=1) + model.base_score() == pytest.approx(s, abs=1e-4)


@pytest.mark.parametrize("encoder", sorted(EXPECTED))
def test_a_registry_with_one_more_feature_leaves_the_packaged_model_exact(encoder, monkeypatch):
    before = default_ranker(encoder)
    plain = _batch(before.feature_names)
    # The registry gains "cos_video" in the middle of the list, and a hand-set query feature at the end.
    names = list(registry.FEATURE_NAMES)
    names.insert(names.index("cos_image") + 1, "cos_video")
    names.append("typo_match")
    cos_image, type_match = registry.BY_NAME["cos_image"], registry.BY_NAME["type_match"]
    monkeypatch.setitem(registry.BY_NAME, "cos_video", replace(cos_image, name="cos_video"))
    monkeypatch.setitem(registry.BY_NAME, "typo_match", replace(type_match, name="typo_match"))
    monkeypatch.setattr(base, "FEATURE_NAMES", names)  # what a batch holds by default
    monkeypatch.setattr(default_mod, "HAND_SET", (*default_mod.HAND_SET, "typo_match"))
    model = default_ranker(encoder)  # loads: not the linear ranker served in its stead
    assert isinstance(model, DefaultRanker) and model.feature_names == before.feature_names
    wider = CandidateBatch(np.column_stack([_column(n) for n in names]).astype(np.float32))
    assert wider.names == names
    assert np.array_equal(model.score(wider), before.score(plain))
    assert model.score(wider) == pytest.approx(EXPECTED[encoder], abs=1e-5)
    explained = model.explain(wider)
    assert np.array_equal(explained[:, [names.index(n) for n in plain.names]], before.explain(plain))
    assert (explained[:, [names.index("cos_video"), names.index("typo_match")]] == 0).all()
