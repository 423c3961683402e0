"""`shoprank index`: a mistyped catalog is one line on stderr and a non-zero exit, not a traceback."""
from __future__ import annotations

import json

import pytest

from fakes import cli_runner
from shoprank.cli import app
from shoprank.config import get_settings


@pytest.fixture
def runner(tmp_path, monkeypatch):
    yield from cli_runner(tmp_path, monkeypatch)


@pytest.mark.parametrize(("name", "says"), [("missing.csv", "no such catalog file"),
                                            ("shop.xml", "unsupported catalog format '.xml'"),
                                            ("shop", "unsupported catalog format '(none)'")])
def test_a_bad_catalog_argument_is_one_line_and_exit_2(runner, tmp_path, name, says):
    (tmp_path / "shop.xml").write_text("<shop/>")
    (tmp_path / "shop").write_text("")
    out = runner.invoke(app, ["index", str(tmp_path / name), "--name", "t"])
    assert out.exit_code == 2 and isinstance(out.exception, SystemExit)
    assert len(out.stderr.splitlines()) == 1 and out.stderr.startswith(f"error: {tmp_path / name}: {says}")
    assert not (tmp_path / "home" / "indexes").exists()


def test_a_missing_magento_folder_is_one_line(runner, tmp_path):
    out = runner.invoke(app, ["index", "--magento", str(tmp_path / "nope"), "--name", "t"])
    assert out.exit_code == 2 and len(out.stderr.splitlines()) == 1 and "no fixtures/ folder" in out.stderr


def test_an_unreadable_file_is_reported_and_the_others_are_indexed(runner, tmp_path):
    good, corrupt = tmp_path / "good.csv", tmp_path / "bad.parquet"
    good.write_text("id,title\np1,Canvas Backpack\np2,Wool Beanie\np1,Again\n")
    corrupt.write_bytes(b"PAR1 not really parquet")
    out = runner.invoke(app, ["index", str(corrupt), str(good), "--name", "t"])
    assert out.exit_code == 0, out.output
    assert f"skipped file {corrupt}: cannot read (ArrowInvalid)" in out.stderr
    assert f"skipped row {good}:4: duplicate id 'p1'" in out.stderr
    assert "indexed 2 products" in out.stdout and "1 rows skipped, 0 warnings, 1 files unreadable" in out.stdout


def test_update_applies_rows_as_writes_and_compact_folds_them_in(runner, tmp_path):
    from shoprank.config import get_settings
    from shoprank.engine import ShopRank

    base, more = tmp_path / "base.jsonl", tmp_path / "more.jsonl"
    base.write_text('{"id": "a", "title": "Red Mug"}\n{"id": "b", "title": "Blue Bowl"}\n')
    more.write_text('{"id": "c", "title": "Quibbleton Lamp"}\n{"id": "a", "title": "Red Mug", "price": 3}\n')
    assert runner.invoke(app, ["index", str(base), "--name", "t"]).exit_code == 0
    out = runner.invoke(app, ["index", str(more), "--name", "t", "--update"])
    assert out.exit_code == 0 and "applied 2 products as catalog writes 1..2" in out.stdout
    engine = ShopRank.open(get_settings().index_dir("t"), get_settings())
    assert engine.search("quibbleton", k=1).hits[0].product.id == "c" and engine.product("a").price == 3
    out = runner.invoke(app, ["index", "--name", "t", "--compact"])
    assert out.exit_code == 0 and "compacted 3 products up to catalog write 2" in out.stdout
    assert engine.reload() and engine.artifacts.manifest["catalog_seq"] == 2 and engine.product("c") is not None


