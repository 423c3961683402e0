"""shoprank: multimodal product search and ranking.

The names below load on first use: ``import shoprank`` (or any light submodule such as
``shoprank.modalities``) does not pull in the engine, its index backends and models.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shoprank.config import Settings
    from shoprank.engine import ShopRank
    from shoprank.query.plan import QueryError
    from shoprank.types import Filters, Hit, Product, Query, Review

__all__ = ["Filters", "Hit", "Product", "Query", "QueryError", "Review", "Settings", "ShopRank"]
__version__ = "0.1.0"

_HOME = {"Settings": "shoprank.config", "ShopRank": "shoprank.engine", "QueryError": "shoprank.query.plan",
         **dict.fromkeys(("Filters", "Hit", "Product", "Query", "Review"), "shoprank.types")}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'shoprank' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value  # once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
