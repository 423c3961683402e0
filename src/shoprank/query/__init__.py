"""Query understanding: the request as a plan every later stage reads."""
from shoprank.query.plan import QueryError, QueryPlan, QueryTooLarge, Rewrite
from shoprank.query.rewriters import REWRITERS, QueryRewriter

__all__ = ["REWRITERS", "QueryError", "QueryPlan", "QueryRewriter", "QueryTooLarge", "Rewrite"]
