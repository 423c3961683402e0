"""Modalities and features are declared once; everything else loops over the declarations."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import shoprank
from conftest import REPO
from shoprank.features.registry import FEATURE_NAMES, FEATURES
from shoprank.modalities import MODALITIES, dense_routes, retriever_weights
from shoprank.ranking.linear import DEFAULT_WEIGHTS, PER_QUERY_SCALED

SRC = Path(shoprank.__file__).parent


def test_every_feature_has_a_description_an_explicit_weight_and_a_computation():
    assert len(set(FEATURE_NAMES)) == len(FEATURES)
    for f in FEATURES:
        assert f.description and callable(f.compute), f.name
        assert isinstance(f.weight, float) and np.isfinite(f.weight), f.name
    assert set(DEFAULT_WEIGHTS) == set(FEATURE_NAMES)
    assert PER_QUERY_SCALED == {f.name for f in FEATURES if f.scaled}


def test_dense_features_and_retrievers_come_from_the_modality_routes():
    routes = dense_routes()
    assert [r.feature for _, r in routes] == [f.name for f in FEATURES if f.group == "dense"]
    assert set(retriever_weights()) == {"bm25"} | {r.retriever for _, r in routes if r.retriever}
    assert {m.name for m in MODALITIES} == {"text", "image", "label", "review", "color", "video", "video_mean",
                                            "video_label"}
    # Text-input routes come first (the feature order that saved models were trained with).
    assert FEATURE_NAMES.index("cos_text") < FEATURE_NAMES.index("cos_label") < FEATURE_NAMES.index("cos_image")


def test_the_consumers_name_no_modality():
    # Adding a modality is a spec plus an encoder: the builder, retrievers, extractor and
    # profile signals must loop over the specs rather than name modalities.
    consumers = ["index/builder.py", "retrieval/hybrid.py", "features/extract.py", "personalization/signals.py",
                 "retrieval/similar.py", "query/understanding.py",
                 *(str(p.relative_to(SRC)) for d in ("search", "engine") for p in (SRC / d).glob("*.py"))]
    for rel in consumers:
        text = (SRC / rel).read_text()
        for name in ("color", "label", "review"):
            assert not re.search(rf"[\"']{name}[\"']", text), f"{rel} names the {name!r} modality"


def test_the_feature_reference_is_written_from_the_declarations():
    from shoprank.features.docs import markdown

    doc = (REPO / "docs" / "FEATURES.md").read_text(encoding="utf-8")  # the checkout's, the package may be a wheel
    assert doc == markdown(), "docs/FEATURES.md is stale: run `shoprank features --out docs/FEATURES.md`"
    assert all(f"`{f.name}`" in doc for f in FEATURES)
