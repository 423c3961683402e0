"""A small self-made demo catalog: bilingual products with drawn product images.

It lets the engine be tried end to end without downloading any data set. Every kind of
product comes in several colours; its image is a simple PIL drawing of the kind's
silhouette in that colour, clear enough for an ImageNet-trained encoder to place it.
Output is deterministic, so indexes built from it are reproducible.
"""
from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from PIL import Image, ImageDraw

SIZE = 320
_SS = 2  # draw at 2x and downsample: PIL primitives are not anti-aliased
RGB = tuple[int, int, int]


class _Color(NamedTuple):
    en: str
    zh: str
    rgb: RGB


COLORS: tuple[_Color, ...] = (
    _Color("Red", "红色", (205, 35, 45)),
    _Color("Blue", "蓝色", (35, 90, 200)),
    _Color("Black", "黑色", (35, 35, 38)),
    _Color("Green", "绿色", (45, 150, 70)),
    _Color("White", "白色", (244, 244, 240)),
    _Color("Yellow", "黄色", (245, 200, 35)),
    _Color("Pink", "粉色", (240, 135, 180)),
    _Color("Gray", "灰色", (135, 137, 142)),
    _Color("Orange", "橙色", (245, 130, 30)),
)


class _Palette(NamedTuple):
    fill: RGB
    dark: RGB  # outlines and seams
    shade: RGB  # the side facing away from the light
    light: RGB  # highlights


def _scale(c: RGB, f: float) -> RGB:
    return (int(c[0] * f), int(c[1] * f), int(c[2] * f))


def _mix(c: RGB, other: RGB, t: float) -> RGB:
    r, g, b = (int(a + (o - a) * t) for a, o in zip(c, other))
    return (r, g, b)


def _palette(rgb: RGB) -> _Palette:
    # Near-white fills get a mid-grey outline, otherwise white products vanish on the background.
    dark = _scale(rgb, 0.5) if sum(rgb) < 600 else (120, 120, 120)
    return _Palette(rgb, dark, _scale(rgb, 0.8), _mix(rgb, (255, 255, 255), 0.4))


class _Pen:
    """ImageDraw wrapper taking coordinates on the 320 px canvas, scaled for supersampling."""

    def __init__(self, draw: ImageDraw.ImageDraw) -> None:
        self.d = draw

    @staticmethod
    def _xy(pts: Sequence[float]) -> list[float]:
        return [v * _SS for v in pts]

    def poly(self, pts: Sequence[tuple[float, float]], fill: RGB, outline: RGB | None = None, w: int = 4) -> None:
        self.d.polygon([(x * _SS, y * _SS) for x, y in pts], fill=fill, outline=outline, width=w * _SS)

    def rect(self, box: Sequence[float], fill: RGB | None, outline: RGB | None = None, w: int = 4,
             r: float = 0) -> None:
        self.d.rounded_rectangle(self._xy(box), radius=r * _SS, fill=fill, outline=outline, width=w * _SS)

    def oval(self, box: Sequence[float], fill: RGB | None, outline: RGB | None = None, w: int = 4) -> None:
        self.d.ellipse(self._xy(box), fill=fill, outline=outline, width=w * _SS)

    def line(self, pts: Sequence[tuple[float, float]], fill: RGB, w: int = 3) -> None:
        self.d.line([(x * _SS, y * _SS) for x, y in pts], fill=fill, width=w * _SS, joint="curve")

    def arc(self, box: Sequence[float], start: float, end: float, fill: RGB, w: int = 4) -> None:
        self.d.arc(self._xy(box), start, end, fill=fill, width=w * _SS)

    def chord(self, box: Sequence[float], start: float, end: float, fill: RGB, outline: RGB | None = None,
              w: int = 4) -> None:
        self.d.chord(self._xy(box), start, end, fill=fill, outline=outline, width=w * _SS)

    def shadow(self, x0: float, x1: float, y: float) -> None:
        # A soft floor shadow makes the drawing read as a product photo rather than an icon.
        self.oval((x0, y - 10, x1, y + 10), (228, 228, 228))


_STEEL: RGB = (200, 202, 208)
_STEEL_DARK: RGB = (95, 97, 104)


