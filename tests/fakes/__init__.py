"""Tiny in-memory catalogs for the fast tier: hand-made products with drawn photos."""
from __future__ import annotations

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
