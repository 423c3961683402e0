"""The engine: :class:`ShopRank` wires the roles (query understanding, search, catalog writes,
personalization, autocomplete, experiments) over one served index."""
from shoprank.engine.core import ShopRank
from shoprank.engine.writer import ReloadError
from shoprank.query.plan import QueryError, QueryTooLarge

__all__ = ["QueryError", "QueryTooLarge", "ReloadError", "ShopRank"]