def _backpack(p: _Pen, c: _Palette) -> None:
    p.shadow(70, 250, 290)
    p.arc((132, 30, 188, 90), 180, 360, c.dark, 9)  # carry loop
    p.rect((72, 95, 96, 255), c.shade, c.dark, 3, 10)  # shoulder straps peeking out
    p.rect((224, 95, 248, 255), c.shade, c.dark, 3, 10)
    p.rect((85, 58, 235, 288), c.fill, c.dark, 4, 48)
    p.rect((190, 75, 228, 280), c.shade, None, 0, 30)  # body side in shadow
    p.rect((98, 66, 222, 128), c.shade, c.dark, 3, 32)  # top lid
    p.line([(108, 128), (212, 128)], c.dark, 3)
    p.rect((108, 168, 212, 268), c.shade, c.dark, 3, 22)  # front pocket
    p.line([(116, 188), (204, 188)], c.dark, 3)  # pocket zip
    p.rect((150, 186, 162, 206), _STEEL, _STEEL_DARK, 2, 3)
    for x in (125, 195):  # compression straps with buckles
        p.line([(x, 128), (x, 168)], c.dark, 6)
        p.rect((x - 8, 140, x + 8, 152), _STEEL, _STEEL_DARK, 2, 2)
    p.line([(102, 90), (102, 250)], c.light, 4)


def _tote(p: _Pen, c: _Palette) -> None:
    p.shadow(45, 275, 294)
    p.arc((92, 40, 172, 180), 180, 360, c.dark, 10)  # two handles, offset like a real tote
    p.arc((148, 40, 228, 180), 180, 360, c.dark, 10)
    p.poly([(70, 112), (250, 112), (272, 290), (48, 290)], c.fill, c.dark, 4)
    p.poly([(205, 112), (250, 112), (272, 290), (222, 290)], c.shade)
    p.rect((70, 112, 250, 130), c.shade, c.dark, 2)  # hem band at the opening
    for x in range(76, 246, 12):  # stitching
        p.line([(x, 136), (x + 6, 136)], c.dark, 2)
    p.rect((120, 180, 200, 250), c.light, c.dark, 3, 4)  # patch pocket
    for x in (110, 210):
        p.rect((x - 6, 112, x + 6, 150), c.dark, None, 0, 2)  # handle anchors


def _shoe(p: _Pen, c: _Palette) -> None:
    p.shadow(40, 295, 262)
    upper = [(50, 228), (54, 170), (68, 140), (100, 150), (118, 128), (136, 132), (170, 160), (210, 176),
             (248, 188), (274, 200), (288, 214), (292, 228)]
    p.poly(upper, c.fill, c.dark, 4)
    p.poly([(52, 226), (54, 170), (68, 140), (86, 146), (80, 226)], c.shade)  # heel counter
    p.oval((64, 136, 116, 156), (60, 60, 62), c.dark, 3)  # collar opening
    p.poly([(102, 150), (116, 124), (136, 128), (134, 150)], c.shade, c.dark, 3)  # tongue
    p.line([(92, 212), (150, 188), (244, 206)], c.light, 9)  # side stripe
    lace = (250, 250, 250) if sum(c.fill) < 600 else c.dark
    for i in range(5):  # laces criss-crossing the throat
        x, y = 132 + i * 16, 136 + i * 8
        p.line([(x, y), (x + 14, y + 14)], lace, 4)
        p.line([(x, y + 14), (x + 14, y)], lace, 4)
    p.poly([(44, 226), (294, 226), (294, 240), (282, 254), (60, 254), (44, 244)], (246, 246, 246),
           (150, 150, 150), 3)  # foam midsole
    p.line([(58, 255), (282, 255)], (50, 50, 50), 6)  # rubber outsole
    for x in range(70, 270, 22):
        p.line([(x, 232), (x + 8, 248)], (200, 200, 200), 2)


def _tee_body(p: _Pen, c: _Palette, sleeve: list[tuple[float, float]]) -> None:
    left = [(x, y) for x, y in sleeve]
    right = [(SIZE - x, y) for x, y in reversed(sleeve)]
    body = [(95, 285), *left, (138, 46), (182, 46), *right, (225, 285)]
    p.poly(body, c.fill, c.dark, 4)
    p.poly([(185, 120), (225, 120), (225, 283), (200, 283)], c.shade)  # fold shading
    p.line([(97, 272), (223, 272)], c.dark, 2)  # hem stitch


def _tshirt(p: _Pen, c: _Palette) -> None:
    p.shadow(80, 240, 292)
    _tee_body(p, c, [(95, 118), (70, 138), (42, 102), (102, 54)])
    p.line([(52, 122), (82, 142)], c.dark, 2)  # sleeve hems
    p.line([(268, 122), (238, 142)], c.dark, 2)
    p.chord((134, 26, 186, 72), 0, 180, c.shade, c.dark, 4)  # crew neck
    p.line([(160, 80), (160, 150)], c.light, 3)


