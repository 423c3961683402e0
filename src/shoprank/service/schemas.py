"""Request and response bodies of the HTTP API."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException
from fastapi import Query as FastAPIQuery
from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from shoprank.catalog.vocabulary import known_colors
from shoprank.retrieval.fusion import FUSION_METHODS
from shoprank.search.merch_rule import MerchRule
from shoprank.types import MAX_SEGMENTS, Event, Hit, Product, Segment, SortOrder, check_segments

# Validation context of a JSON body: types as the schema says (no "red,blue" for a list, no
# false for a number), where a form's text fields are converted.
JSON_BODY = {"json": True}


class SearchRequest(BaseModel):
    """JSON body of POST /search (the multipart form takes the same fields plus ``image``)."""

    q: str | None = Field(default=None, max_length=500)
    k: int = Field(default=10, ge=1, le=100)
    category: str | None = Field(default=None, max_length=300)
    price_min: float | None = Field(default=None, ge=0)
    price_max: float | None = Field(default=None, ge=0)
    fusion: str | None = Field(default=None, description=f"late fusion: {' | '.join(FUSION_METHODS.names())}")
    explain: bool = False  # per-feature contributions of each result ("why this result")
    collapse_variants: bool = True
    sort: SortOrder = "relevance"
    colors: list[str] = Field(default_factory=list, max_length=20)  # facet filter, any of them
    rating_min: float | None = Field(default=None, ge=0, le=5)
    in_stock: bool = False  # only products that can be bought now
    out_of_stock_last: bool = True  # demote out-of-stock products (out_of_stock_band); false: keep their rank
    user_id: str | None = Field(default=None, min_length=1, max_length=200)  # user or session id
    # A signed-out shopper's visit: personalizes when there is no user_id, and ties searches together.
    session_id: str | None = Field(default=None, min_length=1, max_length=200)
    personalize: bool = True  # False: the same search without the shopper's profile, to compare
    # False: misspelled words are searched as typed (the page's "search instead for" link).
    typo_tolerance: bool = True
    # The shopper's segments ("vip", "b2b"): merchandising rules may apply to some only.
    segments: list[Segment] = Field(default_factory=list, max_length=MAX_SEGMENTS)

    @field_validator("q", "category", "user_id", "session_id", mode="before")
    @classmethod
    def _blank_is_absent(cls, v: object) -> object:
        # "" or "  " asks for nothing: a blank category must not browse the whole catalog.
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("fusion")
    @classmethod
    def _known_fusion(cls, v: str | None) -> str | None:
        return None if v is None else FUSION_METHODS.validate(v)

    @field_validator("colors", "segments", mode="before")
    @classmethod
    def _split_lists(cls, v: object, info: ValidationInfo) -> object:
        if isinstance(v, str) and info.context != JSON_BODY:  # form fields send "red,blue"
            v = [c.strip() for c in v.split(",") if c.strip()]
        return v

    @field_validator("segments")
    @classmethod
    def _segments(cls, v: list[str]) -> list[str]:
        return check_segments(v)

    @field_validator("colors")
    @classmethod
    def _known_colors(cls, v: list[str]) -> list[str]:
        return known_colors(v)

    @model_validator(mode="after")
    def _check_range(self) -> SearchRequest:
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValueError("price_min must not exceed price_max")
        return self


def segments_param(segments: list[str] = FastAPIQuery(
        [], max_length=MAX_SEGMENTS, description="the shopper's segments (repeated, or comma-separated): "
                                                 "merchandising rules may apply to some only")) -> list[str]:
    """``segments`` of a GET request, checked as a search body's (422 with the reason)."""
    try:
        return check_segments([p.strip() for s in segments for p in s.split(",") if p.strip()])
    except ValueError as e:
        raise HTTPException(422, f"segments: {e}") from None


SegmentsDep = Annotated[list[str], Depends(segments_param)]


class ParsedQueryPublic(BaseModel):
    """What the engine understood from the query text, shown back to the shopper."""

    types: list[str] = []
    colors: list[str] = []
    sizes: list[str] = []
    gender: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    price_note: str | None = None  # a price phrase not applied, and why ("50元以下: ... prices are in USD")


class TranscriptPublic(BaseModel):
    text: str
    language: str
    duration_s: float
    backend: str
    seconds: float  # time spent transcribing
    # False: the recognizer was unsure (or heard another language), so nothing was searched; show
    # "didn't catch that" and why.
    understood: bool = True
    reason: str | None = None


