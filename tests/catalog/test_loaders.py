import json

import pandas as pd
import pytest

from shoprank.catalog import Catalog, load_catalog_file

CSV = '''id,title,description,categories,price,rating,images,attr_color
p1,Red Backpack,"<p>A roomy <b>pack</b></p>",Bags > Backpacks,49.5,4.5,img/p1.png,Red
p2,Blue Mug,"A mug
that spans two lines",Home/Kitchen,abc,4,,Blue
p3,Green Tee,Soft cotton,Men/Tops,19,,,
p4,Broken,row,has,too,many,fields,here,x,y
,No Id,missing id,Misc,5,,,
p6,Yellow Cap,Sunny,Accessories,12,9,,
p7,Black Watch,Steel,Accessories/Watches,99,5,,Black|Silver
'''


def test_bad_csv_rows_are_reported_with_line_and_rest_ingested(tmp_path):
    f = tmp_path / "cat.csv"
    f.write_text(CSV)
    res = load_catalog_file(f)
    assert [p.id for p in res.products] == ["p1", "p3", "p7"]
    by_line = {e.line: e.message for e in res.errors}
    # p2 starts on line 3 (its quoted description spans two lines), so p3 is line 5.
    assert set(by_line) == {3, 6, 7, 8}
    assert "price" in by_line[3] and "abc" in by_line[3]
    assert "expected 8 fields, found 10" in by_line[6]
    assert "id" in by_line[7]
    assert "rating" in by_line[8]
    assert all(e.source == str(f) for e in res.errors)


def test_csv_fields_are_normalised(tmp_path):
    f = tmp_path / "cat.csv"
    f.write_text(CSV)
    p1, p3, p7 = load_catalog_file(f).products
    assert p1.description == "A roomy pack"
    assert p1.categories == ["Bags/Backpacks"]
    assert p1.price == 49.5 and p1.attributes == {"color": ["Red"]}
    assert p1.images == [str(tmp_path / "img/p1.png")]
    assert p7.attributes["color"] == ["Black", "Silver"]
    assert p3.rating is None


def test_jsonl_reports_bad_json_and_bad_rows(tmp_path):
    rows = [
        {"id": "a", "title": "Alpha", "price": 3, "attributes": {"size": "M"},
         "reviews": [{"rating": 5, "text": "great"}]},
        "not json {",
        {"id": "b", "title": "", "price": 1},
        {"sku": "c", "name": "Gamma", "category": "X/Y"},
    ]
    f = tmp_path / "cat.jsonl"
    f.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows))
    res = load_catalog_file(f)
    assert [p.id for p in res.products] == ["a", "c"]
    assert [e.line for e in res.errors] == [2, 3]
    a = res.products[0]
    assert a.attributes == {"size": ["M"]} and a.reviews[0].rating == 5
    assert res.products[1].categories == ["X/Y"]


def test_parquet(tmp_path):
    f = tmp_path / "cat.parquet"
    rows = [{"id": "a", "title": "Alpha", "price": 2.0}, {"id": "b", "title": "Beta", "price": -1.0}]
    pd.DataFrame(rows).to_parquet(f)
    res = load_catalog_file(f)
    assert [p.id for p in res.products] == ["a"]
    assert res.errors[0].line == 2 and "price" in res.errors[0].message


def test_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="unsupported"):
        load_catalog_file(tmp_path / "cat.xml")


def test_catalog_roundtrip_and_upsert(tmp_path):
    f = tmp_path / "cat.csv"
    f.write_text(CSV)
    cat = Catalog(load_catalog_file(f).products)
    cat.save(tmp_path / "c.jsonl")
    again = Catalog.load(tmp_path / "c.jsonl")
    assert [p.id for p in again] == [p.id for p in cat]
    assert again.fingerprint() == cat.fingerprint()
    p = cat.get("p1").model_copy(update={"price": 1.0})
    merged = Catalog([*cat, p])
    assert len(merged) == 3 and merged.get("p1").price == 1.0 and merged.position("p1") == 0
