"""Touch-list (a), index side: a new modality whose source pools several inputs per product
(the frames of a video) is added with one spec and one source file, then built, extended by a
live write, and retrieved by its dense route."""
from __future__ import annotations

import numpy as np
import pytest
from video_source import VIDEO, FrameEncoder, VideoFrames

from fakes import photo, tiny_catalog
from shoprank.encoders.base import IMAGE_ENCODERS, EncoderSet, l2_normalize
from shoprank.encoders.color import color_histograms
from shoprank.encoders.fake import HashingTextEncoder, PaletteImageEncoder
from shoprank.features.extract import FeatureExtractor
from shoprank.index.builder import build_index
from shoprank.index.live import CatalogWrite, apply_writes
from shoprank.index.sources import SOURCES
from shoprank.index.sources.photos import encode_query_photo, load_image
from shoprank.modalities import MODALITIES
from shoprank.query.plan import QueryPlan
from shoprank.retrieval.hybrid import DenseRetriever
from shoprank.types import Product

SPECS = (*MODALITIES, VIDEO)


@pytest.fixture(autouse=True)
def registered():
    SOURCES.register("fake_video_frames", VideoFrames)
    IMAGE_ENCODERS.register("fake-frames", FrameEncoder)


def _mean_of_frames(paths: list[str]) -> np.ndarray:
    return l2_normalize(color_histograms([load_image(p) for p in paths]).mean(axis=0)[None])[0]


def test_a_pooled_modality_is_built_extended_live_and_retrieved(tmp_path):
    catalog = tiny_catalog(tmp_path / "cat")
    encoders = EncoderSet(HashingTextEncoder(), PaletteImageEncoder())
    art = build_index(catalog, tmp_path / "idx", encoders, specs=SPECS)
    plain = build_index(tiny_catalog(tmp_path / "cat"), tmp_path / "plain", encoders)
    assert "fake_video" in art.manifest["modalities"] and "fake_video" not in plain.manifest["modalities"]
    for name, mod in plain.modalities.items():  # the other modalities are as they were
        assert np.array_equal(art.modalities[name].vectors, mod.vectors)
    video = art.modalities["fake_video"]
    # One row per product with frames, the mean of its frames: the backpack's two pool into one.
    assert list(video.owners) == [pos for pos, p in enumerate(catalog) if p.images]
    pack = catalog.get("backpack-green")
    [row] = video.rows_of(catalog.position("backpack-green"))
    assert np.allclose(video.vectors[row], _mean_of_frames(pack.images), atol=1e-6)

    # A live write adds a product with three frames; its pooled row is searchable at once.
    frames = [photo(tmp_path / f"f{i}.png", c) for i, c in enumerate(["green", "blue", "blue"])]
    clip = Product(id="clip", title="Quibbleton Clip", images=frames)
    done = apply_writes(art, FeatureExtractor(art), [CatalogWrite.put(clip)], lambda: encoders, lambda: None,
                        specs=SPECS)
    assert done.added == 1
    pos = art.catalog.position("clip")
    assert len(art.modalities["fake_video"].rows_of(pos)) == 1
    q = QueryPlan(vectors={"photo:fake_video": _mean_of_frames(frames)})
    route = VIDEO.routes[0]
    retriever = DenseRetriever(route.retriever, VIDEO.name, VIDEO.query_key(route))
    hits = retriever.run(art, q, 3)
    assert hits[0][0] == pos and hits[0][1] == pytest.approx(1.0, abs=1e-5)


def test_a_query_photo_reaches_the_pooled_modality(tmp_path):
    # The modality takes the query photo by its "photo" route, whatever its source.
    encoders = EncoderSet(HashingTextEncoder(), PaletteImageEncoder())
    path = photo(tmp_path / "q.png", "green")
    img = load_image(path)
    assert img is not None
    vectors, _ = encode_query_photo(img, {"image", "color", "fake_video"}, encoders, encoders.text.encode_query, SPECS)
    assert {"photo:image", "photo:color", "photo:fake_video"} <= set(vectors)
    assert np.allclose(vectors["photo:fake_video"], _mean_of_frames([path]), atol=1e-6)
