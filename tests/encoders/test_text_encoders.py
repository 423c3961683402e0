"""Every TextEncoder backend passes the same contract."""
from __future__ import annotations

import numpy as np
import pytest

from shoprank.encoders import TEXT_ENCODERS, TextEncoder


@pytest.fixture(scope="module", params=["e5", "minilm"])
def encoder(request, text_encoder) -> TextEncoder:
    return text_encoder if request.param == "e5" else TEXT_ENCODERS.create(request.param)


def test_shapes_and_normalisation(encoder):
    P = encoder.encode_passages(["a red backpack", "a ceramic coffee mug", "running shoes"])
    q = encoder.encode_query("backpack")
    assert P.shape == (3, encoder.dim) and q.shape == (encoder.dim,)
    assert P.dtype == np.float32
    assert np.allclose(np.linalg.norm(P, axis=1), 1.0, atol=1e-4)
    assert int(np.argmax(P @ q)) == 0


def test_semantic_ranking(encoder):
    P = encoder.encode_passages(["Waterproof hiking backpack with laptop sleeve",
                                 "Stainless steel wrist watch", "Women's yoga leggings"])
    assert int(np.argmax(P @ encoder.encode_query("bag for carrying a laptop"))) == 0
    assert int(np.argmax(P @ encoder.encode_query("something to tell the time"))) == 1


def test_e5_is_cross_lingual(text_encoder):
    P = text_encoder.encode_passages(["Waterproof hiking backpack", "Stainless steel wrist watch",
                                      "Women's yoga pants"])
    assert int(np.argmax(P @ text_encoder.encode_query("背包"))) == 0
    assert int(np.argmax(P @ text_encoder.encode_query("手表"))) == 1
    assert int(np.argmax(P @ text_encoder.encode_query("女士瑜伽裤"))) == 2


def test_unknown_encoder_name():
    with pytest.raises(ValueError, match="unknown text encoder 'clip'; choose one of: e5, minilm"):
        TEXT_ENCODERS.create("clip")