def _hoodie(p: _Pen, c: _Palette) -> None:
    p.shadow(50, 270, 294)
    p.oval((108, 12, 212, 112), c.shade, c.dark, 4)  # hood behind the shoulders
    _tee_body(p, c, [(97, 120), (80, 258), (52, 256), (66, 96), (104, 56)])
    p.oval((128, 30, 192, 110), c.shade, c.dark, 4)  # hood rim around the face opening
    p.oval((138, 40, 182, 104), _scale(c.fill, 0.45), None)
    p.rect((50, 240, 84, 262), c.shade, c.dark, 3, 4)  # ribbed cuffs and waistband
    p.rect((236, 240, 270, 262), c.shade, c.dark, 3, 4)
    p.rect((95, 262, 225, 288), c.shade, c.dark, 3, 4)
    p.poly([(118, 190), (202, 190), (220, 255), (100, 255)], c.shade, c.dark, 3)  # kangaroo pocket
    cord = (245, 245, 245) if sum(c.fill) < 600 else c.dark
    for x in (146, 174):  # drawstrings
        p.line([(x, 100), (x - 2, 164)], cord, 4)
        p.oval((x - 6, 162, x + 2, 174), cord, c.dark, 1)


def _leggings(p: _Pen, c: _Palette) -> None:
    p.shadow(80, 240, 296)
    legs = [(100, 60), (220, 60), (232, 290), (182, 290), (163, 128), (157, 128), (138, 290), (88, 290)]
    p.poly(legs, c.fill, c.dark, 4)
    p.poly([(190, 60), (220, 60), (232, 290), (206, 290)], c.shade)
    p.poly([(118, 60), (136, 60), (118, 290), (104, 290)], c.light)  # sheen of stretch fabric
    p.rect((98, 38, 222, 64), c.shade, c.dark, 4, 4)  # waistband
    p.line([(160, 64), (160, 128)], c.dark, 2)
    p.line([(88, 272), (138, 272)], c.dark, 2)
    p.line([(182, 272), (232, 272)], c.dark, 2)


def _mug(p: _Pen, c: _Palette) -> None:
    p.shadow(70, 270, 276)
    p.oval((186, 132, 268, 232), None, c.dark, 24)  # handle, outline first so the fill ring shows
    p.oval((190, 136, 264, 228), None, c.fill, 16)
    p.rect((78, 100, 222, 270), c.fill, c.dark, 4, 14)
    p.chord((78, 240, 222, 284), 0, 180, c.shade, c.dark, 4)  # rounded base
    p.rect((82, 104, 218, 262), c.fill, None, 0, 12)
    p.rect((180, 108, 214, 262), c.shade, None, 0, 10)
    p.rect((96, 118, 110, 246), c.light, None, 0, 7)  # glaze highlight
    p.oval((78, 84, 222, 118), c.shade, c.dark, 4)  # rim
    p.oval((88, 90, 212, 114), (92, 56, 30), None)  # coffee
    for x in (125, 160, 195):  # steam
        p.arc((x - 10, 30, x + 10, 55), 90, 270, (205, 205, 205), 3)
        p.arc((x - 10, 55, x + 10, 80), 270, 90, (205, 205, 205), 3)


def _watch(p: _Pen, c: _Palette) -> None:
    p.shadow(90, 230, 300)
    p.rect((128, 8, 192, 312), c.fill, c.dark, 4, 14)  # strap
    p.rect((172, 12, 188, 308), c.shade, None, 0, 8)
    for y in (238, 258, 278):
        p.oval((154, y, 166, y + 10), c.dark, None)  # strap holes
    p.rect((130, 40, 190, 56), _STEEL, _STEEL_DARK, 3, 3)  # buckle
    for x0, x1 in ((116, 136), (184, 204)):  # lugs
        p.rect((x0, 86, x1, 234), _STEEL, _STEEL_DARK, 3, 6)
    p.rect((222, 148, 240, 172), _STEEL, _STEEL_DARK, 3, 4)  # crown
    p.oval((94, 94, 226, 226), _STEEL, _STEEL_DARK, 5)  # case
    p.oval((106, 106, 214, 214), (250, 250, 248), _STEEL_DARK, 2)  # dial
    cx = cy = 160.0
    for k in range(12):
        a = math.radians(k * 30)
        r0 = 40 if k % 3 else 36
        p.line([(cx + r0 * math.sin(a), cy - r0 * math.cos(a)), (cx + 48 * math.sin(a), cy - 48 * math.cos(a))],
               (30, 30, 30), 3 if k % 3 else 5)
    p.line([(cx, cy), (cx + 22, cy - 16)], (25, 25, 25), 6)  # hour hand near 10:10
    p.line([(cx, cy), (cx - 28, cy - 32)], (25, 25, 25), 4)
    p.line([(cx, cy + 10), (cx + 8, cy - 44)], (210, 30, 30), 2)  # seconds
    p.oval((cx - 5, cy - 5, cx + 5, cy + 5), (25, 25, 25), None)


