"""The image encoder and its text bridge."""
from __future__ import annotations

import numpy as np
from PIL import Image

from conftest import LUMA, needs_luma
from shoprank.encoders.image import imagenet_labels, square_pad
from shoprank.index.builder import labels_to_text


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


def test_color_histograms_ignore_white_background_and_separate_colours():
    from shoprank.encoders.color import DIM, color_histograms

    def on_white(rgb, box):
        im = Image.new("RGB", (120, 120), "white")
        im.paste(Image.new("RGB", (box, box), rgb), (10, 10))
        return im

    red_small, red_big, blue = on_white((200, 20, 20), 30), on_white((210, 30, 25), 90), on_white((20, 40, 200), 60)
    H = color_histograms([red_small, red_big, blue, Image.new("RGB", (10, 10), "white")])
    assert H.shape == (4, DIM) and np.allclose(np.linalg.norm(H, axis=1), 1.0, atol=1e-5)
    # The amount of background does not matter; the colour does.
    assert H[0] @ H[1] > 0.99 and H[0] @ H[2] < 0.05