class FacetValuePublic(BaseModel):
    value: str
    count: int
    min: float | None = None
    max: float | None = None


class ResultPublic(BaseModel):
    id: str
    title: str
    price: float | None
    currency: str
    rating: float | None
    review_count: int
    category: str
    image_url: str | None
    parent_id: str | None
    in_stock: bool
    stock: int | None
    score: float
    # False: not a match for the query (outside the set the facets count), shown after the matches to fill the page.
    match: bool = True
    pinned: bool = False  # placed at its position by a merchandising rule, not by its score
    rules: list[str] = []  # the merchandising rules that placed or moved it (ids; see /admin/rules)
    retrievers: dict[str, int] = {}
    explanation: dict[str, float] = {}
    # With explain, for rankers that weigh modalities (attention and late fusion): modality -> weight.
    modality_weights: dict[str, float] = {}
    # A product with videos: the one nearest the query, the second to play it from, and why.
    video_url: str | None = None
    video_t: float | None = None
    video_reason: str | None = None

    @classmethod
    def from_hit(cls, hit: Hit) -> ResultPublic:
        p = hit.product
        return cls(id=p.id, title=p.title, price=p.price, currency=p.currency, rating=p.rating,
                   review_count=p.review_count, category=p.category,
                   image_url=f"/images/{p.id}/0" if p.images else None, parent_id=p.parent_id,
                   in_stock=p.in_stock, stock=p.stock, score=round(hit.score, 6), match=hit.match, pinned=hit.pinned,
                   rules=hit.rules, retrievers=hit.retrievers,
                   explanation={k: round(v, 6) for k, v in hit.contributions.items()},
                   modality_weights={k: round(v, 4) for k, v in hit.modality_weights.items()},
                   **_video_fields(hit))


def _video_fields(hit: Hit) -> dict[str, Any]:
    m = hit.video
    if m is None or not 0 <= m.video < len(hit.product.videos):
        return {}
    return {"video_url": f"/videos/{hit.product.id}/{m.video}", "video_t": m.t, "video_reason": m.reason()}


class RewritePublic(BaseModel):
    """Another reading of the query that the search used (query understanding)."""

    text: str
    origin: str  # the rewriter: "typo", "synonym", "rule", ...
    weight: float
    replaces: bool  # true: searched instead of the query's text; false: beside it
    reason: str = ""
    edits: int = 0  # a typo correction's edits (0: not a typo correction)


class SearchResponse(BaseModel):
    # Send it back with events from this page ("search_id" and "position"): analytics and experiments join on it.
    search_id: str
    query: str | None
    transcript: TranscriptPublic | None = None  # voice queries: what was heard (then searched)
    parsed: ParsedQueryPublic | None
    # What was searched for after rewrites that replace the text, and every rewrite used.
    searched: str | None = None
    rewrites: list[RewritePublic] = []
    # The typo-corrected query (else null), and whether it was searched instead of the typed one:
    # "Showing results for did_you_mean. Search instead for query" (else "Did you mean ...?").
    did_you_mean: str | None = None
    auto_corrected: bool = False
    candidates: int
    fusion: str
    retrievers: list[str]
    photo_labels: list[tuple[str, float]] = []  # what the query photo shows, if confident (photo_label_min_confidence)
    timings_ms: dict[str, float]
    # The facets count the matching set: ``matches`` products (models, variants collapsed), of
    # which the results show those with ``match`` true, first.
    facets: dict[str, list[FacetValuePublic]] = {}
    matches: int = 0
    sort: str = "relevance"
    user_id: str | None = None
    personalized: bool = False  # the shopper's profile shaped this ranking
    profile_events: int = 0  # events in that profile (0: cold start, the non-personalized ranking)
    results: list[ResultPublic]


class SimilarResponse(BaseModel):
    id: str
    results: list[ResultPublic]


