"""A resource built on first use, under its own lock (so one slow build never blocks the others)."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    def __init__(self, build: Callable[[], T], value: T | None = None) -> None:
        self._build = build
        self._value = value
        self._lock = threading.Lock()

    def get(self) -> T:
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
                value = self._value
        return value

    @property
    def built(self) -> bool:
        return self._value is not None

    def peek(self) -> T | None:
        """The value if built, without building it."""
        return self._value

    def swap(self, value: T | None) -> T | None:
        """Replace the value (``None``: build again on next use); return the previous one."""
        with self._lock:
            previous, self._value = self._value, value
        return previous

    def if_built(self, fn: Callable[[T], object]) -> None:
        """Call ``fn`` on the value if it is built; a build in progress is waited for first."""
        with self._lock:
            if self._value is not None:
                fn(self._value)
