from shoprank.retrieval.facets import count_facets
from shoprank.types import Product


def _p(pid, parent, color, price, rating, cat="Women/Tops/Tees"):
    return Product(id=pid, title=f"Tee {color}", parent_id=parent, categories=[cat], price=price, rating=rating,
                   attributes={"color": color})


PRODUCTS = [_p("a-red", "a", "Red", 20, 4.5), _p("a-blue", "a", "Blue", 20, 4.5),
            _p("b-red", "b", "Red", 25, 3.2), _p("c", None, "Green", 210, None, "Gear/Bags")]


def test_variants_of_one_model_count_once_per_value():
    f = count_facets(PRODUCTS)
    assert [(v.value, v.count) for v in f["category"]] == [("Women/Tops/Tees", 2), ("Gear/Bags", 1)]
    assert {v.value: v.count for v in f["color"]} == {"red": 2, "blue": 1, "green": 1}
    # [0, 25) holds model a; b at exactly 25 falls in [25, 50); the bucket's max stops a cent short.
    assert [(v.value, v.count, v.min, v.max) for v in f["price"]] == [
        ("0-25", 1, 0, 24.99), ("25-50", 1, 25, 49.99), ("200+", 1, 200, None)]
    assert [(v.value, v.count) for v in f["rating"]] == [("4+", 1), ("3+", 2), ("2+", 2), ("1+", 2)]


def test_without_collapsing_every_variant_counts():
    f = count_facets(PRODUCTS, collapse_variants=False)
    assert f["category"][0].count == 3