class ProductPublic(BaseModel):
    id: str
    title: str
    description: str
    price: float | None
    currency: str
    rating: float | None
    review_count: int
    categories: list[str]
    attributes: dict[str, list[str]]
    parent_id: str | None
    stock: int | None
    available: bool
    in_stock: bool
    image_urls: list[str]
    video_urls: list[str] = []  # each served with range requests (a player seeks)
    # Per photo: what the image model sees, where confident enough to show (photo_label_min_confidence).
    photo_labels: list[list[tuple[str, float]]] = []

    @classmethod
    def from_product(cls, p: Product, photo_labels: list[list[tuple[str, float]]] | None = None) -> ProductPublic:
        return cls(id=p.id, title=p.title, description=p.description, price=p.price, currency=p.currency,
                   rating=p.rating, review_count=p.review_count, categories=p.categories,
                   attributes=p.attributes, parent_id=p.parent_id, stock=p.stock, available=p.available,
                   in_stock=p.in_stock, image_urls=[f"/images/{p.id}/{i}" for i in range(len(p.images))],
                   video_urls=[f"/videos/{p.id}/{i}" for i in range(len(p.videos))],
                   photo_labels=[[(a, round(b, 4)) for a, b in labels] for labels in photo_labels or []])


class EventBatch(BaseModel):
    """Body of POST /events: ``{"events": [...]}`` (a single event object is accepted too)."""

    events: list[Event] = Field(min_length=1, max_length=1000)


class RejectedEvent(BaseModel):
    index: int
    reason: str


class EventsAccepted(BaseModel):
    accepted: int
    seq: list[int]
    rejected: list[RejectedEvent] = []
    duplicates: int = 0  # accepted events whose event_id was already logged: counted once, seq of the first


class ForgetResponse(BaseModel):
    user_id: str
    events_deleted: int
    profiles_deleted: int
    impressions_deleted: int = 0


class RecentEvent(BaseModel):
    product_id: str
    type: str
    ts: float


class ProfilePublic(BaseModel):
    """A shopper's profile as the ranker sees it (``n_events`` 0: a cold-start shopper)."""

    user_id: str
    n_events: int
    updated: float
    affinities: dict[str, dict[str, float]]  # facet family -> value -> share of that family
    recent: list[RecentEvent]  # newest last


class RecommendationsResponse(BaseModel):
    id: str
    source: str  # which model produced them, or why there are none
    results: list[ResultPublic]


class SuggestionPublic(BaseModel):
    text: str
    kind: str  # query | category | product
    product_id: str | None = None
    category: str | None = None  # a category suggestion's path: browse it


class SuggestResponse(BaseModel):
    q: str
    suggestions: list[SuggestionPublic]


class SynonymSetPublic(BaseModel):
    """A synonym set of the served index: multi-way (no ``input``) or one-way (``input`` → ``terms``)."""

    id: str
    terms: list[str]
    input: str | None = None
    description: str  # "rucksack = backpack" or "tee → t-shirt"


class SynonymsResponse(BaseModel):
    synonyms: list[SynonymSetPublic]  # by id
    version: int  # bumped by every edit


class SynonymSuggestionPublic(BaseModel):
    """A pair of terms the logs suggest as synonyms, for a person to approve (PUT it as a set)."""

    terms: list[str]
    shared_products: int  # products engaged with from queries of both terms
    reformulations: int  # sessions that moved from an unengaged query of one to an engaged one of the other
    support: int


class SynonymSuggestionsResponse(BaseModel):
    suggestions: list[SynonymSuggestionPublic]  # most supported first


class RulePublic(BaseModel):
    """A stored merchandising rule; ``active``: within its time window now."""

    id: str
    active: bool
    rule: MerchRule


class RuleList(BaseModel):
    rules: list[RulePublic]


class RuleDeleted(BaseModel):
    id: str
    deleted: bool


class ClickEstimatePublic(BaseModel):
    """Expected clicks per search on the top 10, by a position-based click model fitted on the
    query's logged pages (impressions and their click events)."""

    before: float
    after: float
    change: float
    pages: int   # logged pages of the query behind the estimate
    unseen: int  # products the log never showed for the query (taken as average)


class RulePreview(BaseModel):
    """What a rule would change: the top results of its query (or category page) as served now
    and with the rule applied (whatever its time window; replacing the stored rule ``id``, if any)."""

    id: str | None
    query: str | None
    category: str | None
    active: bool  # whether the rule would be on now, by its time window
    before: list[ResultPublic]
    after: list[ResultPublic]
    moved: int  # results of the top that changed position, came in or left
    clicks: ClickEstimatePublic | None = None
    clicks_note: str | None = None  # why there is no estimate
