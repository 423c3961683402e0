"""The image encoder and its text bridge."""
from __future__ import annotations

import numpy as np
from PIL import Image

from shoprank.encoders.image import imagenet_labels, labels_to_text, square_pad

from conftest import LUMA, needs_luma


def test_labels_file_is_complete():
    labels = imagenet_labels()
    assert len(labels) == 1000 and labels[414] == "backpack" and labels[841] == "sweatshirt"


def test_square_pad_keeps_whole_product():
    tall = Image.new("RGB", (100, 300), (255, 0, 0))
    sq = square_pad(tall, 224)
    assert sq.size == (224, 224)
    assert sq.getpixel((112, 5)) == (255, 0, 0) and sq.getpixel((5, 112)) == (255, 255, 255)


def test_encode_shapes(image_encoder):
    imgs = [Image.new("RGB", (64, 48), c) for c in ("red", "blue", "white")]
    vecs, labels = image_encoder.encode(imgs)
    assert vecs.shape == (3, 1280) and np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert len(labels) == 3 and len(labels[0]) == image_encoder.top_k
    assert all(0 <= p <= 1 for _, p in labels[0])


@needs_luma
def test_recognises_a_catalog_backpack(image_encoder):
    with Image.open(LUMA / "images/product/m/b/mb02-gray-0.jpg") as im:
        _, labels = image_encoder.encode([im])
    assert labels[0][0][0] == "backpack"
    assert labels_to_text(labels[0]).startswith("a product photo of backpack")
