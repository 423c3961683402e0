"""The ranking features, declared once by name.

The same ordered list builds the matrix at serving time, names the columns of training
logs, and labels each contribution in a result's explanation.
"""
from __future__ import annotations

FEATURES: dict[str, str] = {
    # lexical
    "bm25_title": "BM25 of the query in the title",
    "bm25_description": "BM25 in the description",
    "bm25_category": "BM25 in the category path",
    "bm25_attributes": "BM25 in attribute names and values",
    "bm25_reviews": "BM25 in review text",
    "title_coverage": "share of the query's terms found in the title (stemmed)",
    "description_coverage": "share of the query's terms found in the description (stemmed)",
    "title_phrase": "1 if the whole query appears verbatim in the title",
    "query_terms": "number of terms in the query (lets a learned ranker treat short and long queries apart)",
    # dense, per modality
    "cos_text": "cosine(query text, product text), multilingual",
    "cos_label": "cosine(query text, labels the image model sees in the product photo)",
    "cos_review": "cosine(query text, mean review embedding)",
    "cos_image": "cosine(query photo, product photo)",
    "cos_photo_text": "cosine(labels seen in the query photo, product text)",
    "cos_color": "similarity of the colour histograms of query photo and product photo",
    # fusion
    "rrf": "reciprocal-rank-fusion score of the candidate lists",
    # structured numbers
    "price_log": "log(1 + price)",
    "rating": "average review rating, 0 if unrated",
    "review_count_log": "log(1 + number of reviews)",
    "sales_log": "log(1 + units sold)",
    "has_image": "1 if the product has a photo",
    # query understanding
    "type_match": "+1 the product is of a type named in the query (pants, bag, ...), -1 of another type, 0 none",
    "color_match": "+1 the product has a colour named in the query, -1 it has only other colours, 0 none asked",
    "size_match": "+1 size asked and offered, -1 asked and not offered, 0 none asked",
    "gender_match": "+1 gender asked and matches, -1 asked and conflicts, 0 none asked",
    "price_fit": "+1 price within the limits in the query, -1 outside, 0 no limits asked",
    # personalization: 0 without a profile, or when personalization is off for the request
    "user_category": "share of the shopper's recent-decayed category affinity on the product's category path",
    "user_color": "share of the shopper's colour affinity on the product's colour",
    "user_gender": "share of the shopper's gender affinity on the product's gender",
    "user_price": "share of the shopper's price-band affinity on the product's band (half for a neighbour band)",
    "user_text": "cosine(shopper's recent-item text embedding, product text)",
    "user_image": "cosine(shopper's recent-item photo embedding, product photo)",
    "cf_score": "collaborative filtering score of the product given the shopper's recent items",
}
PERSONAL_FEATURES: tuple[str, ...] = ("user_category", "user_color", "user_gender", "user_price", "user_text",
                                      "user_image", "cf_score")
FEATURE_NAMES: list[str] = list(FEATURES)
