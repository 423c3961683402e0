"""Generations of an index: build beside, switch a pointer, keep the previous, remove the rest."""
from __future__ import annotations

import gc
import os

import pytest

from fakes import MARKER, shop_catalog
from shoprank.encoders.base import EncoderSet
from shoprank.encoders.fake import HashingTextEncoder
from shoprank.index.builder import build_index
from shoprank.index.generations import FLAT, IndexHome

ENCODERS = EncoderSet(HashingTextEncoder(), None)


def build(home: IndexHome, version: str, marker_at: int = 0):
    return home.build(lambda path: build_index(shop_catalog(version, 60, marker_at), path, ENCODERS))


def marker_id(home: IndexHome) -> str:
    _, art = home.open()
    return art.catalog.products[art.lexical.search(MARKER, 1)[0][0]].id


def test_each_build_is_a_new_generation_and_only_the_previous_one_is_kept(tmp_path):
    home = IndexHome(tmp_path / "shop")
    assert home.current() is None
    with pytest.raises(FileNotFoundError, match="shoprank index"):
        home.open()
    for n, version in enumerate("ABC", 1):
        gen, art = build(home, version, marker_at=n)
        assert gen.name == f"gen-{n:06d}" == home.current() and art.catalog.products[0].id == f"{version}-0000"
        del gen, art  # no longer served here: cleanup may remove it
    assert home.generations() == ["gen-000002", "gen-000003"]
    assert (home.root / "CURRENT").read_text() == "gen-000003\n" and not (home.root / "CURRENT.tmp").exists()
    assert marker_id(home) == "C-0003"


def test_a_failed_build_leaves_the_served_generation_alone(tmp_path):
    home = IndexHome(tmp_path / "shop")
    build(home, "A", marker_at=5)

    def half_then_fail(path):
        build_index(shop_catalog("B", 60), path, ENCODERS)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        home.build(half_then_fail)
    assert home.current() == "gen-000001" and home.generations() == ["gen-000001"]
    assert marker_id(home) == "A-0005"


def test_a_held_generation_survives_cleanup_until_released(tmp_path):
    home = IndexHome(tmp_path / "shop")
    build(home, "A")
    served, art = home.open()  # what a server holds while it serves gen-000001
    build(home, "B")
    build(home, "C")
    assert home.generations() == ["gen-000001", "gen-000002", "gen-000003"]
    assert art.catalog.products[art.lexical.search(MARKER, 1)[0][0]].id == "A-0000"  # still answers
    del served
    gc.collect()
    build(home, "D")
    assert home.generations() == ["gen-000003", "gen-000004"]


def test_a_flat_index_opens_and_the_second_build_after_it_removes_it(tmp_path):
    root = tmp_path / "shop"
    build_index(shop_catalog("OLD", 60, 7), root, ENCODERS)  # the layout before generations
    (root / "notes.txt").write_text("not the index's")
    home = IndexHome(root)
    gen, _ = home.open()
    assert gen.name == home.current() == FLAT and marker_id(home) == "OLD-0007"
    del gen
    build(home, "A")
    assert home.current() == "gen-000001" and (root / "manifest.json").is_file()  # the previous one, kept
    build(home, "B")
    assert sorted(os.listdir(root)) == [".lock", "CURRENT", "gen-000001", "gen-000002", "notes.txt"]
    assert marker_id(home) == "B-0000"


def test_leftovers_of_crashed_builds_are_skipped_and_removed(tmp_path):
    home = IndexHome(tmp_path / "shop")
    build(home, "A")
    (home.root / "gen-000002" / "lexical").mkdir(parents=True)  # a build killed half way
    (home.root / "CURRENT.tmp").write_text("gen-000002\n")      # killed before the rename
    assert home.current() == "gen-000001"
    gen, _ = build(home, "B")
    assert gen.name == "gen-000003" and home.generations() == ["gen-000001", "gen-000003"]


def test_a_pointer_to_something_else_is_an_error(tmp_path):
    home = IndexHome(tmp_path / "shop")
    build(home, "A")
    (home.root / "CURRENT").write_text("../elsewhere\n")
    with pytest.raises(ValueError, match="not a generation"):
        home.current()
