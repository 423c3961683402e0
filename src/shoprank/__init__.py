"""shoprank: multimodal product search and ranking."""
from shoprank.config import Settings
from shoprank.engine import QueryError, ShopRank
from shoprank.types import Filters, Hit, Product, Query, Review

__all__ = ["Filters", "Hit", "Product", "Query", "QueryError", "Review", "Settings", "ShopRank"]
__version__ = "0.1.0"
