"""The validated catalog held in memory, persisted as JSONL next to an index."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from shoprank.types import STORED, Product, RowError


@dataclass(slots=True)
class FileError:
    """A catalog file, or the rest of one, that could not be read at all."""

    source: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


@dataclass
class ImportResult:
    """What an import kept and what it reported, each report with its file and line.

    ``errors`` are rows left out; ``warnings`` are rows kept with something dropped or
    guessed (an unusable image, a line that is not UTF-8); ``file_errors`` are files that
    could not be read. Product ids are unique: the first row with an id wins and every
    later one is an error naming where the first was.
    """

    products: list[Product] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    file_errors: list[FileError] = field(default_factory=list)
    origins: dict[str, tuple[str, int]] = field(default_factory=dict, repr=False)  # id -> (source, line)

    def add(self, product: Product, source: str, line: int) -> bool:
        """Keep ``product`` read at ``source:line`` unless its id was already imported."""
        first = self.origins.get(product.id)
        if first is not None:
            self.errors.append(RowError(source, line, f"duplicate id {product.id!r}: first at {first[0]}:{first[1]},"
                                                      " which is kept"))
            return False
        self.origins[product.id] = (source, line)
        self.products.append(product)
        return True

    def extend(self, other: ImportResult) -> None:
        """Merge another import into this one (ids already here win over the other's)."""
        for p in other.products:
            self.add(p, *other.origins.get(p.id, ("<unknown>", 0)))
        self.errors.extend(other.errors)
        self.warnings.extend(other.warnings)
        self.file_errors.extend(other.file_errors)


class Catalog:
    """Ordered, id-addressable products. Row ``i`` of every index refers to ``products[i]``.

    Live updates only ever append or replace in place: a changed product's new content goes
    to a new position and a deleted one leaves the id map, so the positions every index
    holds stay valid. A position is live while the id map points at it (:meth:`is_live`);
    ``len`` and iteration cover every position, live or not, as the per-position arrays do.
    """

    def __init__(self, products: Iterable[Product]):
        self.products: list[Product] = []
        self._pos: dict[str, int] = {}
        for p in products:
            if p.id in self._pos:  # last write wins, like an upsert
                self.products[self._pos[p.id]] = p
            else:
                self._pos[p.id] = len(self.products)
                self.products.append(p)

    def __len__(self) -> int:
        return len(self.products)

    def __iter__(self) -> Iterator[Product]:
        return iter(self.products)

    def __contains__(self, pid: object) -> bool:
        return pid in self._pos

    def get(self, pid: str) -> Product | None:
        i = self._pos.get(pid)
        return None if i is None else self.products[i]

    def position(self, pid: str) -> int:
        return self._pos[pid]

    # -- live updates (the caller serialises writes) ----------------------------------------------
    def is_live(self, pos: int) -> bool:
        """Whether ``pos`` holds the current version of a product that was not deleted."""
        return self._pos.get(self.products[pos].id) == pos

    def live(self) -> Iterator[Product]:
        """The current products, in position order."""
        return (self.products[i] for i in sorted(self._pos.values()))

    @property
    def n_live(self) -> int:
        return len(self._pos)

    @property
    def all_live(self) -> bool:
        """No position was deleted or replaced: readers may skip :meth:`is_live`."""
        return len(self._pos) == len(self.products)

    def stage(self, p: Product) -> int:
        """Give ``p`` a new position, not live yet (:meth:`publish` makes it so)."""
        self.products.append(p)
        return len(self.products) - 1

    def publish(self, pid: str, pos: int) -> None:
        """Make ``pos`` the live position of ``pid`` (its old one, if any, stops being live)."""
        assert self.products[pos].id == pid
        self._pos[pid] = pos

    def replace(self, pos: int, p: Product) -> None:
        """Swap the product at ``pos`` for ``p``, same id and same indexed content."""
        assert self.products[pos].id == p.id
        self.products[pos] = p

    def remove(self, pid: str) -> int | None:
        """Delete ``pid``; returns the position it had, None if it was not there."""
        return self._pos.pop(pid, None)

    def fingerprint(self) -> str:
        h = hashlib.sha1()
        for p in self.products:
            h.update(p.model_dump_json().encode())
        return h.hexdigest()

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for p in self.products:
                f.write(p.model_dump_json() + "\n")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Catalog:
        with path.open(encoding="utf-8") as f:  # saved before today's caps: cut, never refused
            return cls(Product.model_validate(json.loads(line), context=STORED) for line in f if line.strip())
