"""Row-to-product mapping: column names fold case-insensitively, the first non-blank spelling wins."""
from __future__ import annotations

from shoprank.catalog.fields import row_to_product


def test_first_spelling_of_id_names_the_product():
    assert row_to_product({"ID": "b", "title": "x", "id": "a"}).id == "b"  # as the importer reads a row


def test_a_blank_spelling_does_not_hide_a_filled_one():
    p = row_to_product({"id": "a", "Title": "", "title": "x", "PRICE": None, "price": 3})
    assert (p.title, p.price) == ("x", 3.0)
