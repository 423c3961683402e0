import pytest

from shoprank.query.parse import parse_query


@pytest.mark.parametrize("text,types,colors,sizes,gender,lo,hi", [
    ("red backpack", ["bag"], ["red"], [], None, None, None),
    ("women's yoga pants under 50", ["pants"], [], [], "women", None, 50.0),
    ("mens hoodie size M grey", ["hoodie"], ["gray"], ["M"], "men", None, None),
    ("jacket between 20 and 60", ["jacket"], [], [], None, 20.0, 60.0),
    ("tee $15-$30", ["tee"], [], [], None, 15.0, 30.0),
    ("女士瑜伽裤", ["pants"], [], [], "women", None, None),
    ("男士短裤", ["shorts"], [], [], "men", None, None),  # 短裤 is shorts, not 裤 (pants)
    ("红色背包 50以下", ["bag"], ["red"], [], None, None, 50.0),  # no currency named: the catalog's
    ("watch over 40", ["watch"], [], [], None, 40.0, None),
    ("XL black shorts", ["shorts"], ["black"], ["XL"], None, None, None),
    ("small bag", ["bag"], [], ["S"], None, None, None),
    ("价格100到200的背包", ["bag"], [], [], None, 100.0, 200.0),
    ("背包 低于30美元", ["bag"], [], [], None, None, 30.0),
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


@pytest.mark.parametrize("text,lo,hi", [
    ("红色背包 50元以下", None, 50.0), ("价格100到200元的背包", 100.0, 200.0), ("背包 低于30块", None, 30.0)])
def test_yuan_limits_apply_in_a_yuan_catalog_only(text, lo, hi):
    cny = parse_query(text, currency="CNY")
    assert (cny.price_min, cny.price_max, cny.price_note) == (lo, hi, None)
    usd = parse_query(text)  # no exchange rate is kept: a USD catalog applies no limit, and says so
    assert (usd.price_min, usd.price_max) == (None, None)
    assert usd.price_note and "prices are in USD" in usd.price_note and usd.types == ["bag"]


def test_a_dollar_limit_is_not_applied_to_yuan_prices():
    pq = parse_query("backpack under $50", currency="CNY")
    assert pq.price_max is None and pq.price_note == "under $50: no price limit applied, prices are in CNY"


@pytest.mark.parametrize("text,currency", [
    ("mug under 50元", "USD"), ("mug under 50 rmb", "USD"), ("mug below 50 yuan", "USD"),
    ("mug under 50 dollars", "CNY"), ("mug under 50 bucks", "CNY"), ("mug under 50 usd", "CNY"),
    ("mug over 50 RMB", "USD"), ("杯子 低于50刀", "CNY"), ("杯子 50块钱以下", "USD"), ("杯子 ¥50以下", "USD"),
])
def test_a_unit_after_the_number_names_the_currency(text, currency):
    pq = parse_query(text, currency=currency)
    assert (pq.price_min, pq.price_max) == (None, None)
    assert pq.price_note and f"prices are in {currency}" in pq.price_note


@pytest.mark.parametrize("text,currency,hi", [
    ("mug under 50 dollars", "USD", 50.0), ("mug under 50元", "CNY", 50.0), ("mug under 50 RMB", "CNY", 50.0),
    ("杯子 50块钱以下", "CNY", 50.0), ("杯子 低于50刀", "USD", 50.0),
])
def test_a_unit_in_the_catalogs_currency_applies(text, currency, hi):
    pq = parse_query(text, currency=currency)
    assert (pq.price_max, pq.price_note) == (hi, None)


def test_a_word_that_starts_with_a_unit_is_no_unit():
    pq = parse_query("低于100刀具", currency="CNY")  # 刀具 is knives, not "100 dollars"
    assert (pq.price_max, pq.price_note) == (100.0, None)
