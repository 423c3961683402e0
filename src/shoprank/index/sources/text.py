"""Text sources: a product's own passage, and its model's reviews."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shoprank.encoders.base import TextEncoder
from shoprank.encoders.cache import EmbeddingCache, cached_encode, content_key
from shoprank.index.sources.base import Batch, Encoding, Inputs, Labels, Rows, Source, Target
from shoprank.types import Product

_DESC_CHARS = 600  # enough for what an item is; long spec lists add noise and cost


def dense_text(p: Product) -> str:
    """What the text encoder reads for a product. Size is left out: an XS and an XL hoodie
    mean the same thing, and identical passages are then encoded once."""
    title = p.title
    for size in p.attr("size"):
        title = title.replace(f"-{size}-", "-").removesuffix(f"-{size}")
    leaf = p.category.split("/")[-1] if p.category else ""
    attrs = "; ".join(f"{k.replace('_', ' ')}: {', '.join(v)}" for k, v in p.attributes.items() if k != "size")
    return " | ".join(s for s in (title, leaf, attrs, p.description[:_DESC_CHARS]) if s)


def encode_texts(enc: TextEncoder, cache: EmbeddingCache | None, texts: list[str], desc: str) -> np.ndarray:
    keys = [content_key("passage", t) for t in texts]
    # Large batches: the encoder sorts each by length, so less of every batch is padding.
    vecs, _ = cached_encode(cache, enc.name, keys, lambda idx: (enc.encode_passages([texts[i] for i in idx]), None),
                            enc.dim, batch_size=256, desc=desc)
    return vecs


class TextSource(Source):
    """A source whose inputs are passages for the text encoder."""

    def encode(self, batch: Batch, inputs: Inputs, targets: Sequence[Target]) -> Encoding:
        return Encoding(inputs, [encode_texts(enc, batch.cache, inputs.items, spec.name) for spec, enc in targets],
                        [None] * len(targets))


class ProductTextSource(TextSource):
    """One passage a product: title, category leaf, attributes, the start of the description."""

    def collect(self, batch: Batch) -> Inputs:
        return Inputs([dense_text(p) for p in batch.products], np.arange(len(batch.products)))


class ReviewSource(TextSource):
    """One vector per review, averaged per model: every variant gets its model's mean.

    The reviews of a model pool over the products of the batch (a build keeps a model's
    variants in one batch)."""

    pooling = "mean"

    def collect(self, batch: Batch) -> Inputs:
        first: dict[str, int] = {}  # each model's first product in the batch owns its reviews
        texts, owners = [], []
        for i, p in enumerate(batch.products):
            for r in p.reviews:
                texts.append(f"{r.title}. {r.text}".strip(". "))
                owners.append(first.setdefault(p.group_id, i))
        return Inputs(texts, np.array(owners, np.int64))

    def pool(self, batch: Batch, inputs: Inputs, vectors: np.ndarray, labels: list[Labels] | None) -> Rows:
        pooled = super().pool(batch, inputs, vectors, labels)
        row_of = {batch.products[int(o)].group_id: r for r, o in enumerate(pooled.owners)}
        mine = [(i, row_of[p.group_id]) for i, p in enumerate(batch.products) if p.group_id in row_of]
        owners = np.array([i for i, _ in mine], np.int64)
        return Rows(pooled.vectors[[r for _, r in mine]], owners)
