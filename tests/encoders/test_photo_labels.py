"""Photo labels reach shoppers only where the classifier is confident; ranking still reads them all."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from fakes import tiny_catalog
from shoprank.config import Settings
from shoprank.encoders.base import confident_labels
from shoprank.encoders.fake import PaletteImageEncoder
from shoprank.engine import ShopRank
from shoprank.service import create_app
from shoprank.types import Query


class UnsurePalette(PaletteImageEncoder):
    """The palette encoder, but as unsure as ImageNet is of a shoe: "binder 38 % · envelope 20 %"."""

    def encode(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, list[list[tuple[str, float]]]]:
        vecs, labels = super().encode(images)
        return vecs, [[(lab[0][0], 0.38), ("envelope", 0.2)] for lab in labels]


@pytest.fixture(scope="module")
def unsure(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("unsure")
    s = Settings(home=tmp / "home", text_encoder="hashing", image_encoder="palette", profile_store="memory",
                 log_impressions=False)
    return ShopRank.build(tiny_catalog(tmp / "cat"), s.index_dir("tiny"), s, image_encoder=UnsurePalette())


def test_confident_labels_keep_only_those_at_or_above_the_threshold():
    labels = [("backpack", 0.9), ("mailbag", 0.81), ("binder", 0.38)]
    assert confident_labels(labels, 0.81) == [("backpack", 0.9), ("mailbag", 0.81)]
    assert confident_labels(labels, 0.95) == []
    assert Settings().photo_label_min_confidence == pytest.approx(0.81)  # measured: benchmarks/photo_labels.py


def test_unsure_labels_are_not_shown_but_the_photo_still_searches(unsure):
    photo = open(unsure.artifacts.catalog.get("mug-blue").images[0], "rb").read()
    res = unsure.search(Query(image=photo, k=3))
    assert res.photo_labels == []
    # The text bridge still reads the labels.
    assert res.hits[0].product.id in ("mug-blue", "hoodie-blue") and "photo_text" in res.retrievers
    lenient = ShopRank(unsure.artifacts, unsure.settings.model_copy(update={"photo_label_min_confidence": 0.3}),
                       unsure.text_encoder, unsure.image_encoder)
    assert lenient.search(Query(image=photo, k=3)).photo_labels == [("blue", 0.38)]


def test_product_page_shows_no_unsure_labels(unsure):
    with TestClient(create_app(unsure)) as client:
        body = client.get("/products/mug-blue").json()
        search = client.post("/search", files={"image": ("m.png", open(
            unsure.artifacts.catalog.get("mug-blue").images[0], "rb").read(), "image/png")}).json()
    assert body["photo_labels"] == [[]] * len(body["image_urls"]) and body["image_urls"]
    assert search["photo_labels"] == [] and search["results"]
