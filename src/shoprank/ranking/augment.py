"""Query perturbation for training learned rankers: shoppers mistype, leave words out and mix
English with Chinese. Each perturbed query keeps its original's judgments; only training folds
are augmented (a test query is never seen in any form)."""
from __future__ import annotations

import random

from shoprank.catalog.vocabulary import PRODUCT_TYPES

# English product-type words with a Chinese word for the same type, from the shared vocabulary.
_ZH = {w: next(z for z in words if not z.isascii()) for words in PRODUCT_TYPES.values()
       if any(not z.isascii() for z in words) for w in words if w.isascii()}


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:  # swap two neighbours
        return word[:i - 1] + word[i] + word[i - 1] + word[i + 1:]
    if kind == 1:  # drop a letter
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]  # double a letter


def perturb(query: str, rng: random.Random, chinese: bool = True) -> str:
    """One perturbation of ``query``: a typo, a dropped word, or (``chinese``: for a multilingual
    encoder) an English product-type word in Chinese. Returns the query unchanged when none applies."""
    words = query.split()
    options = []
    if any(len(w) >= 4 for w in words):
        options.append("typo")
    if len(words) >= 3:
        options.append("drop")
    if chinese and any(w.lower() in _ZH for w in words):
        options.append("zh")
    if not options:
        return query
    kind = rng.choice(options)
    if kind == "typo":
        i = rng.choice([i for i, w in enumerate(words) if len(w) >= 4])
        words[i] = _typo(words[i], rng)
    elif kind == "drop":
        del words[rng.randrange(len(words))]
    else:
        i = rng.choice([i for i, w in enumerate(words) if w.lower() in _ZH])
        words[i] = _ZH[words[i].lower()]
    return " ".join(words)
