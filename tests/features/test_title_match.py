"""Surface matches between a query and titles: words, numbers, trigram cosines, a growing matrix."""
from __future__ import annotations

import numpy as np
import pytest

from shoprank.features.title_match import TrigramMatrix, numbers, prefixes, trigrams, words


def test_words_keep_fractions_and_decimals_whole_and_read_any_script():
    assert words("Simpson 3/4 in. x 1.5 ft. Angle, 12-Gauge") == ["simpson", "3/4", "in", "x", "1.5", "ft", "angle",
                                                                  "12", "gauge"]
    assert words("红色 背包") == ["红色", "背包"]
    assert numbers(words("2x4 stud 8 ft 3/4")) == {"2x4", "8", "3/4"}
    assert prefixes(["brackets", "galvanized", "in"]) == {"brac", "galv", "in"}


def test_trigrams_pad_words_and_are_a_set():
    assert len(trigrams(["ab"])) == 2               # " ab", "ab "
    assert trigrams(["abc", "abc"]) == trigrams(["abc"])
    assert trigrams([]) == []


def test_trigram_cosine_ranks_a_typo_above_an_unrelated_title_and_grows_with_the_catalog():
    m = TrigramMatrix()
    m.extend(["Sheetrock Joint Compound", "Cordless Hammer Drill"])
    m.extend([])
    m.extend(["Sheet Rock Screws"])
    assert len(m) == 3
    cos = m.cosine("sheetrok compund", np.array([0, 1, 2]))
    assert cos[0] > cos[2] > cos[1]  # " co" is all the drill shares
    assert m.cosine("Cordless Hammer Drill", np.array([1]))[0] == pytest.approx(1.0, abs=1e-6)
    assert m.cosine("", np.array([0, 1])).tolist() == [0.0, 0.0]
    assert m.cosine("drill", np.array([], np.int64)).shape == (0,)


def test_growing_one_title_at_a_time_gives_the_rows_of_one_bulk_load():
    rng = np.random.default_rng(0)
    vocab = ["pvc", "elbow", "3/4", "in.", "brass", "valve", "sheetrock", "screws", "drill", "bit", "2x4", ""]
    titles = [" ".join(rng.choice(vocab, size=rng.integers(0, 6))) for _ in range(300)]
    titles[7] = ""  # a title with no trigrams: an empty row
    bulk, grown = TrigramMatrix(), TrigramMatrix()
    bulk.extend(titles)
    for t in titles:  # crosses the doubling of the buffers many times
        grown.extend([t])
    assert len(grown) == len(bulk) == 300 and grown.nnz == bulk.nnz
    rows = rng.integers(0, 300, size=120)  # unordered, with repeats
    for q in ("pvc elbow 3/4", "sheetrok", "brass valve drill bit"):
        want = np.array([len(set(trigrams(words(q))) & set(trigrams(words(titles[r]))))
                         / np.sqrt(len(trigrams(words(q))) * max(len(trigrams(words(titles[r]))), 1)) for r in rows])
        assert np.allclose(grown.cosine(q, rows), want, atol=1e-6)
        assert np.array_equal(grown.cosine(q, rows), bulk.cosine(q, rows))
    assert grown.cosine("pvc", np.array([7, 7]))[0] == 0.0
