"""Records that flow through shoprank: products in, queries in, hits out."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

FusionMethod = str  # a name in shoprank.retrieval.fusion.FUSION_METHODS ("rrf", "linear")
SortOrder = Literal["relevance", "price_asc", "price_desc", "rating"]
EventType = Literal["view", "click", "cart", "purchase"]
# Review and sales counts above this are garbage, not popularity: left in, one would outrank every product.
MAX_COUNT = 10**9
# A price above this is a unit or paste mistake in any currency; far above it, float32 features overflow.
MAX_PRICE = 1e12


@dataclass(frozen=True, slots=True)
class Cap:
    """How much of one product field is kept: longer text (characters) or a longer list
    (entries) is cut to ``kept``; above ``refused`` it is an error, as no real catalog writes
    that much. Every per-product structure (index, autocomplete, encoder windows) then stays bounded."""

    kept: int
    refused: int


# Documented in the README ("Field caps"). kept == refused: never cut (an id cut short would collide).
CAPS: dict[str, Cap] = {
    "id": Cap(200, 200),
    "parent_id": Cap(200, 200),
    "title": Cap(500, 4_000),
    "description": Cap(20_000, 2_000_000),
    "categories": Cap(20, 1_000),
    "category": Cap(300, 4_000),  # one category path
    "attributes": Cap(100, 1_000),  # attribute names
    "attribute name": Cap(100, 100),
    "attribute values": Cap(20, 1_000),  # values of one attribute
    "attribute value": Cap(200, 4_000),
    "images": Cap(20, 1_000),
    "image": Cap(1_000, 1_000),  # one path
    "videos": Cap(10, 1_000),
    "video": Cap(1_000, 1_000),  # one path
    "reviews": Cap(100, 10_000),
    "review title": Cap(300, 4_000),
    "review text": Cap(5_000, 200_000),
    "author": Cap(200, 4_000),
    "url": Cap(2_000, 8_000),
    "currency": Cap(10, 10),
}

STORED: dict[str, Any] = {"stored": True}  # validation context of data already accepted once


def cap(name: str, v: Any, info: ValidationInfo | None = None) -> Any:
    """``v`` cut to :data:`CAPS` ``[name]`` (text, list or dict), or ValueError when it is absurdly long.

    Validation context ``{"stored": True}`` (a catalog or write log written before these caps)
    cuts instead of refusing, so stored data always loads; ``{"notes": [...]}`` collects what was cut."""
    c = CAPS[name]
    if not isinstance(v, (str, list, tuple, dict)) or len(v) <= c.kept:
        return v
    ctx = info.context if info is not None and isinstance(info.context, dict) else {}
    unit = "characters" if isinstance(v, str) else "entries"
    if len(v) > c.refused and not ctx.get("stored"):
        what = "" if info is not None and name == info.field_name else f"{name}: "  # the error's place names it
        raise ValueError(f"{what}{len(v):,} {unit}; at most {c.refused:,} are accepted")
    if c.kept == c.refused:
        return v
    notes = ctx.get("notes")
    if isinstance(notes, list):
        notes.append(f"{name}: {len(v):,} {unit}, the first {c.kept:,} kept")
    return dict(list(v.items())[:c.kept]) if isinstance(v, dict) else v[:c.kept]


class Review(BaseModel):
    """One shopper review of a product."""

    model_config = ConfigDict(frozen=True)

    rating: float | None = Field(default=None, ge=0, le=5, allow_inf_nan=False)
    title: str = ""
    text: str = ""
    author: str | None = None

    @field_validator("title", "text", "author", mode="before")
    @classmethod
    def _cap(cls, v: Any, info: ValidationInfo) -> Any:
        return cap("author" if info.field_name == "author" else f"review {info.field_name}", v, info)


class Product(BaseModel):
    """A catalog item after validation.

    ``categories`` holds full paths such as ``"Men/Tops/Hoodies & Sweatshirts"``; the
    first one is the primary path. ``parent_id`` groups colour/size variants of one
    model so results can be collapsed to the best variant.
    """

    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    description: str = ""
    attributes: dict[str, list[str]] = Field(default_factory=dict)
    categories: list[str] = Field(default_factory=list)
    # Not finite would be stored as JSON null, i.e. silently "no price".
    price: float | None = Field(default=None, ge=0, le=MAX_PRICE, allow_inf_nan=False)
    currency: str = "USD"
    rating: float | None = Field(default=None, ge=0, le=5, allow_inf_nan=False)
    review_count: int = Field(default=0, ge=0, le=MAX_COUNT)
    sales: int = Field(default=0, ge=0, le=MAX_COUNT)
    reviews: list[Review] = Field(default_factory=list)
    images: list[str] = Field(default_factory=list)
    videos: list[str] = Field(default_factory=list)  # demo or review clips, as images: paths in the media root
    # Set by the index, not a catalog column: (video, second) of each indexed keyframe, in the
    # order of the video modality's rows, so a hit can say which moment matched.
    video_frames: list[tuple[int, float]] = Field(default_factory=list)
    parent_id: str | None = None
    url: str | None = None
    # Units on hand (None: not tracked) and whether the shop sells it now; see ``in_stock``.
    stock: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    available: bool = True

    @field_validator("id", "title")
    @classmethod
    def _strip(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be blank")
        return v

    @field_validator("id", "parent_id", "title", "description", "url", "currency", mode="before")
    @classmethod
    def _cap_text(cls, v: Any, info: ValidationInfo) -> Any:
        if info.field_name in ("id", "parent_id", "title") and isinstance(v, str):
            v = v.strip()  # before the cap: 600 spaces and a word is the word, not 500 spaces
        return cap(str(info.field_name), v, info)

    @field_validator("price", "review_count", "sales", "stock", mode="before")
    @classmethod
    def _clamp_stored(cls, v: Any, info: ValidationInfo) -> Any:
        # Data accepted before these bounds existed loads clamped to them, never refused: an
        # acknowledged write (or a built catalog) must not stop the index from opening.
        ctx = info.context if isinstance(info.context, dict) else {}
        if ctx.get("stored") and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            top = MAX_PRICE if info.field_name == "price" else MAX_COUNT
            return min(v, top) if info.field_name == "price" else min(int(v), int(top))
        return v

    @field_validator("categories", "images", "videos", "reviews", mode="before")
    @classmethod
    def _cap_list(cls, v: Any, info: ValidationInfo) -> Any:
        v = cap(str(info.field_name), v, info)
        each = {"categories": "category", "images": "image", "videos": "video"}.get(str(info.field_name))
        return [cap(each, x, info) for x in v] if each and isinstance(v, (list, tuple)) else v

    @field_validator("attributes", mode="before")
    @classmethod
    def _listify(cls, v: Any, info: ValidationInfo) -> Any:
        # Accept {"color": "Red"} as well as {"color": ["Red", "Blue"]}.
        if isinstance(v, dict):
            out: dict[str, list[str]] = {}
            for k, val in cap("attributes", v, info).items():
                vals = val if isinstance(val, (list, tuple)) else [val]
                vals = [cap("attribute value", str(x).strip(), info)
                        for x in cap("attribute values", vals, info) if x is not None and str(x).strip()]
                if vals:
                    out[cap("attribute name", str(k).strip().lower(), info)] = vals
            return out
        return v

    @property
    def category(self) -> str:
        return self.categories[0] if self.categories else ""

    @property
    def in_stock(self) -> bool:
        """Can be bought now: available, and units on hand where stock is tracked."""
        return self.available and (self.stock is None or self.stock > 0)

    @property
    def group_id(self) -> str:
        return self.parent_id or self.id

    def attr(self, name: str) -> list[str]:
        return self.attributes.get(name, [])


class Filters(BaseModel):
    """Hard constraints applied before ranking (also what a facet click sets)."""

    category: str | None = None
    price_min: float | None = Field(default=None, ge=0)
    price_max: float | None = Field(default=None, ge=0)
    colors: list[str] = Field(default_factory=list)  # canonical colour names ("red"); any of them
    rating_min: float | None = Field(default=None, ge=0, le=5)
    in_stock: bool = False  # True: only products that can be bought now

    def accepts(self, p: Product, colors: set[str] | None = None) -> bool:
        """Whether ``p`` passes; ``colors`` are its canonical colours when already known."""
        if self.category:
            want = self.category.strip().lower().strip("/")
            paths = [c.lower() for c in p.categories]
            if not any(c == want or c.startswith(want + "/") or want in c.split("/") for c in paths):
                return False
        if self.price_min is not None and (p.price is None or p.price < self.price_min):
            return False
        if self.price_max is not None and (p.price is None or p.price > self.price_max):
            return False
        if self.rating_min is not None and (p.rating is None or p.rating < self.rating_min):
            return False
        if self.in_stock and not p.in_stock:
            return False
        if self.colors:
            if colors is None:
                from shoprank.catalog.vocabulary import product_colors  # the vocabulary imports Product

                colors = product_colors(p)
            if not colors.intersection(c.lower() for c in self.colors):
                return False
        return True

    @property
    def empty(self) -> bool:
        return (self.category is None and self.price_min is None and self.price_max is None and not self.colors
                and self.rating_min is None and not self.in_stock)


class Event(BaseModel):
    """One shopper interaction. ``user_id`` or ``session_id`` (or both) says whose it is.

    ``ts`` is Unix seconds; left out, the time the event is recorded is used. The service
    also bounds it to the plausible (:func:`event_time_problem`); imports and simulations
    may use any finite time.
    """

    model_config = ConfigDict(frozen=True)

    user_id: str | None = Field(default=None, min_length=1, max_length=200)
    session_id: str | None = Field(default=None, min_length=1, max_length=200)
    product_id: str = Field(min_length=1, max_length=200)
    type: EventType
    query: str | None = Field(default=None, max_length=500)
    ts: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    # The search whose results page the product was on (its response's ``search_id``), and
    # where on that page (1 = first): what analytics, click models and experiments join on.
    search_id: str | None = Field(default=None, min_length=1, max_length=64)
    position: int | None = Field(default=None, ge=1, le=1000)
    # The client's own id for the event: sent again (a retry after a timeout), it is not counted twice.
    event_id: str | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _has_owner(self) -> Event:
        if self.user_id is None and self.session_id is None:
            raise ValueError("an event needs a user_id or a session_id")
        return self

    @property
    def owner(self) -> str:
        """Whose profile the event updates: the user when known, else the session."""
        return self.user_id or self.session_id  # type: ignore[return-value]


EARLIEST_EVENT_TS = 946_684_800.0  # 2000-01-01: anything older is a unit or clock mistake
MAX_EVENT_FUTURE_S = 24 * 3600.0  # clock skew a client may have


def event_time_problem(ts: float, now: float) -> str | None:
    """Why ``ts`` (Unix seconds) cannot be a live shopper's event time at ``now``, or None.

    Milliseconds are refused, not converted: a client that sends them has other clocks wrong too."""
    if ts > 1e11:  # Unix seconds reach 1e11 in the year 5138; milliseconds passed it in 1973
        return f"ts: {ts:.0f} looks like milliseconds; send Unix seconds"
    if ts < EARLIEST_EVENT_TS:
        return f"ts: {ts:g} is before 2000-01-01; send Unix seconds"
    if ts > now + MAX_EVENT_FUTURE_S:
        return f"ts: {ts:.0f} is more than a day in the future"
    return None


MAX_SEGMENTS = 10
SEGMENT_PATTERN = r"^[a-z0-9_-]{1,50}$"
_SEGMENT = re.compile(SEGMENT_PATTERN)
# One shopper segment in a request or rule body (the schema tells clients the pattern).
Segment = Annotated[str, Field(pattern=SEGMENT_PATTERN)]


def check_segments(segments: list[str]) -> list[str]:
    """Shopper segments as a search carries them and a rule names them ("vip", "b2b"): at most
    :data:`MAX_SEGMENTS`, each 1 to 50 of ``a-z 0-9 _ -``; raises ValueError naming the bad one."""
    if len(segments) > MAX_SEGMENTS:
        raise ValueError(f"at most {MAX_SEGMENTS} segments, not {len(segments)}")
    for seg in segments:
        if not isinstance(seg, str) or not _SEGMENT.match(seg):
            raise ValueError(f"segment {str(seg)[:60]!r}: 1 to 50 of a-z, 0-9, '_' and '-'")
    return list(dict.fromkeys(segments))


@dataclass(slots=True)
class Query:
    """A shopper's request: text, a photo (encoded bytes), or both."""

    text: str | None = None
    image: bytes | None = None
    # A video query's keyframes (RGB PIL images, decoded under bounds): pooled into one query photo.
    frames: list[Any] = field(default_factory=list)
    k: int = 10
    filters: Filters = field(default_factory=Filters)
    fusion: FusionMethod | None = None
    collapse_variants: bool = True
    explain: bool = False
    sort: SortOrder = "relevance"
    out_of_stock_last: bool = True  # demote what cannot be bought now (Settings.out_of_stock_band); False: keep rank
    user_id: str | None = None      # whose profile personalizes the ranking (user or session id)
    personalize: bool = True        # False: the non-personalized ranking, e.g. to compare
    typo_tolerance: bool = True     # False: misspellings are searched as typed ("search instead for")
    # The shopper's segments ("vip", "b2b"; see check_segments): merchandising rules may name them.
    segments: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class VideoMoment:
    """Where in a product's videos a query matched best."""

    video: int      # index in Product.videos
    t: float        # seconds from the start
    cosine: float
    by: str         # the query input that matched: "photo" or "text"

    def reason(self) -> str:
        m, s = divmod(int(self.t), 60)
        return f"frame at {m}:{s:02d} matched {'your photo' if self.by == 'photo' else 'your words'}"


@dataclass(slots=True)
class Hit:
    """One ranked result with the evidence behind its score."""

    product: Product
    score: float
    features: dict[str, float] = field(default_factory=dict)
    contributions: dict[str, float] = field(default_factory=dict)
    retrievers: dict[str, int] = field(default_factory=dict)  # retriever -> 1-based rank
    # How much each modality weighed in the score, for rankers that weigh them (attention, late fusion).
    modality_weights: dict[str, float] = field(default_factory=dict)
    # Matches the query (for a search: in the set its facets count); False: fills the page after the matches.
    match: bool = True
    pinned: bool = False  # placed at its slot by a rule, not by its score
    rules: list[str] = field(default_factory=list)  # the merchandising rules that placed or moved it
    video: VideoMoment | None = None  # the product video's moment nearest the query, if it has one


def describe_error(err: Exception) -> str:
    """One line a person can act on: ``"price: Input should be a valid number; id: ..."``."""
    if isinstance(err, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in err.errors())
    return str(err)


@dataclass(slots=True)
class RowError:
    """A catalog row that could not be ingested, and why."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"
