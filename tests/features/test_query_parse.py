import pytest

from shoprank.features.query_parse import parse_query


@pytest.mark.parametrize("text,colors,sizes,gender,lo,hi", [
    ("red backpack", ["red"], [], None, None, None),
    ("women's yoga pants under 50", [], [], "women", None, 50.0),
    ("mens hoodie size M grey", ["gray"], ["M"], "men", None, None),
    ("jacket between 20 and 60", [], [], None, 20.0, 60.0),
    ("tee $15-$30", [], [], None, 15.0, 30.0),
    ("女士瑜伽裤", [], [], "women", None, None),
    ("红色背包 50元以下", ["red"], [], None, None, 50.0),
    ("watch over 40", [], [], None, 40.0, None),
    ("XL black shorts", ["black"], ["XL"], None, None, None),
    ("small bag", [], ["S"], None, None, None),
])
def test_parse(text, colors, sizes, gender, lo, hi):
    pq = parse_query(text)
    assert (pq.colors, pq.sizes, pq.gender, pq.price_min, pq.price_max) == (colors, sizes, gender, lo, hi)


def test_plain_query_is_empty():
    assert parse_query("duffle bag").empty
    assert not parse_query("men's tee").empty
