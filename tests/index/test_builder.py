"""The index builder over the modality specs, with model-free encoders."""
from __future__ import annotations

import numpy as np
import pytest

from fakes import broken_png, tiny_catalog
from shoprank.catalog import Catalog
from shoprank.encoders.base import EncoderSet
from shoprank.encoders.cache import SQLiteEmbeddingCache
from shoprank.encoders.fake import HashingTextEncoder, PaletteImageEncoder
from shoprank.index.artifacts import IndexArtifacts
from shoprank.index.builder import build_index
from shoprank.types import Product


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
    cache = SQLiteEmbeddingCache(tmp_path / "cache.sqlite")
    enc = CountingText()
    build_index(catalog, tmp_path / "a", EncoderSet(enc, PaletteImageEncoder()), cache)
    # 8 passages, 2 reviews and 3 distinct label phrases (of 7 photos): repeated text is encoded once.
    cold = enc.encoded
    assert cold == 8 + 2 + 3
    first = build_index(catalog, tmp_path / "a2", EncoderSet(CountingText(), PaletteImageEncoder()),
                        SQLiteEmbeddingCache(tmp_path / "other.sqlite"))
    # + the 3 distinct photos (of 7 rows: identical files are decoded and encoded once) through
    # palette and rgb-hist
    assert first.manifest["encoded"] == 13 + 3 * 2
    warm = build_index(catalog, tmp_path / "b", EncoderSet(enc, PaletteImageEncoder()), cache)
    assert enc.encoded == cold and warm.manifest["encoded"] == 0
    cache.close()


def test_a_photo_that_does_not_decode_is_left_out_and_its_product_indexed(catalog, tmp_path):
    """A broken PNG chunk raised SyntaxError out of the build: nothing was indexed."""
    folder = tmp_path / "cat"
    bad = [broken_png(folder / "chunk.png"), broken_png(folder / "pixels.png", crc_ok=True), str(folder / "gone.png")]
    good = str(folder / "mug-red.png")
    odd = Product(id="odd", title="Quibbleton Lamp", images=[bad[0], good, bad[1], bad[2]])
    cat = Catalog([*catalog, odd])
    art = build_index(cat, tmp_path / "idx", EncoderSet(HashingTextEncoder(), PaletteImageEncoder()))
    assert art.manifest["photos_left_out"] == 3
    assert art.catalog.get("odd").images == [good]  # served as indexed
    pos = art.catalog.position("odd")
    mods = art.modalities
    assert len(mods["image"].vectors) == sum(len(p.images) for p in art.catalog) == 8 == len(art.image_labels)
    assert list(mods["image"].owners) == list(mods["color"].owners) == list(mods["label"].owners)
    assert list(mods["image"].owners).count(pos) == 1
    assert art.lexical.search("quibbleton", 3)[0][0] == pos


def _variants_catalog(folder) -> Catalog:
    """The tiny catalog plus a model whose variants are apart in the catalog, reviews on two of
    them, and a photo that does not decode."""
    from fakes import photo
    from shoprank.types import Review

    base = list(tiny_catalog(folder))
    bad = broken_png(folder / "bad.png")
    tee = [Product(id=f"tee-{i}", parent_id="tee" if i else None, title=f"Trail Tee {i}",
                   images=[photo(folder / f"tee-{i}.png", "blue"), bad] if i != 2 else [],
                   reviews=[Review(rating=4, text=f"Soft, size {i} fits")] if i in (1, 3) else [])
           for i in range(4)]
    tee[0] = tee[0].model_copy(update={"id": "tee"})
    return Catalog([tee[0], *base[:3], tee[1], *base[3:6], tee[2], *base[6:], tee[3]])


@pytest.mark.parametrize("batch_size", [1, 2, 5])
def test_a_batched_build_equals_a_whole_catalog_build(tmp_path, batch_size):
    enc = EncoderSet(HashingTextEncoder(), PaletteImageEncoder())
    whole = build_index(_variants_catalog(tmp_path / "cat"), tmp_path / "whole", enc)
    batched = build_index(_variants_catalog(tmp_path / "cat"), tmp_path / "batched", enc, batch_size=batch_size)
    assert sorted(whole.modalities) == sorted(batched.modalities) == ["color", "image", "label", "review", "text"]
    for name, mod in whole.modalities.items():
        other = batched.modalities[name]
        assert mod.vectors.tobytes() == other.vectors.tobytes() and np.array_equal(mod.owners, other.owners), name
    assert whole.image_labels == batched.image_labels
    # The tee's reviews pool over its variants wherever they sit: every variant has the model's mean.
    tee = [whole.catalog.position(f"tee-{i}") for i in (1, 2, 3)] + [whole.catalog.position("tee")]
    assert set(tee) <= set(whole.modalities["review"].owners.tolist())
    assert [p.images for p in whole.catalog] == [p.images for p in batched.catalog]  # the bad photo taken off
    assert whole.manifest["photos_left_out"] == batched.manifest["photos_left_out"] == 1

    def same(m):
        return {k: v for k, v in m.items() if k not in ("timings", "built_at")}

    assert same(whole.manifest) == same(batched.manifest)
    for q in ("trail tee", "hoodie", "soft fits", "watch"):
        assert whole.lexical.search(q, 20) == batched.lexical.search(q, 20)


def test_batches_never_split_a_model():
    from shoprank.index.encode import product_batches

    ps = [Product(id=i, title=i, parent_id=parent) for i, parent in
          [("a", None), ("a1", "a"), ("b", None), ("c", None), ("a2", "a"), ("d", None), ("e", None)]]
    assert [list(r) for r in product_batches(ps, 2)] == [[0, 1, 2, 3, 4], [5, 6]]
    assert [list(r) for r in product_batches(ps, 1)] == [[0, 1, 2, 3, 4], [5], [6]]
    assert [list(r) for r in product_batches(ps, 100)] == [list(range(7))]
    assert list(product_batches([], 3)) == []
