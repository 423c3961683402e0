"""Query perturbations for training: typos, dropped words, English type words in Chinese."""
from __future__ import annotations

import random

from shoprank.ranking.augment import perturb


def test_perturbations_keep_queries_recognisable():
    rng = random.Random(1)
    out = [perturb("womens leather jacket", rng) for _ in range(60)]
    assert any(not q.isascii() for q in out)  # "jacket" in Chinese
    assert any(len(q.split()) == 2 for q in out)  # a dropped word
    assert any(q.isascii() and len(q.split()) == 3 and q != "womens leather jacket" for q in out)  # a typo
    assert all(perturb("womens leather jacket", random.Random(i), chinese=False).isascii() for i in range(50))
    assert perturb("tv", rng) == "tv"  # nothing to perturb
