import json

import pandas as pd
import pytest
from PIL import Image

from shoprank.catalog import Catalog, ImportResult, load_catalog_file
from shoprank.types import CAPS

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
    (tmp_path / "img").mkdir()
    Image.new("RGB", (4, 4), "red").save(tmp_path / "img/p1.png")
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


def test_parquet_decimal_prices_are_numbers(tmp_path):
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    f = tmp_path / "cat.parquet"
    pq.write_table(pa.table({"id": ["a"], "title": ["Alpha"],
                             "price": pa.array([decimal.Decimal("9.99")], pa.decimal128(10, 2))}), f)
    assert load_catalog_file(f).products[0].price == 9.99


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


def test_duplicate_ids_first_wins_and_each_later_one_names_both_places(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.jsonl"
    a.write_text("id,title\np1,First\np2,Other\np1,Second\n")
    b.write_text(json.dumps({"id": "p1", "title": "Third"}) + "\n" + json.dumps({"id": "p3", "title": "New"}) + "\n")
    res = load_catalog_file(a)
    res.extend(load_catalog_file(b))  # what `shoprank index a.csv b.jsonl` does
    assert [(p.id, p.title) for p in res.products] == [("p1", "First"), ("p2", "Other"), ("p3", "New")]
    assert [str(e) for e in res.errors] == [
        f"{a}:4: duplicate id 'p1': first at {a}:2, which is kept",
        f"{b}:1: duplicate id 'p1': first at {a}:2, which is kept"]


def test_corrupt_or_missing_file_is_a_file_error_and_other_files_still_import(tmp_path):
    good, corrupt, missing, folder = (tmp_path / n for n in ("good.csv", "bad.parquet", "gone.jsonl", "dir.csv"))
    good.write_text("id,title\np1,Alpha\n")
    corrupt.write_bytes(b"PAR1 not really parquet")
    folder.mkdir()
    res = ImportResult()
    for f in (corrupt, missing, folder, good):
        res.extend(load_catalog_file(f))
    assert [p.id for p in res.products] == ["p1"] and not res.errors
    by_file = {e.source: e.message for e in res.file_errors}
    assert list(by_file) == [str(corrupt), str(missing), str(folder)]
    assert "Parquet" in by_file[str(corrupt)] and "\n" not in by_file[str(corrupt)]
    assert "No such file" in by_file[str(missing)] and "Is a directory" in by_file[str(folder)]
    assert str(res.file_errors[0]).startswith(f"{corrupt}: cannot read (ArrowInvalid): ")


def test_latin1_csv_is_read_as_cp1252_with_one_warning(tmp_path):
    f = tmp_path / "latin1.csv"
    f.write_bytes("id,title,description\np1,Café,naïve – ok\np2,Plain,ascii\np3,Crème,brûlée\n".encode("cp1252"))
    res = load_catalog_file(f)
    assert [p.title for p in res.products] == ["Café", "Plain", "Crème"] and not res.errors
    assert res.products[0].description == "naïve – ok"
    assert [(w.source, w.line) for w in res.warnings] == [(str(f), 2)]
    assert "not valid UTF-8: 2 line(s)" in res.warnings[0].message and "cp1252" in res.warnings[0].message


def test_a_stray_byte_leaves_the_utf8_lines_of_the_file_intact(tmp_path):
    f = tmp_path / "mixed.jsonl"
    f.write_bytes('{"id": "p1", "title": "日本の傘"}\n'.encode() + b'{"id": "p2", "title": "Caf\xe9"}\n')
    res = load_catalog_file(f)
    assert [p.title for p in res.products] == ["日本の傘", "Café"]
    assert [w.line for w in res.warnings] == [2]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_byte_order_mark_is_accepted(tmp_path, suffix):
    f = tmp_path / f"bom{suffix}"
    text = "id,title\np1,Alpha\n" if suffix == ".csv" else json.dumps({"id": "p1", "title": "Alpha"}) + "\n"
    f.write_bytes(b"\xef\xbb\xbf" + text.encode())
    res = load_catalog_file(f)
    assert [p.id for p in res.products] == ["p1"] and not res.errors and not res.warnings


def _write_rows(f, rows: list[dict]) -> None:
    if f.suffix == ".csv":
        f.write_text("id,title,description\n" + "".join(f"{r['id']},{r['title']},{r['description']}\n" for r in rows))
    else:
        f.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_3_mb_description_is_refused_with_its_line_and_the_rest_ingested(tmp_path, suffix):
    f = tmp_path / f"big{suffix}"
    rows = [{"id": "p1", "title": "Big", "description": "word " * 600_000},
            {"id": "p2", "title": "Small", "description": "x"}]
    _write_rows(f, rows)
    res = load_catalog_file(f)
    assert [p.id for p in res.products] == ["p2"]
    line = 2 if suffix == ".csv" else 1
    assert [(e.line, e.message) for e in res.errors] == [
        (line, "description: 3,000,000 characters; at most 2,000,000 are accepted")]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_long_description_is_cut_to_its_cap_with_a_warning(tmp_path, suffix):
    f = tmp_path / f"long{suffix}"
    _write_rows(f, [{"id": "p1", "title": "Long", "description": "word " * 20_000}])  # 100 KB
    res = load_catalog_file(f)
    assert not res.errors and len(res.products[0].description) == CAPS["description"].kept == 20_000
    assert [(w.line, w.message) for w in res.warnings] == [
        (2 if suffix == ".csv" else 1, "description: 99,999 characters, the first 20,000 kept")]


def test_column_names_are_matched_whatever_their_case(tmp_path):
    f = tmp_path / "upper.csv"
    f.write_text("ID,Title,PRICE,Attr_Color\np1,Red Mug,9.5,Red\n")
    res = load_catalog_file(f)
    assert not res.errors, res.errors
    (p,) = res.products
    assert (p.id, p.title, p.price, p.attributes) == ("p1", "Red Mug", 9.5, {"color": ["Red"]})


def test_numbers_ids_and_attributes_are_parsed_strictly_not_coerced(tmp_path):
    f = tmp_path / "cat.jsonl"
    f.write_text(json.dumps({"id": 1234, "parent_id": 12.0, "title": "Mug &amp; Lid", "review_count": "12.0",
                             "sales": 7, "price": "9.5", "attributes": {"size": ["S", 2]}, "attr_color": "Red|Blue"}))
    (p,) = load_catalog_file(f).products
    assert (p.id, p.parent_id, p.title) == ("1234", "12", "Mug & Lid")
    assert (p.review_count, p.sales, p.price) == (12, 7, 9.5)
    assert p.attributes == {"size": ["S", "2"], "color": ["Red", "Blue"]}
