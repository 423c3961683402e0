"""The base of every store contract suite (implicit's ``recommender_base_test`` pattern).

A suite is a mixin of tests over ``self.open()``; a backend's test class supplies only
``make_store()``. Each call of ``make_store`` in one test opens the *same* storage again, as
another process or a restart would (a file under ``self.tmp_path``, or a dict the test
instance holds); pytest makes a fresh instance, and a fresh ``tmp_path``, per test.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest

from shoprank.config import Settings

S = TypeVar("S")


class StoreContract(Generic[S]):
    """``settings_overrides``: what ``self.settings`` sets beyond ``home`` (a backend's name, retention)."""

    settings_overrides: dict[str, Any] = {}
    tmp_path: Path
    settings: Settings

    @pytest.fixture(autouse=True)
    def _storage(self, tmp_path: Path) -> Iterator[None]:
        self.tmp_path = tmp_path
        self.settings = Settings(home=tmp_path / "home", text_encoder="hashing", image_encoder="palette",
                                 profile_store="memory", **self.settings_overrides)
        self._opened: list[S] = []
        yield
        for store in self._opened:
            with contextlib.suppress(Exception):  # closed by the test already, or never opened fully
                store.close()  # type: ignore[attr-defined]

    def make_store(self) -> S:
        """Open the backend on this test's storage (again)."""
        raise NotImplementedError

    def open(self) -> S:
        store = self.make_store()
        self._opened.append(store)
        return store


def run_threads(n: int, target: Callable[[int], None], timeout: float = 60) -> None:
    """Run ``target(i)`` in ``n`` threads; re-raise the first failure in the caller."""
    errors: list[BaseException] = []

    def wrap(i: int) -> None:
        try:
            target(i)
        except BaseException as err:  # surfaced below: a thread's assert must fail the test
            errors.append(err)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "worker thread hung"
    if errors:
        raise errors[0]
