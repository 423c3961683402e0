"""Catalog writes while serving: a durable write log, and applying writes to a served index.

Every write (a product put whole, or a delete) is first committed to the index's write log
(:mod:`shoprank.index.writelog`; by default ``<index>/writes.sqlite``), then applied in log order to
what the process serves, so an acknowledged write survives SIGKILL and every process that
serves the index applies the same writes in the same order (each polls the log).

Applying a write never rebuilds anything: every per-product state (:mod:`shoprank.index.state`)
is extended, refreshed or told of dropped positions:

- a change of price, stock, rating or sales (nothing that is indexed) replaces the product
  in place and updates its numbers for the ranker: nothing is encoded;
- a new product, or one whose indexed content changed (title, description, attributes,
  categories, reviews, photos, parent), is encoded (through the embedding cache) and added
  at a new catalog position, to the lexical index's in-memory half and as exactly searched
  rows beside each vector index; its old position stops being live;
- a delete removes the id: its position is no longer live, and every reader drops positions
  that are not (search, similar items, autocomplete, recommendations).

A generation built later folds the log in: its manifest's ``catalog_seq`` says up to which
write, and opening it applies only the writes after that.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shoprank.catalog import Catalog
from shoprank.index.encode import encode_products
from shoprank.index.state import ProductState, drop_all, extend_all, refresh_all, served_states
from shoprank.index.writelog import WRITE_LOG, CatalogLog, CatalogWrite, SQLiteCatalogLog
from shoprank.modalities import MODALITIES, ModalitySpec
from shoprank.types import Product

if TYPE_CHECKING:
    from shoprank.encoders.base import EncoderSet
    from shoprank.encoders.cache import EmbeddingCache
    from shoprank.features.extract import FeatureExtractor
    from shoprank.index.artifacts import IndexArtifacts

log = logging.getLogger(__name__)
# The write log moved to shoprank.index.writelog; these names stay importable from here.
__all__ = ["CONTENT_FIELDS", "WRITE_LOG", "Applied", "CatalogLog", "CatalogWrite", "SQLiteCatalogLog", "apply_writes",
           "content_changed"]
# What the indexes hold of a product: a change here needs encoding and a new position.
CONTENT_FIELDS: tuple[str, ...] = ("title", "description", "attributes", "categories", "reviews", "images",
                                   "videos", "video_frames", "parent_id")


def content_changed(old: Product, new: Product) -> bool:
    return any(getattr(old, f) != getattr(new, f) for f in CONTENT_FIELDS)


@dataclass
class Applied:
    """What applying a run of writes did."""

    replaced: int = 0  # changed in place, nothing encoded
    added: int = 0  # new or changed content: encoded, new position
    deleted: int = 0
    missing: int = 0  # deletes of ids that were not there
    seconds: dict[str, float] = field(default_factory=dict)


def _in_place(catalog: Catalog, writes: Sequence[CatalogWrite], states: Sequence[ProductState],
              out: Applied) -> dict[str, Product]:
    """Apply deletes and changes of nothing indexed; returns the products to encode and add."""
    pending: dict[str, Product] = {}  # new content, to encode and append at the end
    for w in writes:
        if w.op == "delete":
            gone = pending.pop(w.id, None) is not None
            pos = catalog.remove(w.id)
            if pos is not None:
                drop_all(states, [pos])
            if pos is not None or gone:
                out.deleted += 1
            else:
                out.missing += 1
            continue
        p = w.product
        assert p is not None
        current = catalog.get(p.id)
        if w.id in pending or current is None or content_changed(current, p):
            pending[p.id] = p
        else:
            pos = catalog.position(p.id)
            catalog.replace(pos, p)
            refresh_all(states, [pos])
            out.replaced += 1
    return pending


def apply_writes(art: IndexArtifacts, extractor: FeatureExtractor, writes: Sequence[CatalogWrite],
                 encoders: Callable[[], EncoderSet], cache: Callable[[], EmbeddingCache | None],
                 also: Sequence[ProductState] = (), specs: Sequence[ModalitySpec] = MODALITIES) -> Applied:
    """Apply ``writes`` in order to the served ``art``, the ranker's per-product columns
    (``extractor``) and any other per-product state (``also``: autocomplete).

    ``encoders`` and ``cache`` are asked for only when something must be encoded: a price change
    never waits for a model to load.

    The caller serialises calls. Readers run concurrently: new positions are filled in every
    per-position state before they become live, so a search sees a product either as it
    was or as it is."""
    catalog = art.catalog
    # The index's states first: the ranker's columns read the vectors' first rows.
    states = [*served_states(art), extractor, *also]
    out = Applied()
    pending = _in_place(catalog, writes, states, out)
    if not pending:
        return out
    t0 = time.perf_counter()
    held = [s for s in specs if s.name in art.modalities]
    # Takes photos that do not decode off their products.
    new = encode_products(pending.values(), encoders(), cache(), held)
    t1 = time.perf_counter()
    positions = [catalog.stage(p) for p in new]  # positions exist, not yet live
    extend_all(states, new)
    replaced = [catalog.position(p.id) for p in new if p.id in catalog]
    for p, pos in zip(new, positions, strict=True):
        catalog.publish(p.id, pos)
    drop_all(states, replaced)
    out.added = len(new)
    out.seconds = {"encode": t1 - t0, "index": time.perf_counter() - t1}
    return out
