"""The ``videos`` field: read from CSV/JSONL/Parquet like ``images``, each path confined to the
media folder and checked to be a video container; a bad path is a row warning with its file and
line, the product and the other rows still go in."""
from __future__ import annotations

import json

import pytest

from shoprank.catalog.fields import row_to_product
from shoprank.catalog.loaders import load_catalog_file
from shoprank.catalog.videos import VideoRoot, container_of, video_container
from shoprank.types import Product

MP4_HEAD = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2"  # a container check reads only this


@pytest.fixture
def media(tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    (root / "demo.mp4").write_bytes(MP4_HEAD + bytes(64))
    (root / "notes.mp4").write_text("a text file named .mp4")
    (tmp_path / "outside.mp4").write_bytes(MP4_HEAD)
    return root


def test_a_row_names_its_videos_under_any_usual_column():
    assert row_to_product({"id": "1", "title": "T", "video": "a.mp4|b.webm"}).videos == ["a.mp4", "b.webm"]
    assert row_to_product({"id": "1", "title": "T", "videos": ["a.mp4"]}).videos == ["a.mp4"]
    with pytest.raises(ValueError, match="videos"):
        row_to_product({"id": "1", "title": "T", "videos": [3]})


def test_a_product_holds_at_most_ten_videos_and_refuses_absurd_lists():
    assert len(Product(id="1", title="T", videos=[f"{i}.mp4" for i in range(30)]).videos) == 10
    with pytest.raises(ValueError, match="1,000"):
        Product(id="1", title="T", videos=["v.mp4"] * 1001)


@pytest.mark.parametrize("head, fmt", [(MP4_HEAD, "mov"), (b"\x1a\x45\xdf\xa3" + bytes(8), "matroska"),
                                       (b"RIFF\0\0\0\0AVI LIST", "avi"), (b"\x89PNG\r\n\x1a\n", None), (b"", None)])
def test_containers_are_known_by_their_first_bytes(head, fmt):
    assert video_container(head) == fmt


def test_the_video_root_confines_like_the_image_root(media):
    root = VideoRoot(media)
    assert root.resolve("demo.mp4") == str(media / "demo.mp4")
    for raw, why in [("../outside.mp4", "outside the video folder"), ("notes.mp4", "not a video"),
                     ("gone.mp4", "no such file"), ("https://x.test/v.mp4", "a URL"), ("a\0b", "not a usable path")]:
        with pytest.raises(ValueError, match=why):
            root.resolve(raw)
    assert container_of(media / "demo.mp4") == "mov" and container_of(media / "gone.mp4") is None


def _rows():
    return [{"id": "ok", "title": "Demo Lamp", "videos": "demo.mp4|demo.mp4"},
            {"id": "bad", "title": "Text Lamp", "videos": "notes.mp4|../outside.mp4|demo.mp4"},
            {"id": "none", "title": "Plain Lamp"}]


@pytest.mark.parametrize("ext", ["csv", "jsonl", "parquet"])
def test_every_format_reads_videos_and_warns_of_bad_ones_by_line(media, ext):
    path = media / f"cat.{ext}"
    if ext == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    elif ext == "csv":
        path.write_text("id,title,videos\n" + "".join(f'{r["id"]},{r["title"]},{r.get("videos", "")}\n'
                                                         for r in _rows()))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq
        pq.write_table(pa.Table.from_pylist([{**r, "videos": r.get("videos")} for r in _rows()]), path)
    res = load_catalog_file(path)
    got = {p.id: p.videos for p in res.products}
    assert got == {"ok": [str(media / "demo.mp4")], "bad": [str(media / "demo.mp4")], "none": []}
    line = 3 if ext == "csv" else 2  # the header is line 1 of a CSV
    warned = [(w.line, w.message) for w in res.warnings]
    assert [m for n, m in warned if n == line and "not a video" in m and "video left out" in m]
    assert [m for n, m in warned if n == line and "outside the video folder" in m]
    assert not res.errors
