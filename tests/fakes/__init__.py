"""Tiny in-memory catalogs for the fast tier: hand-made products with drawn photos."""
from __future__ import annotations

import json
import random
import struct
import zlib
from pathlib import Path

from PIL import Image

from shoprank.catalog import Catalog
from shoprank.types import Product, Review

COLORS = {"red": (200, 30, 30), "blue": (30, 60, 200), "green": (40, 150, 50)}


def photo(path: Path, color: str) -> str:
    img = Image.new("RGB", (64, 80), "white")
    img.paste(COLORS[color], (12, 12, 52, 68))
    img.save(path)
    return str(path)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def broken_png(path: Path, color: str = "red", crc_ok: bool = False) -> str:
    """A PNG whose header is valid, so it opens and identifies, but whose pixels cannot be read.

    ``crc_ok=False``: its pixel data is split over two IDAT chunks and the second one's name is
    garbage (Pillow: ``SyntaxError: broken PNG file``), which a structure check finds.
    ``crc_ok=True``: the chunks and checksums are intact but the compressed pixels are garbage
    (``OSError: broken data stream``), which only decoding finds."""
    photo(path, color)
    raw = path.read_bytes()
    at = raw.index(b"IDAT") - 4
    size = struct.unpack(">I", raw[at:at + 4])[0]
    data = raw[at + 8:at + 8 + size]
    if crc_ok:
        broken = _chunk(b"IDAT", data[:2] + bytes(b ^ 0x5A for b in data[2:]))
    else:
        half = len(data) // 2
        broken = _chunk(b"IDAT", data[:half]) + struct.pack(">I", len(data) - half) + b"\x00\xff\x00\xff" \
            + data[half:] + b"\0\0\0\0"
    path.write_bytes(raw[:at] + broken + _chunk(b"IEND", b""))
    return str(path)


def tiny_catalog(folder: Path) -> Catalog:
    """Eight products: a hoodie model in three colour variants (one parent), two mugs, a
    backpack, a book without a photo, and a watch with reviews."""
    folder.mkdir(parents=True, exist_ok=True)
    ps = [
        *[Product(id=f"hoodie-{c}", parent_id="hoodie", title=f"{c.title()} Fleece Hoodie",
                  description="A warm fleece hoodie with a zip.", categories=["Men/Tops/Hoodies"], price=50 + i,
                  attributes={"color": [c.title()], "gender": ["Men"], "size": ["M", "L"]},
                  images=[photo(folder / f"hoodie-{c}.png", c)], rating=4.0)
          for i, c in enumerate(COLORS)],
        Product(id="mug-red", title="Red Ceramic Coffee Mug", description="A mug for coffee or tea.",
                categories=["Home/Kitchen"], price=12, attributes={"color": ["Red"]},
                images=[photo(folder / "mug-red.png", "red")], sales=40),
        Product(id="mug-blue", title="Blue Ceramic Coffee Mug", description="A mug for coffee or tea.",
                categories=["Home/Kitchen"], price=11, attributes={"color": ["Blue"]},
                images=[photo(folder / "mug-blue.png", "blue")]),
        Product(id="backpack-green", title="Green Hiking Backpack", description="A 30 litre pack for day hikes.",
                categories=["Gear/Bags"], price=80, attributes={"color": ["Green"]},
                images=[photo(folder / "backpack-green.png", "green"), photo(folder / "backpack-green-2.png", "red")]),
        Product(id="book", title="Field Guide to Birds", description="Birds of Europe, illustrated.",
                categories=["Books"], price=25),
        Product(id="watch", title="Steel Wrist Watch", description="Quartz watch with a steel band.",
                categories=["Gear/Watches"], price=120, rating=4.5, review_count=2,
                reviews=[Review(rating=5, title="Keeps time", text="Accurate and sturdy watch"),
                         Review(rating=4, title="Nice", text="Looks good on the wrist")]),
    ]
    return Catalog(ps)


_COLORS = ["red", "blue", "green", "black", "white", "grey", "yellow", "purple"]
_MATERIALS = ["cotton", "wool", "steel", "oak", "leather", "glass", "linen", "bamboo"]
_ITEMS = ["shirt", "mug", "chair", "bag", "lamp", "scarf", "bowl", "desk", "jacket", "vase"]
MARKER = "zorblat"  # the one word in one product's title per shop catalog


def shop_rows(version: str, n: int = 300, marker_at: int = 0) -> list[dict]:
    """``n`` catalog rows with ids ``<version>-0000``..., titles shuffled per version, and one
    product, at ``marker_at``, titled "Zorblat Lamp" (in Home/Lighting): the product BM25 finds for "zorblat" says
    which catalog answered, and whether its hits map to the right products."""
    rng = random.Random(version)
    titles = [f"{c.title()} {m.title()} {i.title()}" for c in _COLORS for m in _MATERIALS for i in _ITEMS]
    rng.shuffle(titles)
    rows = [{"id": f"{version}-{k:04d}", "title": titles[k % len(titles)], "description": "Plain and useful.",
             "categories": "Home/Things", "price": 10 + k % 50} for k in range(n)]
    rows[marker_at].update(title=f"{MARKER.title()} Lamp", categories="Home/Lighting")
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def shop_catalog(version: str, n: int = 300, marker_at: int = 0) -> Catalog:
    return Catalog([Product(**{**r, "categories": [r["categories"]]}) for r in shop_rows(version, n, marker_at)])


def tiny_engine(folder: Path):
    """The tiny catalog built into an engine on the model-free encoders."""
    from shoprank.config import Settings
    from shoprank.engine import ShopRank

    s = Settings(home=folder / "home", text_encoder="hashing", image_encoder="palette", profile_store="memory")
    return ShopRank.build(tiny_catalog(folder / "cat"), s.index_dir("tiny"), s)


def cli_runner(tmp_path, monkeypatch):
    """A CLI runner over a fresh home with the model-free encoders (shared by the CLI tests)."""
    from shoprank.config import get_settings

    monkeypatch.setenv("SHOPRANK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHOPRANK_TEXT_ENCODER", "hashing")
    monkeypatch.setenv("SHOPRANK_IMAGE_ENCODER", "none")
    get_settings.cache_clear()
    from typer.testing import CliRunner

    yield CliRunner()
    get_settings.cache_clear()