def _bottle(p: _Pen, c: _Palette) -> None:
    p.shadow(95, 225, 296)
    p.rect((134, 56, 186, 110), c.shade, c.dark, 4, 6)  # neck
    p.rect((108, 90, 212, 290), c.fill, c.dark, 4, 38)
    p.rect((176, 100, 208, 284), c.shade, None, 0, 26)
    p.rect((120, 120, 134, 266), c.light, None, 0, 7)
    p.rect((108, 176, 212, 216), c.shade, c.dark, 3)  # grip band
    p.arc((140, 6, 180, 44), 180, 360, (45, 45, 48), 7)  # carry loop on the cap
    p.rect((126, 24, 194, 62), (55, 55, 58), (25, 25, 25), 4, 8)  # cap
    for x in range(136, 190, 9):
        p.line([(x, 30), (x, 56)], (85, 85, 88), 2)


@dataclass(frozen=True)
class _Kind:
    slug: str
    en: str
    zh: str
    noun: str  # used in review text
    category: str
    price: float
    draw: Callable[[_Pen, _Palette], None]
    description: str  # English, "{color}" is the lower-case colour
    description_zh: str  # Chinese, "{color}" is the Chinese colour word
    attributes: dict[str, list[str]]


KINDS: tuple[_Kind, ...] = (
    _Kind("backpack", "Trail Backpack", "登山背包", "backpack", "Bags/Backpacks", 59.0, _backpack,
          "A water-resistant {color} nylon daypack with padded shoulder straps, a zipped front pocket and a "
          "sleeve for a 15-inch laptop. Roomy enough for day hikes and the daily commute.",
          "{color}防水双肩背包，适合徒步和通勤。",
          {"gender": ["Unisex"], "material": ["Nylon"]}),
    _Kind("tote-bag", "Canvas Tote Bag", "帆布托特包", "tote", "Bags/Totes", 24.0, _tote,
          "A sturdy {color} cotton canvas tote with long shoulder handles and an outside patch pocket. "
          "Carries groceries, books or a beach towel.",
          "{color}大容量帆布包，购物和上班都方便。",
          {"gender": ["Women"], "material": ["Canvas", "Cotton"]}),
    _Kind("running-shoe", "Running Shoe", "跑步鞋", "shoes", "Shoes/Running Shoes", 89.0, _shoe,
          "A lightweight {color} running shoe with a breathable mesh upper and a cushioned foam midsole. "
          "Built for road runs and everyday training.",
          "{color}轻便透气跑鞋，缓震舒适，适合日常跑步。",
          {"gender": ["Unisex"], "size": ["7", "8", "9", "10", "11"], "material": ["Mesh", "Rubber"]}),
    _Kind("t-shirt", "Crew Neck T-Shirt", "圆领T恤", "t-shirt", "Men/Tops/Tees", 19.0, _tshirt,
          "A soft {color} crew neck t-shirt in breathable cotton jersey with a regular fit. "
          "An easy layer for warm days.",
          "{color}纯棉圆领短袖T恤，柔软透气。",
          {"gender": ["Men"], "size": ["S", "M", "L", "XL"], "material": ["Cotton"]}),
    _Kind("hoodie", "Pullover Hoodie", "连帽卫衣", "hoodie", "Men/Tops/Hoodies", 49.0, _hoodie,
          "A warm {color} pullover hoodie in brushed fleece with a drawstring hood and a kangaroo pocket. "
          "Ribbed cuffs keep out the cold.",
          "{color}加绒连帽卫衣，保暖舒适，秋冬必备。",
          {"gender": ["Men"], "size": ["S", "M", "L", "XL"], "material": ["Cotton", "Polyester"]}),
    _Kind("yoga-leggings", "Yoga Leggings", "瑜伽裤", "leggings", "Women/Bottoms/Pants", 39.0, _leggings,
          "High-waisted {color} yoga leggings in four-way stretch fabric that wicks sweat. "
          "Squat-proof for yoga, the gym or running.",
          "{color}高腰弹力瑜伽裤，适合瑜伽和健身。",
          {"gender": ["Women"], "size": ["XS", "S", "M", "L"], "material": ["Nylon", "Spandex"]}),
    _Kind("coffee-mug", "Ceramic Coffee Mug", "陶瓷咖啡杯", "mug", "Home/Kitchen/Mugs", 12.0, _mug,
          "A glazed {color} ceramic coffee mug that holds 350 ml. "
          "Dishwasher and microwave safe.",
          "{color}陶瓷马克杯，可用于洗碗机和微波炉。",
          {"material": ["Ceramic"]}),
    _Kind("wrist-watch", "Classic Wrist Watch", "经典腕表", "watch", "Accessories/Watches", 129.0, _watch,
          "A classic analog wrist watch with a stainless steel case and a {color} leather strap. "
          "Water resistant to 50 metres.",
          "{color}表带石英手表，简约百搭，防水五十米。",
          {"gender": ["Unisex"], "material": ["Stainless Steel", "Leather"]}),
    _Kind("water-bottle", "Insulated Water Bottle", "保温水杯", "bottle", "Home/Kitchen/Water Bottles", 25.0,
          _bottle,
          "A double-wall insulated {color} stainless steel water bottle with a leak-proof cap. "
          "Keeps drinks cold for 24 hours.",
          "{color}不锈钢保温水杯，保冷二十四小时。",
          {"material": ["Stainless Steel"]}),
)

