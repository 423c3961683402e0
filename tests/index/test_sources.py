"""Modality sources: registered by name, run in the order their reads require, pooled by rule."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from shoprank.encoders.base import POOLINGS, EncoderSet
from shoprank.encoders.fake import HashingTextEncoder, PaletteImageEncoder
from shoprank.index.encode import encode_products
from shoprank.index.sources import SOURCES, plan
from shoprank.modalities import BY_NAME, MODALITIES, ModalitySpec
from shoprank.registry import UnknownBackendError
from shoprank.types import Product, Review


def _names(steps):
    return [[spec.name for spec, _ in step.targets] for step in steps]


def test_the_label_source_runs_after_the_image_rows_it_reads_whatever_the_spec_order():
    encoders = EncoderSet(HashingTextEncoder(), PaletteImageEncoder())
    # Product videos (shoprank[video]) after, their pooled and label sources after the frames they read.
    video = [["video"], ["video_mean"], ["video_label"]] if importlib.util.find_spec("av") else []
    assert _names(plan(MODALITIES, encoders)) == [["text"], ["image", "color"], ["label"], ["review"], *video]
    label_first = (BY_NAME["label"], BY_NAME["review"], BY_NAME["color"], BY_NAME["image"], BY_NAME["text"])
    assert _names(plan(label_first, encoders)) == [["review"], ["color", "image"], ["label"], ["text"]]


def test_without_an_image_encoder_photos_and_what_reads_them_are_off():
    assert _names(plan(MODALITIES, EncoderSet(HashingTextEncoder(), None))) == [["text"], ["review"]]
    # The label modality alone, without the image rows it reads: nothing to build.
    assert plan((BY_NAME["label"],), EncoderSet(HashingTextEncoder(), PaletteImageEncoder())) == []


def test_sources_that_read_each_other_are_refused():
    from shoprank.index.sources.text import ProductTextSource

    class A(ProductTextSource):
        reads = ("b",)

    class B(ProductTextSource):
        reads = ("a",)

    SOURCES.register("test-cycle-a", A)
    SOURCES.register("test-cycle-b", B)
    specs = (ModalitySpec("a", "test-cycle-a", "text", ()), ModalitySpec("b", "test-cycle-b", "text", ()))
    with pytest.raises(ValueError, match="cycle"):
        plan(specs, EncoderSet(HashingTextEncoder(), None))


def test_an_unknown_source_names_the_known_ones():
    with pytest.raises(UnknownBackendError, match="photo_labels"):
        plan((ModalitySpec("x", "nope", "text", ()),), EncoderSet(HashingTextEncoder(), None))


def test_pooling_rules_by_hand():
    v = np.array([[3.0, 0.0], [0.0, 4.0], [1.0, 1.0], [0.0, 2.0]], np.float32)
    owners = np.array([2, 0, 2, 0])
    rows, own = POOLINGS.get("none")(v, owners)
    assert rows is v and own.tolist() == [2, 0, 2, 0]
    rows, own = POOLINGS.get("mean")(v, owners)  # owner 0: (0, 3); owner 2: (2, 0.5)
    assert own.tolist() == [0, 2]
    assert np.allclose(rows, [[0.0, 1.0], [2 / np.hypot(2, 0.5), 0.5 / np.hypot(2, 0.5)]])
    rows, own = POOLINGS.get("max")(v, owners)  # owner 0: (0, 4); owner 2: (3, 1)
    assert np.allclose(rows, [[0.0, 1.0], [3 / np.hypot(3, 1), 1 / np.hypot(3, 1)]])
    rows, own = POOLINGS.get("mean")(np.zeros((0, 2), np.float32), np.zeros(0, np.int64))
    assert rows.shape == (0, 2) and own.tolist() == []


def test_reviews_pool_per_model_and_every_variant_gets_the_mean():
    ps = [Product(id="m", title="M", reviews=[Review(rating=5, text="great fit")]),
          Product(id="m-1", parent_id="m", title="M 1", reviews=[Review(rating=3, text="runs small")]),
          Product(id="x", title="X"),
          Product(id="m-2", parent_id="m", title="M 2")]
    enc = encode_products(ps, EncoderSet(HashingTextEncoder(), None))
    rows = enc.rows["review"]
    assert rows.owners.tolist() == [0, 1, 3]  # x has no model reviews
    text = HashingTextEncoder().encode_passages(["great fit", "runs small"])
    want = text.mean(axis=0) / np.linalg.norm(text.mean(axis=0))
    assert all(np.allclose(r, want, atol=1e-6) for r in rows.vectors)
    assert enc.rows["text"].owners.tolist() == [0, 1, 2, 3]
