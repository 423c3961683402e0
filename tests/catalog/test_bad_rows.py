"""One bad row of each kind among good rows: the good rows are kept and the bad one is
reported with its file, its line and a reason."""
from __future__ import annotations

import json

import pytest

from shoprank.catalog import load_catalog_file

GOOD = [{"id": "g1", "title": "Canvas Backpack", "price": 39}, {"id": "g2", "title": "Wool Beanie", "price": 15}]


def _row(**cells) -> str:
    return json.dumps({"id": "x", "title": "Bad Row", **cells})


# (case, JSONL line between the two good rows, what the reason must say)
JSONL_CASES = [
    ("price-not-a-number", _row(price="abc"), "price: not a number: 'abc'"),
    ("price-inf-text", _row(price="inf"), "price: not a finite number"),
    ("price-overflows", '{"id": "x", "title": "Bad Row", "price": 1e400}', "price: not a finite number"),
    ("price-nan", _row(price="NaN"), "price: not a finite number"),
    ("price-negative", _row(price=-1), "price: Input should be greater than or equal to 0"),
    ("price-boolean", _row(price=True), "price: must be a number, not bool"),
    ("rating-above-5", _row(rating=9), "rating: Input should be less than or equal to 5"),
    ("review-count-inf", _row(review_count="inf"), "review_count: not a finite number"),
    ("review-count-huge", _row(review_count=1e30), "review_count: Input should be less than or equal to 1000000000"),
    ("review-count-fraction", _row(review_count=2.5), "review_count: not a whole number"),
    ("sales-negative", _row(sales=-3), "sales: Input should be greater than or equal to 0"),
    ("id-list", _row(id=["x"]), "id: must be a string or a whole number, not list"),
    ("id-object", _row(id={"a": 1}), "id: must be a string or a whole number, not dict"),
    ("id-boolean", _row(id=True), "id: must be a string or a whole number, not bool"),
    ("id-missing", json.dumps({"title": "No Id"}), "id: Field required"),
    ("title-object", _row(title={"a": 1}), "title: must be text, not dict"),
    ("title-list", _row(title=["Bad"]), "title: must be text, not list"),
    ("title-blank", _row(title="   "), "title: Field required"),
    ("categories-object", _row(categories=[{"x": 1}]), "categories: each entry must be text, not dict"),
    ("description-list", _row(description=["a", "b"]), "description: must be text, not list"),
    ("images-object", _row(images={"a": 1}), "images: must be text or a list of text, not dict"),
    ("review-rating-above-5", _row(reviews=[{"rating": 7}]), "reviews.0.rating"),
    ("reviews-not-a-list", _row(reviews="{}"), "reviews: must be a list of review objects"),
    ("attribute-nested", _row(attributes={"color": {"a": 1}}), "attributes.color: values must be text or numbers"),
    ("attributes-bad-json", _row(attributes="{oops"), "attributes: invalid JSON"),
    ("invalid-json", "not json {", "invalid JSON"),
    ("not-an-object", "[1, 2]", "row is not a JSON object"),
    ("duplicate-id", json.dumps({"id": "g1", "title": "Again"}), "duplicate id 'g1': first at {file}:1"),
    # Lines that broke the JSON decoder itself and abandoned the rest of the file.
    ("nested-100k-deep", '{"id": "x", "title": "Deep", "attributes": ' + "[" * 100_000 + "]" * 100_000 + "}",
     "invalid JSON: nested too deeply"),
    ("number-5000-digits", '{"id": "x", "title": "Long", "price": ' + "9" * 5000 + "}",
     "invalid JSON: a number too long to read"),
    ("price-nan-literal", '{"id": "x", "title": "Bad Row", "price": NaN}', "invalid JSON: NaN is not a JSON value"),
    ("price-infinity-literal", '{"id": "x", "title": "Bad Row", "price": Infinity}', "invalid JSON: Infinity"),
    ("price-1e39", _row(price=1e39), "price: Input should be less than or equal to 1000000000000"),
    ("title-900-kb", _row(title="t" * 900_000), "title: 900,000 characters; at most 4,000 are accepted"),
    ("review-text-absurd", _row(reviews=[{"text": "r" * 300_000}]), "review text: 300,000 characters"),
    ("too-many-images", _row(images=["a.png"] * 1001), "images: Value error, 1,001 entries; at most 1,000"),
]

CSV_HEADER = "id,title,price,review_count,categories"
CSV_CASES = [
    ("csv-field-count", "x,Bad Row,5,1,Misc,extra", "expected 5 fields, found 6"),
    ("csv-price-text", "x,Bad Row,$5,1,Misc", "price: not a number: '$5'"),
    ("csv-review-count-inf", "x,Bad Row,5,inf,Misc", "review_count: not a finite number"),
    ("csv-price-overflows", "x,Bad Row,1e400,1,Misc", "price: not a finite number"),
    ("csv-duplicate-id", "g1,Again,5,1,Misc", "duplicate id 'g1': first at {file}:2"),
    ("csv-price-1e39", "x,Bad Row,1e39,1,Misc", "price: Input should be less than or equal to 1000000000000"),
    ("csv-title-900-kb", "x," + "t" * 900_000 + ",5,1,Misc", "title: 900,000 characters; at most 4,000 are accepted"),
]


def _check(res, f, line: int, reason: str) -> None:
    assert [p.id for p in res.products] == ["g1", "g2"]
    assert res.products[0].title == GOOD[0]["title"]
    assert not res.file_errors
    assert len(res.errors) == 1, [str(e) for e in res.errors]
    err = res.errors[0]
    assert (err.source, err.line) == (str(f), line)
    assert str(err).startswith(f"{f}:{line}: ")
    assert reason.format(file=f) in err.message


@pytest.mark.parametrize(("bad", "reason"), [c[1:] for c in JSONL_CASES], ids=[c[0] for c in JSONL_CASES])
def test_bad_jsonl_row_is_reported_and_good_rows_kept(tmp_path, bad, reason):
    f = tmp_path / "shop.jsonl"
    f.write_text("\n".join([json.dumps(GOOD[0]), bad, json.dumps(GOOD[1])]) + "\n")
    _check(load_catalog_file(f), f, 2, reason)


@pytest.mark.parametrize(("bad", "reason"), [c[1:] for c in CSV_CASES], ids=[c[0] for c in CSV_CASES])
def test_bad_csv_row_is_reported_and_good_rows_kept(tmp_path, bad, reason):
    f = tmp_path / "shop.csv"
    good = [f"{g['id']},{g['title']},{g['price']},0,Misc" for g in GOOD]
    f.write_text("\n".join([CSV_HEADER, good[0], bad, good[1]]) + "\n")
    _check(load_catalog_file(f), f, 3, reason)
