"""Rankers score candidate feature rows; the pipeline runs retrieve → rank → collapse."""
from shoprank.ranking.base import Ranker
from shoprank.ranking.linear import DEFAULT_WEIGHTS, LinearRanker
from shoprank.ranking.pipeline import Budgets, SearchPipeline, SearchResult

__all__ = ["DEFAULT_WEIGHTS", "Budgets", "LinearRanker", "Ranker", "SearchPipeline", "SearchResult"]
