from shoprank.catalog.vocabulary import find_types, product_colors, product_genders, product_types
from shoprank.types import Product


def test_longest_word_wins_and_counts_once():
    assert find_types("男士短裤") == ["shorts"]
    assert find_types("瑜伽裤 和 短裤") == ["pants", "shorts"]
    assert find_types("yoga pants", chinese=False) == ["pants"]
    assert find_types("裤", chinese=False) == []


def test_product_facets_from_catalog_fields():
    p = Product(id="1", title="Ida Workout Pant", categories=["Women/Bottoms/Pants"],
                attributes={"color": ["Blue", "Black"]})
    assert product_types(p) == {"pants"}
    assert product_colors(p) == {"blue", "black"}
    assert product_genders(p) == {"women"}
    # No type word in the path: the title decides.
    assert product_types(Product(id="2", title="Trail Backpack", categories=["Gear"])) == {"bag"}
    assert product_genders(Product(id="3", title="Mug", attributes={"gender": "Unisex"})) == {"women", "men"}