@pytest.mark.slow  # scores the judgments with ranx (numba-compiled on first use)
def test_analytics_reports_judges_exports_and_eval_scores_the_judgments(runner, tmp_path):
    import json
    import random
    import time

    from shoprank.analytics.impressions import Impression, SQLiteImpressionLog
    from shoprank.personalization.store.sqlite import SQLiteEventLog
    from shoprank.types import Event

    cat = tmp_path / "shop.csv"
    rows = [f"p{i},{'Red' if i % 2 else 'Blue'} {('Backpack', 'Mug', 'Jacket')[i % 3]} {i}" for i in range(12)]
    cat.write_text("id,title\n" + "\n".join(rows) + "\n")
    assert runner.invoke(app, ["index", str(cat), "--name", "t"]).exit_code == 0
    home = tmp_path / "home"
    imps = SQLiteImpressionLog(home / "impressions.sqlite", None, None, auto_retention=False)
    events = SQLiteEventLog(home / "events.sqlite")
    rng = random.Random(0)
    now = time.time()
    for i in range(60):
        query = ("backpack", "mug")[i % 2]
        shown = rng.sample([f"p{j}" for j in range(12)], 5)
        imps.append(Impression(search_id=f"s{i}", ts=now - i, kind="text", products=tuple(shown), query=query,
                               user_id=f"u{i % 7}", ranker="linear", latency_ms=5.0))
        good = "p1" if query == "backpack" else "p2"
        if good in shown and rng.random() < 0.8:
            events.append([Event(user_id=f"u{i % 7}", product_id=good, type="click", search_id=f"s{i}",
                                 position=shown.index(good) + 1)], now - i)
    imps.close()
    events.close()
    out, judged, export = tmp_path / "an", tmp_path / "judged.csv", tmp_path / "log.ndjson"
    res = runner.invoke(app, ["analytics", "--out", str(out), "--judgments", str(judged), "--export", str(export),
                              "--min-impressions", "3"])
    assert res.exit_code == 0, res.output
    assert "| all | 60 |" in res.stdout and (out / "report.json").is_file()
    lines = judged.read_text().splitlines()
    assert lines[0] == "query,product_id,grade,score,impressions" and len(lines) > 5
    best = {(r.split(",")[0], r.split(",")[1]): int(r.split(",")[2]) for r in lines[1:]}
    assert best[("backpack", "p1")] == max(g for (q, _), g in best.items() if q == "backpack")
    kinds = [json.loads(x)["record"] for x in export.read_text().splitlines()]
    assert kinds.count("impression") == 60 and kinds.count("event") > 10
    pytest.importorskip("lightgbm")
    pytest.importorskip("ranx")
    res = runner.invoke(app, ["eval", "--judgments", str(judged), "--index", "t", "--folds", "2", "--rounds", "10",
                              "--out", str(tmp_path / "ev"), "--save-model", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    assert "judged: 2 queries over index 't'" in res.stdout and "lambdamart" in res.stdout
    # A saved model scored as it is, beside the pipelines: no cross-validation of it.
    res = runner.invoke(app, ["eval", "--judgments", str(judged), "--index", "t", "--folds", "2", "--rounds", "10",
                              "--out", str(tmp_path / "ev2"), "--model", str(tmp_path / "m" / "judged")])
    assert res.exit_code == 0, res.output
    assert "| saved:judged |" in res.stdout
    res = runner.invoke(app, ["eval", "--judgments", str(judged), "--index", "t", "--model", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "--model" in res.stderr


def test_analytics_without_a_log_says_so(runner):
    res = runner.invoke(app, ["analytics"])
    assert res.exit_code == 2 and "no impression log" in res.stderr


def _shop(tmp_path):
    shop = tmp_path / "shop.jsonl"
    rows = [{"id": "bp1", "title": "Red Trail Backpack 红色登山背包", "categories": ["Bags/Backpacks"], "price": 40,
             "stock": 3},
            {"id": "bp2", "title": "Blue Trail Backpack", "categories": ["Bags/Backpacks"], "price": 90, "stock": 5},
            {"id": "bp3", "title": "Green Trail Backpack 绿色登山背包", "categories": ["Bags/Backpacks"], "price": 30,
             "stock": 0},
            {"id": "mug", "title": "Red Backpack Mug", "categories": ["Home/Kitchen"], "price": 10}]
    shop.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return shop


def test_search_without_an_index_is_one_line(runner):
    out = runner.invoke(app, ["search", "backpack", "--name", "nope"])
    assert out.exit_code == 2 and isinstance(out.exception, SystemExit)
    assert out.stderr.splitlines() == [f"error: no shoprank index at {get_settings().index_dir('nope')} "
                                       "(run `shoprank index` first)"]


def test_a_photo_query_on_an_index_without_photos_is_one_line(runner, tmp_path):
    from PIL import Image

    assert runner.invoke(app, ["index", str(_shop(tmp_path)), "--name", "t"]).exit_code == 0
    Image.new("RGB", (16, 16), "red").save(tmp_path / "red.png")
    out = runner.invoke(app, ["search", "--image", str(tmp_path / "red.png"), "--name", "t"])
    assert out.exit_code == 2 and isinstance(out.exception, SystemExit)
    assert out.stderr.splitlines() == ["error: this index was built without an image encoder; photo search is "
                                       "unavailable"]


def test_search_filters_by_category_price_and_stock(runner, tmp_path):
    assert runner.invoke(app, ["index", str(_shop(tmp_path)), "--name", "t"]).exit_code == 0

    def ids(*opts):
        out = runner.invoke(app, ["search", "red backpack", "--name", "t", *opts])
        assert out.exit_code == 0, out.output
        return sorted(line.split()[2] for line in out.stdout.splitlines() if line[:3].strip().endswith("."))

    assert ids() == ["bp1", "bp2", "bp3", "mug"]
    assert ids("--category", "bags") == ["bp1", "bp2", "bp3"]
    assert ids("--category", "bags", "--price-max", "50") == ["bp1", "bp3"]
    assert ids("--price-min", "35", "--in-stock") == ["bp1", "bp2"]


def test_search_columns_stay_aligned_with_cjk_titles(runner, tmp_path):
    from wcwidth import wcswidth

    assert runner.invoke(app, ["index", str(_shop(tmp_path)), "--name", "t"]).exit_code == 0
    out = runner.invoke(app, ["search", "backpack", "--name", "t", "--category", "bags"])
    rows = [line for line in out.stdout.splitlines() if line[:3].strip().endswith(".")]
    assert len(rows) == 3 and any("登山" in r for r in rows) and any("登山" not in r for r in rows)
    # The price ends at the same terminal column on every row, Chinese (two columns a character) or not.
    ends = {wcswidth(r[:r.index(p) + len(p)]) for r in rows for p in ("40.00", "90.00", "30.00") if p in r}
    assert len(ends) == 1


def test_serve_on_a_taken_port_is_one_line_before_anything_is_served(runner, tmp_path):
    import socket

    assert runner.invoke(app, ["index", str(_shop(tmp_path)), "--name", "t"]).exit_code == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        for args in (["serve", "--name", "t"], ["demo"]):
            out = runner.invoke(app, [*args, "--port", str(port)])
            assert out.exit_code == 2 and "serving on" not in out.stdout
            assert out.stderr.splitlines() == [f"error: port {port} on 127.0.0.1 is in use: choose another with "
                                               "--port N or SHOPRANK_PORT=N"]
    assert not (tmp_path / "home" / "indexes" / "demo").exists()  # the demo stopped before building


def test_many_rows_skipped_for_one_reason_are_one_line(runner, tmp_path):
    """Luma has 152 reviews of SKUs its catalog lacks: correct skips, said once with a count."""
    products = tmp_path / "fixtures" / "ConfigurableSampleData" / "products.csv"
    reviews = tmp_path / "fixtures" / "ReviewSampleData" / "products_reviews.csv"
    products.parent.mkdir(parents=True)
    reviews.parent.mkdir(parents=True)
    products.write_text("sku,name,price\nA1,Alpha Bag,5\nA2,Beta Bag,7\n")
    gone = [f"Z{i}" for i in range(6)]
    reviews.write_text("sku,rating_code,rating_value,title,review,reviewer,email\n"
                       + "".join(f"{s},Rating,4,Nice,Good,Ann,a@b.c\n" for s in ["A1", *gone, gone[0]]))
    out = runner.invoke(app, ["index", "--magento", str(tmp_path), "--name", "t"])
    assert out.exit_code == 0, out.output
    said = [x for x in out.stderr.splitlines() if "skipped" in x]
    assert said == [f"skipped 7 rows of {reviews} (review for unknown product sku: 'Z0', 'Z1', 'Z2', …; lines 3-9)"]
    assert "7 rows skipped" in out.stdout


def test_commands_log_our_progress_but_not_other_libraries_info():
    import logging

    from shoprank.cli import _setup_logging

    _setup_logging(False)
    assert logging.getLogger("shoprank.index.generations").isEnabledFor(logging.INFO)
    assert not logging.getLogger("faiss.loader").isEnabledFor(logging.INFO)  # "Could not load ... avx512"
    _setup_logging(False, quiet=True)  # a one-off search prints results only
    assert not logging.getLogger("shoprank.ranking.default").isEnabledFor(logging.INFO)


def test_search_results_show_stock(runner, tmp_path):
    shop = tmp_path / "shop.jsonl"
    shop.write_text('{"id": "bag-kids", "title": "Kids Sleeping Bag", "stock": 0}\n'
                    '{"id": "bag-adult", "title": "Adult Sleeping Bag", "stock": 4}\n')
    assert runner.invoke(app, ["index", str(shop), "--name", "s"]).exit_code == 0
    out = runner.invoke(app, ["search", "sleeping bag", "--name", "s"])
    assert out.exit_code == 0, out.output
    lines = {ln.split()[2]: ln for ln in out.stdout.splitlines() if "Sleeping Bag" in ln}
    assert lines["bag-kids"].endswith("[out of stock]") and "out of stock" not in lines["bag-adult"]
