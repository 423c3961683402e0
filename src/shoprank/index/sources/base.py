"""What a modality encodes from products: the :class:`Source` interface and the batch it reads.

A source turns a batch of products into one modality's rows in three steps:

1. :meth:`Source.collect`: the inputs to encode (a passage, each review, each photo) and the
   product each belongs to;
2. :meth:`Source.encode`: their vectors, through the embedding cache, for every modality
   that reads this source (photos are decoded once for all the photo modalities);
3. pooling, by the source's rule (:data:`shoprank.encoders.base.POOLINGS`): ``none`` keeps a
   row per input, ``mean`` and ``max`` make one row per product.

A source that reads another modality's rows (the photo labels read the image rows) names it
in :attr:`Source.reads`; :func:`plan` encodes that modality first.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from shoprank.encoders.base import POOLINGS, Pooling
from shoprank.registry import Registry
from shoprank.types import Product

if TYPE_CHECKING:
    from shoprank.encoders.base import EncoderSet
    from shoprank.encoders.cache import EmbeddingCache
    from shoprank.modalities import ModalitySpec

Labels = list[tuple[str, float]]


@dataclass
class Rows:
    """One modality's rows for a batch: vectors, the product (index in the batch) owning each
    row, and what the encoder named in each row's input (photo labels), where it names anything."""

    vectors: np.ndarray
    owners: np.ndarray
    labels: list[Labels] | None = None


@dataclass
class Inputs:
    """What a source encodes for a batch: one item per input, and the product (index in the
    batch) each belongs to."""

    items: list[Any]
    owners: np.ndarray


@dataclass
class Encoding:
    """The inputs kept (an unreadable photo is left out) and, per target modality, their
    vectors and labels (``None``: the encoder names nothing the index keeps)."""

    inputs: Inputs
    vectors: list[np.ndarray]
    labels: list[list[Labels] | None]


@dataclass
class Batch:
    """A run of products being encoded: a build's batch, or the new products of a live write."""

    products: list[Product]  # a source may replace one (a photo that does not decode is taken off)
    cache: EmbeddingCache | None
    rows: dict[str, Rows] = field(default_factory=dict)  # every modality encoded so far
    seen: dict[str, set[str]] = field(default_factory=dict)  # distinct inputs by kind, for the manifest


Target = tuple["ModalitySpec", Any]  # a modality and its encoder


class Source(ABC):
    """How one kind of product input becomes a modality's rows."""

    pooling: Pooling = "none"
    reads: tuple[str, ...] = ()  # modalities whose rows this source reads: encoded before it

    def available(self, encoders: EncoderSet) -> bool:
        """Whether this source is indexed with ``encoders`` (photos only with an image encoder)."""
        return True

    @abstractmethod
    def collect(self, batch: Batch) -> Inputs:
        """The inputs to encode for ``batch.products``, with their owners."""

    @abstractmethod
    def encode(self, batch: Batch, inputs: Inputs, targets: Sequence[Target]) -> Encoding:
        """Vectors of ``inputs`` for each target modality's encoder (through ``batch.cache``)."""

    def pool(self, batch: Batch, inputs: Inputs, vectors: np.ndarray, labels: list[Labels] | None) -> Rows:
        """The modality's rows from its inputs' vectors, by :attr:`pooling`."""
        rows, owners = POOLINGS.get(self.pooling)(vectors, inputs.owners)
        return Rows(rows, owners, labels if self.pooling == "none" else None)

    def rows(self, batch: Batch, targets: Sequence[Target]) -> dict[str, Rows]:
        """Collect, encode and pool: each target modality's rows for ``batch``."""
        enc = self.encode(batch, self.collect(batch), targets)
        return {spec.name: self.pool(batch, enc.inputs, vecs, labels)
                for (spec, _), vecs, labels in zip(targets, enc.vectors, enc.labels, strict=True)}


SOURCES: Registry[Source] = Registry("modality source")


@dataclass
class Step:
    """One source and the modalities it feeds, in the order :func:`plan` runs them."""

    source: Source
    targets: list[Target]


def _active(specs: Sequence[ModalitySpec], encoders: EncoderSet,
            sources: dict[str, Source]) -> dict[str, Target]:
    """The specs that can be built: a source available and an encoder, and what they read active."""
    active: dict[str, Target] = {}
    for spec in specs:
        if spec.source not in sources:
            sources[spec.source] = SOURCES.create(spec.source)
        src = sources[spec.source]
        enc = encoders.for_modality(spec) if src.available(encoders) else None
        if enc is not None:
            active[spec.name] = (spec, enc)
    while missing := [n for n, (s, _) in active.items() if not set(sources[s.source].reads) <= set(active)]:
        for name in missing:
            del active[name]
    return active


def plan(specs: Sequence[ModalitySpec], encoders: EncoderSet) -> list[Step]:
    """The active modalities of ``specs``, grouped by source, each source after those it reads.

    Sources run in the order the specs first name them, except that a source waits for the
    modalities it :attr:`~Source.reads`; a cycle is an error."""
    sources: dict[str, Source] = {}
    active = _active(specs, encoders, sources)
    groups: dict[str, list[Target]] = {}
    for spec, enc in active.values():
        groups.setdefault(spec.source, []).append((spec, enc))
    done: set[str] = set()
    steps: list[Step] = []
    while groups:
        ready = next((s for s, ts in groups.items() if set(sources[s].reads) <= done), None)
        if ready is None:
            raise ValueError(f"modality sources read each other in a cycle: {', '.join(groups)}")
        targets = groups.pop(ready)
        steps.append(Step(sources[ready], targets))
        done.update(spec.name for spec, _ in targets)
    return steps


__all__ = ["SOURCES", "Batch", "Encoding", "Inputs", "Labels", "Rows", "Source", "Step", "Target", "plan"]
