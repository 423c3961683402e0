"""Product validation: numbers in range, and every text and list field capped (see CAPS)."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from shoprank.types import CAPS, MAX_PRICE, STORED, Product, describe_error


def test_an_absurd_price_is_refused():
    with pytest.raises(ValidationError, match="less than or equal to 1000000000000"):
        Product(id="a", title="Lamp", price=1e39)
    assert Product(id="a", title="Lamp", price=MAX_PRICE).price == MAX_PRICE


@pytest.mark.parametrize(("data", "reason"), [
    ({"title": "t" * 900_000}, "title: Value error, 900,000 characters; at most 4,000 are accepted"),
    ({"id": "i" * 201}, "id: Value error, 201 characters; at most 200 are accepted"),
    ({"attributes": {"color": ["red"] * 1001}}, "attribute values: 1,001 entries"),
    ({"attributes": {"c" * 101: "red"}}, "attribute name: 101 characters"),
    ({"reviews": [{"text": "r" * 200_001}]}, "reviews.0.text: Value error, review text: 200,001 characters"),
])
def test_absurd_sizes_are_refused_with_the_field_and_the_cap(data, reason):
    with pytest.raises(ValidationError) as e:
        Product.model_validate({"id": "a", "title": "Lamp", **data})
    assert reason in describe_error(e.value)


def test_long_but_plausible_text_and_lists_are_cut_and_noted():
    notes: list[str] = []
    p = Product.model_validate({"id": "a", "title": "t" * 600, "categories": [f"C{i}" for i in range(25)],
                                "attributes": {"color": ["red " * 100]}, "reviews": [{"text": "r" * 6000}] * 101},
                               context={"notes": notes})
    assert len(p.title) == CAPS["title"].kept == 500 and len(p.categories) == 20
    assert len(p.attributes["color"][0]) == 200 and len(p.reviews) == 100 and len(p.reviews[0].text) == 5000
    assert {"title: 600 characters, the first 500 kept", "categories: 25 entries, the first 20 kept",
            "reviews: 101 entries, the first 100 kept"} <= set(notes)


def test_stored_products_are_cut_never_refused():
    """A catalog or write log saved before the caps still loads: an acknowledged write is kept."""
    p = Product.model_validate({"id": "a", "title": "t" * 900_000, "reviews": [{"text": "r" * 300_000}]},
                               context=STORED)
    assert len(p.title) == 500 and len(p.reviews[0].text) == 5000


def test_stored_numbers_past_the_bounds_load_clamped_never_refused():
    # A catalog or write log accepted before the bounds existed must still open.
    p = Product.model_validate({"id": "a", "title": "Lamp", "price": 5e12, "sales": 10**12}, context=STORED)
    assert p.price == MAX_PRICE and p.sales == 10**9
    with pytest.raises(ValidationError):
        Product(id="a", title="Lamp", price=5e12)


def test_ids_and_titles_are_trimmed_before_they_are_capped():
    assert Product(id="a", title=" " * 600 + "Backpack").title == "Backpack"
    assert Product(id=" " * 5 + "i" * 198, title="x").id == "i" * 198
