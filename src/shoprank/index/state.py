"""Per-product state: one protocol for everything derived per catalog position.

Vectors per modality, BM25 documents, the ranker's per-product columns, the profile signals
and the autocomplete entries are all kept row by row in catalog position order. Each
implements :class:`ProductState`, and both the build (batch by batch) and live catalog
writes (:func:`shoprank.index.live.apply_writes`) loop over a list of them instead of
naming each:

- :meth:`~ProductState.extend`: products at new positions, appended in catalog order;
- :meth:`~ProductState.refresh`: products whose price, stock, rating or sales changed in place;
- :meth:`~ProductState.drop`: positions that stopped being live (readers check liveness too,
  so most states need do nothing).

Vector states read the rows :func:`shoprank.index.encode.encode_products` made for the
products: they are extended with its :class:`~shoprank.index.encode.Encoded` batch.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from shoprank.index.encode import Encoded
from shoprank.index.lexical import LayeredLexicalIndex
from shoprank.index.sources import Rows
from shoprank.types import Product

if TYPE_CHECKING:
    from shoprank.index.artifacts import IndexArtifacts


@runtime_checkable
class ProductState(Protocol):
    """Something kept per catalog position, extended and refreshed as the catalog changes."""

    def extend(self, products: Sequence[Product]) -> None:
        """Take in ``products`` at the next positions (the catalog's last ``len(products)``)."""

    def refresh(self, positions: Sequence[int]) -> None:
        """The products at ``positions`` changed price, stock, rating or sales (nothing indexed)."""

    def drop(self, positions: Sequence[int]) -> None:
        """``positions`` are no longer live (deleted, or replaced at a new position)."""


def extend_all(states: Iterable[ProductState], products: Sequence[Product]) -> None:
    for state in states:
        state.extend(products)


def refresh_all(states: Iterable[ProductState], positions: Sequence[int]) -> None:
    for state in states:
        state.refresh(positions)


def drop_all(states: Iterable[ProductState], positions: Sequence[int]) -> None:
    for state in states:
        state.drop(positions)


def rows_of(products: Sequence[Product], modality: str) -> Rows | None:
    """The rows encoded for ``products`` in ``modality`` (None: not encoded, e.g. built without it)."""
    if not isinstance(products, Encoded):
        raise TypeError("vector states are extended with encoded products (shoprank.index.encode.encode_products)")
    return products.rows.get(modality)


class Unchanged:
    """A state whose rows hold only indexed content: nothing to refresh, and readers drop
    positions that are not live."""

    def refresh(self, positions: Sequence[int]) -> None:
        return None

    def drop(self, positions: Sequence[int]) -> None:
        return None


class ServedModality(Unchanged):
    """One modality of a served index: added rows are searched exactly beside the built ones."""

    def __init__(self, art: IndexArtifacts, name: str):
        self.art, self.name = art, name

    def extend(self, products: Sequence[Product]) -> None:
        rows = rows_of(products, self.name)
        if rows is None or not len(rows.vectors):  # not encoded, or nothing new in it (no reviews, no photo)
            return
        start = len(self.art.catalog.products) - len(products)
        if rows.labels is not None:
            self.art.image_labels.extend(rows.labels)  # aligned with the rows, before they appear
        self.art.modalities[self.name] = self.art.modalities[self.name].extended(rows.vectors, rows.owners + start)


class ServedLexical(Unchanged):
    """The served BM25 index: added products go to its in-memory layer."""

    def __init__(self, art: IndexArtifacts):
        self.art = art

    def extend(self, products: Sequence[Product]) -> None:
        art = self.art
        start = len(art.catalog.products) - len(products)
        if not isinstance(art.lexical, LayeredLexicalIndex):
            art.lexical = LayeredLexicalIndex(art.lexical, start)
        art.lexical.add(list(enumerate(products, start)))


def served_states(art: IndexArtifacts) -> list[ProductState]:
    """The index's own per-product states: each modality's vectors, then the BM25 documents."""
    return [*(ServedModality(art, name) for name in art.modalities), ServedLexical(art)]
