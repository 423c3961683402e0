"""The modalities, declared once.

A :class:`ModalitySpec` says what a modality encodes from each product (its source: a
registered :class:`shoprank.index.sources.Source` that collects the inputs, encodes them and
pools them into rows), which encoder makes its vectors, and how queries meet it (its
:class:`Route` s: which query input, which retriever, which ranking feature). The index
builder, the retrievers, the feature extractor and the personalization signals all loop
over :data:`MODALITIES`; adding a modality is one spec here plus one encoder or source file.

The BM25 fields are declared here too (:data:`LEXICAL_FIELDS`): the lexical index and the
``bm25_<field>`` ranking features both read them.

Query inputs a route can match:

- ``"text"``: the query text (or a voice query's transcript), by the text encoder;
- ``"photo"``: the query photo, by *this modality's* encoder (photo features for
  ``image``, a colour histogram for ``color``);
- ``"photo_labels"``: what the image encoder sees in the query photo, as a text phrase
  embedded by the text encoder (the text bridge; no joint text-image model ships offline).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from shoprank.types import Product

QueryInput = Literal["text", "photo", "photo_labels"]


@dataclass(frozen=True)
class Route:
    """One way a query meets a modality: a dense retriever and/or a cosine ranking feature."""

    query: QueryInput
    feature: str                  # ranking feature: best cosine between the query and the product's rows
    description: str
    linear_weight: float          # the feature's default weight in the linear ranker
    retriever: str | None = None  # the retriever's name in fusion and explanations (None: a feature only)
    retriever_weight: float = 0.0  # its weight in late fusion
    # Only when the image encoder embeds photos in the text encoder's space (a CLIP-like model).
    joint_only: bool = False


@dataclass(frozen=True)
class ModalitySpec:
    """One modality: what it encodes, with which encoder, and how queries reach it."""

    name: str          # folder in the index, key of its vectors everywhere
    source: str        # a registered source (shoprank.index.sources.SOURCES): product_text: one passage a
    #                    product; reviews: mean of a model's reviews; photos: one row a photo;
    #                    photo_labels: a photo's top image labels as text
    encoder: str       # "text" / "image": the configured encoder; else a registered image encoder's name
    routes: tuple[Route, ...]
    # Items touched feed a profile's taste vector; feature ``user_<name>`` with this linear weight.
    taste_weight: float | None = None
    similar_weight: float = 0.0     # weight in "similar items" (products' own vectors compared)
    # Only in an index whose catalog gives it rows (product videos): a catalog without any
    # indexes, retrieves and encodes queries exactly as before the modality existed.
    sparse: bool = False

    def query_key(self, route: Route) -> str:
        """Key of the query vector ``route`` needs in :attr:`~shoprank.query.plan.QueryPlan.vectors`."""
        if route.query == "photo":
            return f"photo:{self.name}"
        return route.query


MODALITIES: tuple[ModalitySpec, ...] = (
    ModalitySpec(
        "text", "product_text", "text",
        (Route("text", "cos_text", "cosine(query text, product text), multilingual", 2.0, "text", 1.0),
         Route("photo_labels", "cos_photo_text", "cosine(labels seen in the query photo, product text)", 0.5,
               "photo_text", 0.5)),
        taste_weight=0.5, similar_weight=1.0),
    ModalitySpec(
        "image", "photos", "image",
        (Route("photo", "cos_image", "cosine(query photo, product photo)", 3.0, "image", 1.5),
         Route("text", "cos_text_image", "cosine(query text, product photo) with a joint text-image encoder",
               2.0, "text_image", 1.0, joint_only=True)),
        taste_weight=0.3, similar_weight=1.0),
    ModalitySpec(
        "label", "photo_labels", "text",
        (Route("text", "cos_label", "cosine(query text, labels the image model sees in the product photo)", 0.5,
               "label", 0.5),)),
    ModalitySpec(
        "review", "reviews", "text",
        (Route("text", "cos_review", "cosine(query text, mean review embedding)", 0.2, "review", 0.3),)),
    ModalitySpec(
        "color", "photos", "rgb-hist",
        (Route("photo", "cos_color", "similarity of the colour histograms of query photo and product photo", 1.0),)),
    # Product videos (shoprank[video]): keyframes in the photos' space, their mean, their labels as text.
    ModalitySpec(
        "video", "video_frames", "image",
        (Route("photo", "cos_video", "best cosine(query photo, a keyframe of the product's videos)", 1.0, "video",
               1.0),), sparse=True),
    ModalitySpec(
        "video_mean", "video_pooled", "image",
        (Route("photo", "cos_video_mean", "cosine(query photo, the mean of the product's video keyframes)", 0.5),),
        sparse=True),
    ModalitySpec(
        "video_label", "video_labels", "text",
        (Route("text", "cos_video_label", "cosine(query text, labels the image model sees in the product's video "
               "frames)", 0.3, "video_label", 0.3),), sparse=True),
)

BY_NAME: dict[str, ModalitySpec] = {m.name: m for m in MODALITIES}


def dense_routes(specs: tuple[ModalitySpec, ...] = MODALITIES) -> list[tuple[ModalitySpec, Route]]:
    """Every (modality, route), text-input routes first: the order of the dense features."""
    order = {"text": 0, "photo_labels": 1, "photo": 1}
    pairs = [(m, r) for m in specs for r in m.routes]
    return sorted(pairs, key=lambda mr: order[mr[1].query])  # stable: spec order within an input


def retriever_weights(specs: tuple[ModalitySpec, ...] = MODALITIES) -> dict[str, float]:
    """Default late-fusion weight of every retriever: BM25 plus each route that retrieves."""
    out = {"bm25": 1.0}  # words in title/description/category/attributes/reviews
    out.update({r.retriever: r.retriever_weight for m in specs for r in m.routes if r.retriever})
    return out


@dataclass(frozen=True)
class LexicalField:
    """One BM25 field: what it holds of a product, its boost, and its ranking feature ``bm25_<name>``."""

    name: str
    text: Callable[[Product], str]  # the field's text, before analysis
    boost: float        # multi-field BM25 weight: a title hit says more than a description hit
    weight: float       # the default linear weight of ``bm25_<name>``
    description: str    # of ``bm25_<name>``


LEXICAL_FIELDS: tuple[LexicalField, ...] = (
    LexicalField("title", lambda p: p.title, 3.0, 1.0, "BM25 of the query in the title"),
    LexicalField("description", lambda p: p.description, 1.0, 0.3, "BM25 in the description"),
    LexicalField("category", lambda p: " ".join(c.replace("/", " ") for c in p.categories), 2.0, 0.8,
                 "BM25 in the category path"),
    LexicalField("attributes", lambda p: " ".join(f"{k.replace('_', ' ')} {' '.join(v)}"
                                                  for k, v in p.attributes.items()), 1.5, 0.4,
                 "BM25 in attribute names and values"),
    LexicalField("reviews", lambda p: " ".join(f"{r.title} {r.text}" for r in p.reviews), 0.5, 0.1,
                 "BM25 in review text"),
)
