from collections import Counter
from pathlib import Path

from PIL import Image

from shoprank.catalog import load_magento


def test_luma_catalog_is_fully_ingested(luma_import):
    res = luma_import
    # The only rows left out are reviews of SKUs the sample catalog does not contain.
    assert res.errors and all("review for unknown product sku" in e.message for e in res.errors)
    assert all(e.source.endswith("products_reviews.csv") and e.line > 1 for e in res.errors)
    assert len(res.products) == 2046
    assert len({p.id for p in res.products}) == 2046
    images = {i for p in res.products for i in p.images}
    assert len(images) == 723 and all(Path(i).is_file() for i in images)


def test_luma_variants_reviews_and_categories(luma_import):
    by_id = {p.id: p for p in luma_import.products}
    v = by_id["MH01-XS-Black"]
    assert v.parent_id == "MH01" and v.attributes["color"] == ["Black"] and v.attributes["size"] == ["XS"]
    assert v.category == "Men/Tops/Hoodies & Sweatshirts"
    bag = by_id["24-MB01"]
    assert bag.category == "Gear/Bags" and bag.price == 34.0 and len(bag.reviews) == 2
    assert bag.rating == 2.5 and "Nylon" in bag.attributes["material"]
    assert sum(len(p.reviews) for p in luma_import.products) + len(luma_import.errors) == 500
    # Variants inherit their parent's rating stats but not copies of the reviews.
    parent = next(p for p in luma_import.products if p.parent_id is None and p.reviews and p.id in
                  {q.parent_id for q in luma_import.products})
    kid = next(p for p in luma_import.products if p.parent_id == parent.id)
    assert kid.review_count == parent.review_count and kid.reviews == []
    kinds = Counter(p.category.split("/")[0] for p in luma_import.products)
    assert set(kinds) == {"Men", "Women", "Gear", "Training"}
    # Bundles and grouped products get a "from" price from their members.
    assert by_id["24-WG080"].price is not None


def test_luma_stock_from_qty(luma_import):
    products = luma_import.products
    variants = [p for p in products if p.parent_id]
    assert variants and all(p.stock == 100 and p.available for p in variants)  # qty 100, is_in_stock 1
    parent = next(p for p in products if p.id == variants[0].parent_id)
    assert parent.stock == 100 * sum(1 for p in variants if p.parent_id == parent.id)  # its variants' stock
    assert all(p.in_stock for p in products)


def test_magento_rows_follow_the_import_rules(tmp_path):
    """A tiny Magento tree: images stay under images/product, duplicate skus are reported."""
    products = tmp_path / "fixtures" / "ConfigurableSampleData" / "products.csv"
    products.parent.mkdir(parents=True)
    (tmp_path / "images" / "product" / "m").mkdir(parents=True)
    Image.new("RGB", (4, 4), "red").save(tmp_path / "images" / "product" / "m" / "a.jpg")
    Image.new("RGB", (4, 4), "red").save(tmp_path / "secret.jpg")
    products.write_text("sku,name,price,base_image,additional_images\n"
                        "A1,Alpha,5,/m/a.jpg,../../secret.jpg\n"
                        "A2,Beta,inf,/m/a.jpg,\n"
                        "A3,Gamma,7,/m/missing.jpg,\n"
                        "A1,Alpha again,6,,\n")
    res = load_magento(tmp_path)
    assert [(p.id, p.title) for p in res.products] == [("A1", "Alpha"), ("A3", "Gamma")]
    assert res.products[0].images == [str(tmp_path / "images" / "product" / "m" / "a.jpg")]
    assert res.products[1].images == []
    assert [(e.line, e.message.split(":")[0]) for e in res.errors] == [(3, "price"), (5, "duplicate id 'A1'")]
    assert f"first at {products}:2" in res.errors[1].message
    assert [(w.source, w.line) for w in res.warnings] == [(str(products), 2), (str(products), 4)]
    assert "outside the image folder" in res.warnings[0].message and "no such file" in res.warnings[1].message
