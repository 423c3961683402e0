"""Encode products through every modality's source: what a build's batch and a live write index.

Sources run in the order :func:`shoprank.index.sources.plan` gives (a source after the
modalities it reads), each through the embedding cache.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence

from shoprank.encoders.base import EncoderSet
from shoprank.encoders.cache import EmbeddingCache
from shoprank.index.sources import Batch, Rows, plan
from shoprank.modalities import MODALITIES, ModalitySpec
from shoprank.types import Product


class Encoded(list[Product]):
    """Products with their rows in every active modality (owners are positions in this list):
    the batch that the per-product states extend with.

    The products are those given, except where a source took an input off one (a photo that
    does not read or decode): what is served is what is indexed."""

    def __init__(self, products: Iterable[Product], rows: dict[str, Rows], seen: dict[str, set[str]],
                 timings: dict[str, float]):
        super().__init__(products)
        self.rows = rows
        self.seen = seen  # distinct inputs by kind ("images", "photos_left_out")
        self.timings = timings


def encode_products(products: Iterable[Product], encoders: EncoderSet, cache: EmbeddingCache | None = None,
                    specs: Sequence[ModalitySpec] | None = None) -> Encoded:
    """Encode every active modality of ``specs`` (default: :data:`MODALITIES`) for ``products``.

    An input that cannot be read or decoded is left out (logged) and taken off its product,
    which is otherwise indexed as usual: one bad file never fails a build, a live write or
    the replay of the write log when a server starts."""
    batch = Batch(list(products), cache)
    timings: dict[str, float] = {}
    for step in plan(MODALITIES if specs is None else specs, encoders):
        t0 = time.perf_counter()
        batch.rows.update(step.source.rows(batch, step.targets))
        # Timed per modality; a source shared by several (photos) under its own name.
        names = [spec.name for spec, _ in step.targets]
        key = names[0] if len(names) == 1 else step.targets[0][0].source
        timings[f"{key}_s"] = time.perf_counter() - t0
    return Encoded(batch.products, batch.rows, batch.seen, timings)


def product_batches(products: Sequence[Product], size: int) -> Iterator[range]:
    """Positions of ``products`` in runs of about ``size``, cut only where no model's variants
    fall on both sides (a model's reviews pool over its variants in one batch)."""
    last: dict[str, int] = {}
    for pos, p in enumerate(products):
        last[p.group_id] = pos
    start, reach = 0, -1
    for pos, p in enumerate(products):
        reach = max(reach, last[p.group_id])
        if pos + 1 - start >= size and reach == pos:
            yield range(start, pos + 1)
            start = pos + 1
    if start < len(products):
        yield range(start, len(products))
