"""Backends chosen by name: one :class:`Registry` per role (encoders, indexes, rankers, ...).

A backend registers under a name, either as the object itself or lazily as a
``"module:attribute"`` path plus the extra that installs its dependencies, so a missing
optional dependency is reported by the extra's name when the backend is asked for, and
never when the registry is imported.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")
C = TypeVar("C", bound=Callable[..., Any])


class UnknownBackendError(ValueError):
    """A name that no backend of the role is registered under."""


class MissingExtraError(ImportError):
    """The backend exists but its optional dependencies are not installed."""


@dataclass(frozen=True)
class _Entry(Generic[T]):
    target: Callable[..., T] | str  # the backend, or "module:attribute" to import on first use
    extra: str | None        # the pip extra that brings its dependencies


class Registry(Generic[T]):
    """Named backends of one role, each a callable that makes a ``T`` (a class, a function).

    ``create(name, ...)`` calls it; an unknown name is an error listing the choices."""

    def __init__(self, role: str) -> None:
        self.role = role
        self._entries: dict[str, _Entry[T]] = {}

    def register(self, name: str, target: Callable[..., T] | str, *, extra: str | None = None) -> None:
        """Register ``target`` (or its ``"module:attribute"`` path, imported on first use) as ``name``."""
        if name in self._entries and self._entries[name].target is not target:
            raise ValueError(f"{self.role} {name!r} is registered twice")
        self._entries[name] = _Entry(target, extra)

    def add(self, name: str, *, extra: str | None = None) -> Callable[[C], C]:
        """Decorator form of :meth:`register` for a backend defined where it is registered."""

        def deco(obj: C) -> C:
            self.register(name, obj, extra=extra)
            return obj

        return deco

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def validate(self, name: str) -> str:
        """``name`` if it is registered, else :class:`UnknownBackendError` naming the choices."""
        if name not in self._entries:
            raise UnknownBackendError(f"unknown {self.role} {name!r}; choose one of: {', '.join(self._entries)}")
        return name

    def get(self, name: str) -> Callable[..., T]:
        """The backend registered as ``name``, imported now if it was registered lazily."""
        entry = self._entries[self.validate(name)]
        if not isinstance(entry.target, str):
            return entry.target
        module, _, attr = entry.target.partition(":")
        try:
            obj = getattr(importlib.import_module(module), attr)
        except ImportError as e:
            hint = f"pip install 'shoprank[{entry.extra}]'" if entry.extra else "its dependencies"
            raise MissingExtraError(f"the {self.role} {name!r} needs {hint} ({e})") from e
        return cast("Callable[..., T]", obj)

    def get_class(self, name: str) -> type[T]:
        """The backend class registered as ``name``, for its class methods (``load``, ``build``)."""
        obj = self.get(name)
        if not isinstance(obj, type):
            raise TypeError(f"{self.role} {name!r} is not a class")
        return cast("type[T]", obj)

    def create(self, name: str, *args: Any, **kwargs: Any) -> T:
        """Call the backend registered as ``name`` (usually a class) with the arguments."""
        return self.get(name)(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Registry({self.role!r}, {self.names()})"
