"""Event-log importers: OTTO sessions, JDsearch users, generic CSV/JSONL logs."""
from __future__ import annotations

import gzip
import json
from collections import Counter

import pytest

from conftest import DATA_DIR
from shoprank.personalization.importers import (
    IMPORTERS,
    JD_ANCHOR_TS,
    ImportedEvents,
    load_event_log,
    load_jdsearch,
    load_otto,
)

BEHAVIOUR = DATA_DIR / "behaviour"
OTTO = BEHAVIOUR / "otto_sample" / "train.jsonl"
JD_DIR = BEHAVIOUR / "jdsearch_sample"
JD = JD_DIR / "user_behavior_data_sample.txt"
needs_otto = pytest.mark.skipif(not OTTO.is_file(), reason=f"OTTO sample not found at {OTTO} (set SHOPRANK_DATA_DIR)")
needs_jd = pytest.mark.skipif(not JD.is_file(), reason=f"JDsearch sample not found at {JD} (set SHOPRANK_DATA_DIR)")


def test_registry_names_every_importer():
    assert IMPORTERS == {"otto": load_otto, "jdsearch": load_jdsearch, "events": load_event_log}


# -- OTTO ----------------------------------------------------------------------------------------

@needs_otto
def test_otto_sample_imports_every_event():
    res = load_otto(OTTO)
    assert isinstance(res, ImportedEvents)
    assert res.errors == []
    # data/README.txt section 4: 20 sessions, 862 events (800 clicks, 52 carts, 10 orders).
    assert len(res.events) == 862
    assert Counter(e.type for e in res.events) == {"click": 800, "cart": 52, "purchase": 10}
    assert len({e.session_id for e in res.events}) == 20
    first = res.events[0]  # {"aid":1517085,"ts":1659304800025,"type":"clicks"} of session 0
    assert (first.session_id, first.user_id, first.product_id, first.type) == ("otto-0", None, "1517085", "click")
    assert first.ts == pytest.approx(1659304800.025)
    assert first.owner == "otto-0"


@needs_otto
@pytest.mark.parametrize("bad, reason", [
    ('{"session": 99, "events": [{"aid": 1, "ts": 16593', "invalid JSON"),
    ('{"session": 99, "events": [{"aid": 1, "ts": 1659304800025, "type": "likes"}]}', "unknown OTTO type"),
    ('{"session": 99, "events": [{"ts": 1659304800025, "type": "clicks"}]}', "aid"),
    ('{"session": 99, "events": [{"aid": 1, "ts": -5, "type": "clicks"}]}', "ts"),
    ('[1, 2, 3]', "expected"),
])
def test_otto_bad_line_is_reported_and_the_rest_imported(tmp_path, bad, reason):
    lines = OTTO.read_text().splitlines()[:5]
    expected = sum(len(json.loads(s)["events"]) for s in lines)
    f = tmp_path / "otto.jsonl"
    f.write_text("\n".join(lines[:2] + [bad] + lines[2:]) + "\n")
    res = load_otto(f)
    assert len(res.errors) == 1
    err = res.errors[0]
    assert err.line == 3 and err.source == str(f)
    assert reason in err.message
    assert len(res.events) == expected
    assert "otto-99" not in {e.session_id for e in res.events}  # a bad line is skipped whole


@needs_otto
def test_otto_reads_gzip_and_honours_limit(tmp_path):
    f = tmp_path / "train.jsonl.gz"
    with gzip.open(f, "wt") as out:
        out.write(OTTO.read_text())
    res = load_otto(f, limit=3)
    assert {e.session_id for e in res.events} == {"otto-0", "otto-1", "otto-2"}
    assert not res.errors


# -- JDsearch --------------------------------------------------------------------------------------

@needs_jd
def test_jdsearch_sample_by_hand_counts():
    # Worked out from the file: user 0 has 182 history behaviours (126 CART, 49 CLICK, 7 ORD) and
    # 1 clicked candidate; user 1 has 46 (26 CART, 11 CLICK, 9 ORD) and 2 clicked candidates;
    # user 2 has 2 CLICKs and 2 clicked candidates. All candidate labels are 0.0 or 1.0 (click).
    res = load_jdsearch(JD_DIR)  # a directory is searched for the user file
    assert res.errors == []
    assert len(res.events) == 235
    assert Counter((e.user_id, e.type) for e in res.events) == {
        ("jd-0", "cart"): 126, ("jd-0", "click"): 50, ("jd-0", "purchase"): 7,
        ("jd-1", "cart"): 26, ("jd-1", "click"): 13, ("jd-1", "purchase"): 9,
        ("jd-2", "click"): 4,
    }
    assert all(e.session_id is None for e in res.events)
    assert load_jdsearch(JD).events == res.events

    # User 2 in full: history times are gaps 0, 27 s, then 49660 s to the test query.
    u2 = [e for e in res.events if e.user_id == "jd-2"]
    assert [(e.product_id, e.type, e.query, e.ts) for e in u2] == [
        ("8133925", "click", None, JD_ANCHOR_TS - 27 - 49660),
        ("59478082", "click", None, JD_ANCHOR_TS - 49660),
        ("42155506", "click", "2437437 60677689 39206305", JD_ANCHOR_TS),
        ("90092899", "click", "2437437 60677689 39206305", JD_ANCHOR_TS),
    ]
    u0 = [e for e in res.events if e.user_id == "jd-0"]
    assert [e.ts for e in u0] == sorted(e.ts for e in u0)  # history kept in order
    assert u0[4].query == "36547097 60257419 3663289"  # \x18-separated term ids → spaces


