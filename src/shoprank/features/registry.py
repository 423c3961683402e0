"""The ranking features, declared once.

Each :class:`Feature` names one column: what it means, how it is computed (a function of
the per-query :class:`~shoprank.features.extract.FeatureContext`), whether the linear
ranker min-max scales it within the query, its default linear weight, and the value a model
reading it falls back to when a candidate batch lacks the column (``missing``). The same ordered
list builds the matrix at serving time, names the columns of training logs, weights the
linear ranker and labels each contribution in a result's explanation. The dense features
come from the modality routes (:mod:`shoprank.modalities`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from shoprank.modalities import LEXICAL_FIELDS, MODALITIES, dense_routes

if TYPE_CHECKING:
    from shoprank.features.extract import FeatureContext

Group = Literal["lexical", "dense", "fusion", "product", "query", "personal"]
Compute = Callable[["FeatureContext"], np.ndarray]


@dataclass(frozen=True)
class Feature:
    name: str
    description: str
    group: Group
    weight: float          # default weight in the linear ranker
    compute: Compute
    scaled: bool = False   # min-max scaled within the query before the linear ranker (scores whose scale varies)
    # What a model that reads this feature gets from a batch without the column: the value the
    # extractor gives when the feature's input is absent (0 for every feature today).
    missing: float = 0.0


def _bm25(field: str) -> Compute:
    return lambda c: c.bm25(field)


def _cosine(modality: str, query_key: str, joint_only: bool) -> Compute:
    return lambda c: c.cosine(modality, query_key, joint_only)


def _static(name: str) -> Compute:
    return lambda c: c.static(name)


def _personal(name: str) -> Compute:
    return lambda c: c.personal(name)


_LEXICAL = [
    *(Feature(f"bm25_{f.name}", f.description, "lexical", f.weight, _bm25(f.name), True) for f in LEXICAL_FIELDS),
    # The next four are for learned rankers: hand weights found no use for them.
    Feature("title_coverage", "share of the query's terms found in the title (stemmed)", "lexical", 0.0,
            lambda c: c.coverage("title")),
    Feature("description_coverage", "share of the query's terms found in the description (stemmed)", "lexical",
            0.0, lambda c: c.coverage("description")),
    Feature("title_phrase", "1 if the whole query appears verbatim in the title", "lexical", 0.0,
            lambda c: c.title_phrase()),
    Feature("query_terms", "number of terms in the query (lets a learned ranker treat short and long queries apart)",
            "lexical", 0.0, lambda c: c.query_terms()),
    # Surface matches BM25's whole stemmed terms miss (features/title_match.py); learned rankers only.
    Feature("title_prefix_cover", "share of the query's words whose first four letters begin a title word "
            "(plurals, stems, cut-off words)", "lexical", 0.0, lambda c: c.title_prefix_cover()),
    Feature("title_numbers", "share of the query's numbers (sizes, model numbers) found in the title, 0 if it "
            "has none", "lexical", 0.0, lambda c: c.title_numbers()),
    Feature("title_trigram_cos", "cosine of the query's and the title's character-trigram sets (typos, spacing, "
            "compound words)", "lexical", 0.0, lambda c: c.title_trigram_cos()),
    Feature("title_trigram_gap", "title_trigram_cos minus its highest value among the query's candidates",
            "lexical", 0.0, lambda c: c.title_trigram_gap()),
    # What an exact match has over a corrected one (Algolia's "typo" criterion); learned rankers only.
    Feature("typo_edits", "edits the query's typo correction needed (query/typo.py), 0 for none", "lexical", 0.0,
            lambda c: c.typo_edits()),
]
_DENSE = [Feature(r.feature, r.description, "dense", r.linear_weight, _cosine(m.name, m.query_key(r), r.joint_only),
                  True)
          for m, r in dense_routes(MODALITIES)]
_FUSION = [Feature("rrf", "fused score of the candidate lists (reciprocal-rank or normalised linear fusion)",
                   "fusion", 1.0, lambda c: c.fused_score(), True)]
_PRODUCT = [
    Feature("price_log", "log(1 + price)", "product", 0.0, _static("price_log")),
    Feature("rating", "average review rating, 0 if unrated", "product", 0.05, _static("rating")),
    Feature("review_count_log", "log(1 + number of reviews)", "product", 0.05, _static("review_count_log")),
    Feature("sales_log", "log(1 + units sold)", "product", 0.05, _static("sales_log")),
    Feature("has_image", "1 if the product has a photo", "product", 0.1, _static("has_image")),
    Feature("title_words", "number of words in the title", "product", 0.0, _static("title_words")),
]
_QUERY = [
    Feature("type_match", "+1 the product is of a type named in the query (pants, bag, ...), -1 of another type, "
            "0 none", "query", 1.5, lambda c: c.match("types")),
    Feature("color_match", "+1 the product has a colour named in the query, -1 it has only other colours, "
            "0 none asked", "query", 0.8, lambda c: c.match("colors")),
    Feature("size_match", "+1 size asked and offered, -1 asked and not offered, 0 none asked", "query", 0.3,
            lambda c: c.match("sizes")),
    Feature("gender_match", "+1 gender asked and matches, -1 asked and conflicts, 0 none asked", "query", 0.8,
            lambda c: c.match("genders")),
    Feature("price_fit", "+1 price within the limits in the query, -1 outside, 0 no limits asked", "query", 1.0,
            lambda c: c.price_fit()),
]
# Personalization: 0 without a profile, or when personalization is off for the request.
_PERSONAL = [
    Feature("user_category", "share of the shopper's recent-decayed category affinity on the product's category "
            "path", "personal", 1.0, _personal("user_category")),
    Feature("user_color", "share of the shopper's colour affinity on the product's colour", "personal", 0.8,
            _personal("user_color")),
    Feature("user_gender", "share of the shopper's gender affinity on the product's gender", "personal", 0.8,
            _personal("user_gender")),
    Feature("user_price", "share of the shopper's price-band affinity on the product's band (half for a neighbour "
            "band)", "personal", 0.5, _personal("user_price")),
    *[Feature(f"user_{m.name}", f"cosine(shopper's recent-item {m.name} embedding, product {m.name})", "personal",
              m.taste_weight, _personal(f"user_{m.name}"), True)
      for m in MODALITIES if m.taste_weight is not None],
    Feature("cf_score", "collaborative filtering score of the product given the shopper's recent items", "personal",
            0.5, _personal("cf_score"), True),
]

FEATURES: tuple[Feature, ...] = (*_LEXICAL, *_DENSE, *_FUSION, *_PRODUCT, *_QUERY, *_PERSONAL)
FEATURE_NAMES: list[str] = [f.name for f in FEATURES]
BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}
PERSONAL_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.group == "personal")
if len(BY_NAME) != len(FEATURES):
    raise RuntimeError("two features share a name")