# (rating, title, text); "{noun}" and "{color}" are filled in per product.
_REVIEWS: tuple[tuple[int, str, str], ...] = (
    (5, "Love it", "Great {noun}, the {color} is exactly as pictured and it feels well made."),
    (5, "Perfect gift", "Bought this {noun} for my sister and she uses it every day."),
    (4, "Good value", "Solid {noun} for the price. Shipping took a little longer than expected."),
    (4, "Nice colour", "The {color} looks even better in person. Would buy again."),
    (3, "It's okay", "Does the job, but the finish on this {noun} could be better."),
    (2, "Disappointed", "The {color} faded after a few weeks and I expected more."),
    (5, "非常满意", "质量很好，颜色和图片一样，推荐购买。"),
    (4, "不错", "做工不错，性价比高，物流也很快。"),
    (3, "一般", "还可以，但是做工有点粗糙。"),
)
_AUTHORS = ("Emma", "Liam", "Sofia", "Noah", "Mia", "Lucas", "王芳", "李明", "张伟")


def _draw(kind: _Kind, rgb: RGB, path: Path) -> None:
    img = Image.new("RGB", (SIZE * _SS, SIZE * _SS), (255, 255, 255))
    kind.draw(_Pen(ImageDraw.Draw(img)), _palette(rgb))
    img.resize((SIZE, SIZE), Image.Resampling.LANCZOS).save(path, optimize=False)


def _product(kind: _Kind, color: _Color, rng: random.Random) -> dict[str, Any]:
    pid = f"demo-{kind.slug}-{color.en.lower()}"
    reviews = [
        {"rating": r, "title": t, "text": x.format(noun=kind.noun, color=color.en.lower()),
         "author": rng.choice(_AUTHORS)}
        for r, t, x in rng.sample(_REVIEWS, rng.randint(0, 3))
    ]
    # Prices end in .99 like a shop's and stay inside a believable band.
    price = min(149.0, max(9.99, round(kind.price * rng.uniform(0.8, 1.25)) - 0.01))
    description = f"{kind.description.format(color=color.en.lower())} {kind.description_zh.format(color=color.zh)}"
    return {
        "id": pid,
        "title": f"{color.en} {kind.en} {color.zh}{kind.zh}",
        "description": description,
        "categories": [kind.category],
        "attributes": {"color": [color.en], **kind.attributes},
        "price": price,
        "rating": round(rng.uniform(3.0, 5.0), 1),
        "review_count": rng.randint(len(reviews), 400),
        "sales": rng.randint(5, 2000),
        "reviews": reviews,
        "images": [f"images/{pid}.png"],
    }


def write_demo_catalog(out_dir: str | Path, n_per_kind: int = 6) -> Path:
    """Write products.jsonl and drawn product images (PNG) under out_dir; return the path of products.jsonl."""
    if not 1 <= n_per_kind <= len(COLORS):
        raise ValueError(f"n_per_kind must be between 1 and {len(COLORS)}, got {n_per_kind}")
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    rows = []
    for k, kind in enumerate(KINDS):
        for j in range(n_per_kind):
            # Rotate the colour list per kind so that every colour shows up across kinds.
            color = COLORS[(3 * k + j) % len(COLORS)]
            row = _product(kind, color, rng)
            _draw(kind, color.rgb, out / row["images"][0])
            rows.append(row)
    path = out / "products.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path