# The README's pseudo example (^X is \x18), then a line whose lists disagree, then a FLW line.
JD_SYNTH = (
    "query\tcandidate_wid_list\tcandidate_label_list\thistory_qry_list\thistory_wid_list\t"
    "history_type_list\thistory_time_list\n"
    "12\x1832\x1856\t456_457_789\t3.0_0.0_2.0\t323\x18328\x18196_-1_12\x1854\t889_256_345\tORD_CLICK_CART\t0_12_4_5\n"
    "7\t1_2\t1.0\t-1\t9\tCLICK\t0_3\n"
    "7\t1_2\t0.0_1.0\t-1_-1\t9_10\tFLW_CLICK\t0_3_4\n"
)


def test_jdsearch_format_labels_gaps_and_bad_line(tmp_path):
    f = tmp_path / "release_data.txt"
    f.write_text(JD_SYNTH)
    res = load_jdsearch(tmp_path, anchor_ts=1000.0)
    assert len(res.errors) == 1
    assert res.errors[0].line == 3 and "2 candidates but 1 labels" in res.errors[0].message
    got = [(e.user_id, e.product_id, e.type, e.query, e.ts) for e in res.events]
    assert got == [
        ("jd-0", "889", "purchase", "323 328 196", 1000.0 - 21),
        ("jd-0", "256", "click", None, 1000.0 - 9),
        ("jd-0", "345", "cart", "12 54", 1000.0 - 5),
        ("jd-0", "456", "purchase", "12 32 56", 1000.0),
        ("jd-0", "789", "cart", "12 32 56", 1000.0),
        # jd-1 is the bad line: user numbers stay positional
        ("jd-2", "9", "click", None, 1000.0 - 7),  # FLW counts as click by default
        ("jd-2", "10", "click", None, 1000.0 - 4),
        ("jd-2", "2", "click", "7", 1000.0),
    ]
    dropped = load_jdsearch(f, anchor_ts=1000.0, follow_as=None)
    assert ("jd-2", "9") not in {(e.user_id, e.product_id) for e in dropped.events}


# -- generic logs --------------------------------------------------------------------------------

CSV_LOG = """user_id,session_id,product_id,type,query,ts
u1,s1,p1,click,red shoes,1700000000
,s2,p2,clicks,,1700000001.5
u1,,p3,order,,2024-03-01T12:00:00Z
u2,,p4,wishlist,,1700000003
,,p5,click,,1700000004
u3,,p6,purchase,,
"""


def test_event_log_csv_bad_rows_reported_with_line(tmp_path):
    f = tmp_path / "events.csv"
    f.write_text(CSV_LOG)
    res = load_event_log(f)
    assert [(e.owner, e.product_id, e.type) for e in res.events] == [
        ("u1", "p1", "click"), ("s2", "p2", "click"), ("u1", "p3", "purchase"), ("u3", "p6", "purchase")]
    assert res.events[0].query == "red shoes" and res.events[1].query is None
    assert res.events[2].ts == 1709294400.0
    assert res.events[3].ts is None  # the log stamps it with the recording time
    by_line = {e.line: e.message for e in res.errors}
    assert set(by_line) == {5, 6}  # the header is line 1
    assert "wishlist" in by_line[5]
    assert "user_id or a session_id" in by_line[6]


def test_event_log_jsonl(tmp_path):
    f = tmp_path / "events.jsonl"
    f.write_text('{"user_id": 7, "product_id": 12, "type": "cart", "ts": 5}\n'
                 "not json\n\n"
                 '{"session_id": "s", "product_id": "p", "type": "view"}\n'
                 '{"session_id": "s", "product_id": "p", "type": "view", "ts": -1}\n'
                 '{"session_id": "s", "product_id": "p", "type": "view", "ts": 1795345459457}\n'
                 '{"session_id": "s", "product_id": "p", "type": "view", "ts": "NaN"}\n')
    res = load_event_log(f)
    assert [(e.owner, e.product_id, e.type) for e in res.events] == [("7", "12", "cart"), ("s", "p", "view")]
    assert [e.line for e in res.errors] == [2, 5, 6, 7]
    assert "looks like milliseconds" in res.errors[2].message
    with pytest.raises(ValueError, match="unsupported"):
        load_event_log(tmp_path / "events.xml")
