import pytest

from shoprank.features.query_parse import parse_query


@pytest.mark.parametrize("text,types,colors,sizes,gender,lo,hi", [
    ("red backpack", ["bag"], ["red"], [], None, None, None),
    ("women's yoga pants under 50", ["pants"], [], [], "women", None, 50.0),
    ("mens hoodie size M grey", ["hoodie"], ["gray"], ["M"], "men", None, None),
    ("jacket between 20 and 60", ["jacket"], [], [], None, 20.0, 60.0),
    ("tee $15-$30", ["tee"], [], [], None, 15.0, 30.0),
    ("女士瑜伽裤", ["pants"], [], [], "women", None, None),
    ("男士短裤", ["shorts"], [], [], "men", None, None),  # 短裤 is shorts, not 裤 (pants)
    ("红色背包 50元以下", ["bag"], ["red"], [], None, None, 50.0),
    ("watch over 40", ["watch"], [], [], None, 40.0, None),
    ("XL black shorts", ["shorts"], ["black"], ["XL"], None, None, None),
    ("small bag", ["bag"], [], ["S"], None, None, None),
    ("价格100到200元的背包", ["bag"], [], [], None, 100.0, 200.0),
    ("shorts 20 - 40dollars.", ["shorts"], [], [], None, 20.0, 40.0),
    # Model numbers and part codes are not price ranges.
    ("durable widget W11-228562779", [], [], [], None, None, None),
    ("bolt 2x4-8 zinc", [], [], [], None, None, None),
    ("part 12-345-678", [], [], [], None, None, None),
])
def test_parse(text, types, colors, sizes, gender, lo, hi):
    pq = parse_query(text)
    assert (pq.types, pq.colors, pq.sizes, pq.gender, pq.price_min, pq.price_max) == \
        (types, colors, sizes, gender, lo, hi)


def test_plain_query_is_empty():
    assert parse_query("trail running").empty
    assert not parse_query("duffle bag").empty  # a product type
    assert not parse_query("men's tee").empty
