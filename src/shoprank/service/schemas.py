"""Request and response bodies of the HTTP API."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from shoprank.types import Hit, Product


class SearchRequest(BaseModel):
    """JSON body of POST /search (the multipart form takes the same fields plus ``image``)."""

    q: str | None = Field(default=None, max_length=500)
    k: int = Field(default=10, ge=1, le=100)
    category: str | None = Field(default=None, max_length=300)
    price_min: float | None = Field(default=None, ge=0)
    price_max: float | None = Field(default=None, ge=0)
    fusion: Literal["rrf", "linear"] | None = None
    explain: bool = False  # per-feature contributions of each result ("why this result")
    collapse_variants: bool = True

    @model_validator(mode="after")
    def _check_range(self) -> "SearchRequest":
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValueError("price_min must not exceed price_max")
        return self


class ParsedQueryPublic(BaseModel):
    colors: list[str] = []
    sizes: list[str] = []
    gender: str | None = None
    price_min: float | None = None
    price_max: float | None = None


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
    score: float
    retrievers: dict[str, int] = {}
    explanation: dict[str, float] = {}

    @classmethod
    def from_hit(cls, hit: Hit) -> "ResultPublic":
        p = hit.product
        return cls(id=p.id, title=p.title, price=p.price, currency=p.currency, rating=p.rating,
                   review_count=p.review_count, category=p.category,
                   image_url=f"/images/{p.id}/0" if p.images else None, parent_id=p.parent_id,
                   score=round(hit.score, 6), retrievers=hit.retrievers,
                   explanation={k: round(v, 6) for k, v in hit.contributions.items()})


class SearchResponse(BaseModel):
    query: str | None
    parsed: ParsedQueryPublic | None
    candidates: int
    fusion: str
    retrievers: list[str]
    photo_labels: list[tuple[str, float]] = []
    timings_ms: dict[str, float]
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
    image_urls: list[str]
    photo_labels: list[list[tuple[str, float]]] = []  # per photo: what the image model sees (text bridge)

    @classmethod
    def from_product(cls, p: Product, photo_labels: list[list[tuple[str, float]]] | None = None) -> "ProductPublic":
        return cls(id=p.id, title=p.title, description=p.description, price=p.price, currency=p.currency,
                   rating=p.rating, review_count=p.review_count, categories=p.categories,
                   attributes=p.attributes, parent_id=p.parent_id,
                   image_urls=[f"/images/{p.id}/{i}" for i in range(len(p.images))],
                   photo_labels=[[(a, round(b, 4)) for a, b in labels] for labels in photo_labels or []])
