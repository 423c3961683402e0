"""Image paths in catalog rows: resolved to absolute paths, kept inside the image root,
checked to be images; a bad one is left out with a warning and its product kept."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from fakes import broken_png
from shoprank.catalog import load_catalog_file
from shoprank.catalog.images import ImageRoot


@pytest.fixture
def shop(tmp_path) -> Path:
    """tmp/shop/ holds the catalog and img/ok.png; tmp/secret.png lies outside it."""
    root = tmp_path / "shop"
    (root / "img").mkdir(parents=True)
    Image.new("RGB", (4, 4), "red").save(root / "img" / "ok.png")
    Image.new("RGB", (4, 4), "blue").save(tmp_path / "secret.png")
    (root / "img" / "notes.png").write_text("not an image")
    (root / "img" / "link.png").symlink_to(tmp_path / "secret.png")
    broken_png(root / "img" / "broken.png")
    return root


BAD_IMAGES = [
    ("absolute-outside", "/etc/passwd", "outside the image folder"),
    ("relative-escape", "../secret.png", "outside the image folder"),
    ("symlink-escape", "img/link.png", "outside the image folder"),
    ("missing", "img/nope.png", "no such file"),
    ("folder", "img", "not a file"),
    ("not-an-image", "img/notes.png", "not a readable image"),
    ("url", "https://example.com/a.png", "a URL, not a file"),
    # Opens and identifies as a PNG; its second IDAT chunk is broken (crashed the build before).
    ("broken-png-chunk", "img/broken.png", "not a readable image (SyntaxError: broken PNG file"),
]


@pytest.mark.parametrize(("raw", "reason"), [c[1:] for c in BAD_IMAGES], ids=[c[0] for c in BAD_IMAGES])
def test_bad_image_is_left_out_with_a_warning_and_the_product_kept(shop, raw, reason):
    f = shop / "cat.jsonl"
    rows = [{"id": "a", "title": "Alpha"}, {"id": "b", "title": "Beta", "images": ["img/ok.png", raw]}]
    f.write_text("\n".join(map(json.dumps, rows)))
    res = load_catalog_file(f)
    assert not res.errors and [p.id for p in res.products] == ["a", "b"]
    assert res.products[1].images == [str(shop / "img" / "ok.png")]
    assert len(res.warnings) == 1
    w = res.warnings[0]
    assert (w.source, w.line) == (str(f), 2) and reason in w.message and "image left out" in w.message


def test_image_paths_are_stored_absolute_whatever_the_working_directory(shop, tmp_path, monkeypatch):
    (shop / "cat.csv").write_text("id,title,images\na,Alpha,img/ok.png|./img/../img/ok.png\n")
    monkeypatch.chdir(shop)
    res = load_catalog_file("cat.csv")  # a relative catalog path, as typed on a command line
    monkeypatch.chdir(tmp_path)
    images = res.products[0].images
    assert images == [str((shop / "img" / "ok.png").resolve())]  # two spellings of one file
    assert all(Path(i).is_absolute() and Path(i).is_file() for i in images)


def test_an_explicit_image_root_replaces_the_catalog_folder(shop, tmp_path):
    (tmp_path / "catalogs").mkdir()
    f = tmp_path / "catalogs" / "cat.jsonl"
    rows = [{"id": "a", "title": "Alpha", "images": ["img/ok.png", str(shop / "img" / "ok.png"), "../cat.jsonl"]}]
    f.write_text("\n".join(map(json.dumps, rows)))
    res = load_catalog_file(f, image_root=shop)
    assert res.products[0].images == [str(shop / "img" / "ok.png")]
    assert [w.line for w in res.warnings] == [1] and "outside the image folder" in res.warnings[0].message


def test_each_file_is_checked_once(shop, monkeypatch):
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda p, *a, **k: opened.append(p) or real_open(p, *a, **k))
    root = ImageRoot(shop)
    assert root.resolve("img/ok.png") == root.resolve("./img/ok.png") == str(shop / "img" / "ok.png")
    assert len(opened) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_image_is_a_warning(shop):
    (shop / "img" / "ok.png").chmod(0)
    f = shop / "cat.jsonl"
    f.write_text(json.dumps({"id": "a", "title": "Alpha", "images": "img/ok.png"}))
    res = load_catalog_file(f)
    assert res.products[0].images == [] and "not a readable image" in res.warnings[0].message


def test_decoding_finds_a_photo_whose_structure_is_intact_but_pixels_are_not(shop):
    """Intact chunks and checksums, garbage pixels: a live write (decode=True) refuses it; a
    bulk import checks structure only and leaves it to the builder, which decodes every photo."""
    broken_png(shop / "img" / "garbled.png", crc_ok=True)
    with pytest.raises(ValueError, match=r"not a readable image \(OSError: broken data stream"):
        ImageRoot(shop).resolve("img/garbled.png")
    assert ImageRoot(shop, decode=False).resolve("img/garbled.png") == str(shop / "img" / "garbled.png")
