"""The video modality on the model-free encoders: keyframes retrieved by a query photo with the
second that matched, their mean and label bridge, bad videos left out, live writes, and a
catalog without videos indexed and searched exactly as before."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("av", reason="pip install 'shoprank[video]'")

from fakes import tiny_catalog
from shoprank.catalog import Catalog
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.index.live import CatalogWrite
from shoprank.service.schemas import ResultPublic
from shoprank.types import Product, Query
from video_clips import make_clip

VIDEO_MODALITIES = {"video", "video_mean", "video_label"}


def _png(rgb: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), rgb).save(buf, "PNG")
    return buf.getvalue()


YELLOW = _png((230, 220, 40))  # in the lamp's video from 0:02 to 0:04, in no photo


def _settings(folder: Path) -> Settings:
    return Settings(home=folder / "home", text_encoder="hashing", image_encoder="palette", profile_store="memory",
                    catalog_poll_s=0)


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> ShopRank:
    folder = tmp_path_factory.mktemp("video-index")
    cat = tiny_catalog(folder / "cat")
    lamp = make_clip([("blue", 2), ("yellow", 2), ("white", 2)], folder / "cat" / "lamp.mp4")
    (folder / "cat" / "broken.mp4").write_bytes(lamp[:40] + bytes(200))
    products = [*cat.products,
                Product(id="lamp", title="Desk Lamp", videos=[str(folder / "cat" / "lamp.mp4")]),
                Product(id="torch", title="Pocket Torch", images=cat.get("mug-red").images,
                        videos=[str(folder / "cat" / "broken.mp4")])]
    s = _settings(folder)
    return ShopRank.build(Catalog(products), s.index_dir("tiny"), s)


def test_a_catalog_with_videos_indexes_every_keyframe_and_its_second(engine):
    art = engine.artifacts
    assert VIDEO_MODALITIES <= set(art.modalities)
    lamp = engine.product("lamp")
    assert lamp.video_frames[0] == (0, 0.0) and (0, 2.0) in lamp.video_frames and (0, 4.0) in lamp.video_frames
    pos = art.catalog.position("lamp")
    assert len(art.modalities["video"].rows_of(pos)) == len(lamp.video_frames) == len(
        art.modalities["video_label"].rows_of(pos))
    assert len(art.modalities["video_mean"].rows_of(pos)) == 1


def test_a_video_that_does_not_decode_is_taken_off_its_product(engine):
    torch = engine.product("torch")
    assert torch.videos == [] and torch.video_frames == [] and torch.images  # the rest is indexed
    assert not len(engine.artifacts.modalities["video"].rows_of(engine.artifacts.catalog.position("torch")))


def test_a_photo_query_finds_the_frame_and_says_which_second(engine):
    res = engine.search(Query(image=YELLOW, k=10, explain=True))
    assert "video" in res.retrievers
    hit = next(h for h in res.hits if h.product.id == "lamp")
    assert hit.retrievers["video"] == 1 and hit.features["cos_video"] == pytest.approx(1.0, abs=1e-5)
    assert 0 < hit.features["cos_video_mean"] < 1
    assert hit.video is not None and hit.video.by == "photo" and 2.0 <= hit.video.t < 4.0
    public = ResultPublic.from_hit(hit)
    assert public.video_url == "/videos/lamp/0" and public.video_t == hit.video.t
    assert public.video_reason == f"frame at 0:0{int(hit.video.t)} matched your photo"
    assert all(h.video is None for h in res.hits if h.product.id != "lamp")


def test_a_text_query_reaches_frames_through_their_labels(engine):
    res = engine.search(Query(text="yellow", k=10, explain=True))
    hit = next(h for h in res.hits if h.product.id == "lamp")
    assert "video_label" in hit.retrievers and hit.features["cos_video_label"] > 0
    assert hit.video is not None and hit.video.by == "text" and 2.0 <= hit.video.t < 4.0


def test_a_live_write_extends_the_video_modality(engine, tmp_path):
    clip = tmp_path / "kettle.mp4"
    make_clip([("red", 1), ("yellow", 1)], clip)
    engine.write([CatalogWrite.put(Product(id="kettle", title="Kettle", videos=[str(clip)]))])
    kettle = engine.product("kettle")
    assert [t for _, t in kettle.video_frames][:1] == [0.0] and (0, 1.0) in kettle.video_frames
    hit = next(h for h in engine.search(Query(image=YELLOW, k=10)).hits if h.product.id == "kettle")
    assert "video" in hit.retrievers and hit.video is not None and hit.video.t == pytest.approx(1.0)
    # A price change keeps the frames (no new encoding); the same product written again re-indexes them.
    engine.write([CatalogWrite.put(kettle.model_copy(update={"price": 9.0}))])
    assert engine.product("kettle").video_frames == kettle.video_frames
    engine.write([CatalogWrite.put(Product(id="kettle", title="Kettle", videos=[str(clip)]))])
    assert engine.product("kettle").video_frames == kettle.video_frames
    reopened = ShopRank.open(engine.settings.index_dir("tiny"), engine.settings)  # the write log replayed
    again = next(h for h in reopened.search(Query(image=YELLOW, k=10)).hits if h.product.id == "kettle")
    assert again.video is not None and again.video.t == pytest.approx(1.0)


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> ShopRank:
    folder = tmp_path_factory.mktemp("no-video")
    s = _settings(folder)
    return ShopRank.build(tiny_catalog(folder / "cat"), s.index_dir("tiny"), s)


def test_a_catalog_without_videos_holds_no_video_modality(plain):
    assert not VIDEO_MODALITIES & set(plain.artifacts.modalities)
    assert not VIDEO_MODALITIES & set(plain.artifacts.manifest["modalities"])


@pytest.mark.parametrize("query", [Query(image=YELLOW, k=5, explain=True), Query(text="green backpack", k=5,
                                                                                explain=True)])
def test_without_videos_searches_retrieve_and_score_as_before(plain, query):
    res = plain.search(query)
    assert not {"video", "video_label"} & set(res.retrievers)
    batch = plain.candidates(query).batch
    video_cols = [j for j, n in enumerate(batch.names) if "video" in n]
    assert video_cols and not batch.X[:, video_cols].any()  # the features exist, all zero
    assert all(h.video is None for h in res.hits)


def test_a_query_photo_is_encoded_once_for_photos_and_frames(engine, monkeypatch):
    from shoprank.encoders.fake import PaletteImageEncoder

    calls: list[int] = []
    real = PaletteImageEncoder.encode
    monkeypatch.setattr(PaletteImageEncoder, "encode", lambda self, ims: calls.append(len(ims)) or real(self, ims))
    vectors = engine.candidates(Query(image=YELLOW, k=5)).batch.query_vectors
    assert calls == [1]
    assert np.array_equal(vectors["photo:image"], vectors["photo:video"])


def test_an_unchanged_video_is_not_decoded_again(engine, tmp_path, monkeypatch):
    """A rebuild reads an unchanged video's keyframes from the embedding cache, by its content."""
    import shoprank.encoders.video_decode as vd

    def refuse(*_a, **_k):
        raise AssertionError("decoded again")

    monkeypatch.setattr(vd, "decode_video", refuse)
    s = engine.settings
    again = ShopRank.build(Catalog([engine.product("lamp")]), tmp_path / "again", s)
    assert again.product("lamp").video_frames == engine.product("lamp").video_frames
    assert np.array_equal(_frame_vectors(again, "lamp"), _frame_vectors(engine, "lamp"))


def _frame_vectors(engine: ShopRank, pid: str) -> np.ndarray:
    mod = engine.artifacts.modalities["video"]
    return mod.vectors[mod.rows_of(engine.artifacts.catalog.position(pid))]
