"""The index builder over the modality specs, with model-free encoders."""
from __future__ import annotations

import numpy as np
import pytest

from fakes import tiny_catalog
from shoprank.encoders.base import EncoderSet
from shoprank.encoders.cache import EmbeddingCache
from shoprank.encoders.fake import HashingTextEncoder, PaletteImageEncoder
from shoprank.index.artifacts import IndexArtifacts
from shoprank.index.builder import build_index


class CountingText(HashingTextEncoder):
    def __init__(self) -> None:
        super().__init__()
        self.encoded = 0

    def encode_passages(self, texts):
        self.encoded += len(texts)
        return super().encode_passages(texts)


@pytest.fixture
def catalog(tmp_path):
    return tiny_catalog(tmp_path / "cat")


def test_every_modality_is_built_from_its_source(catalog, tmp_path):
    art = build_index(catalog, tmp_path / "idx", EncoderSet(HashingTextEncoder(), PaletteImageEncoder()))
    assert art.manifest["modalities"] == ["color", "image", "label", "review", "text"]
    mods = art.modalities
    n = len(catalog)
    assert np.array_equal(mods["text"].owners, np.arange(n))
    # One row a photo: the backpack has two, the book and the watch none.
    photos = [catalog.position(p.id) for p in catalog for _ in p.images]
    assert list(mods["image"].owners) == photos == list(mods["color"].owners) == list(mods["label"].owners)
    assert mods["image"].vectors.shape == (7, 64) and len(art.image_labels) == 7
    assert art.image_labels[0] == [("red", 1.0)]  # the palette encoder names the colour it sees
    # Reviews: one mean vector for the watch, the only product with reviews.
    assert list(mods["review"].owners) == [catalog.position("watch")]
    assert np.allclose(np.linalg.norm(mods["review"].vectors, axis=1), 1.0)
    again = IndexArtifacts.load(tmp_path / "idx")
    assert sorted(again.modalities) == sorted(mods) and len(again.catalog) == n
    assert again.photo_labels(catalog.position("backpack-green")) == [[("green", 1.0)], [("red", 1.0)]]


def test_no_image_encoder_no_photo_modalities(catalog, tmp_path):
    art = build_index(catalog, tmp_path / "idx", EncoderSet(HashingTextEncoder(), None))
    assert art.manifest["modalities"] == ["review", "text"] and art.manifest["images"] == 0


def test_warm_rebuild_encodes_nothing(catalog, tmp_path):
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    enc = CountingText()
    build_index(catalog, tmp_path / "a", EncoderSet(enc, PaletteImageEncoder()), cache)
    # 8 passages, 2 reviews and 3 distinct label phrases (of 7 photos): repeated text is encoded once.
    cold = enc.encoded
    assert cold == 8 + 2 + 3
    first = build_index(catalog, tmp_path / "a2", EncoderSet(CountingText(), PaletteImageEncoder()),
                        EmbeddingCache(tmp_path / "other.sqlite"))
    # + the 3 distinct photos (of 7 rows: identical files are decoded and encoded once) through
    # palette and rgb-hist
    assert first.manifest["encoded"] == 13 + 3 * 2
    warm = build_index(catalog, tmp_path / "b", EncoderSet(enc, PaletteImageEncoder()), cache)
    assert enc.encoded == cold and warm.manifest["encoded"] == 0
    cache.close()
