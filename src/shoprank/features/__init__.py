"""Ranking features: one declared list used for training logs, serving and explanations.

The extractor (``shoprank.features.extract``) needs a built index; it is not imported here,
so the query parser and the feature declarations load without the index backends."""
from shoprank.features.query_parse import ParsedQuery, parse_query
from shoprank.features.registry import FEATURE_NAMES, FEATURES, Feature

__all__ = ["FEATURES", "FEATURE_NAMES", "Feature", "ParsedQuery", "parse_query"]
