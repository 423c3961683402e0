"""Ranking features: one named list used for training logs and for serving."""
from shoprank.features.extract import FeatureExtractor
from shoprank.features.query_parse import ParsedQuery, parse_query
from shoprank.features.registry import FEATURES, FEATURE_NAMES

__all__ = ["FEATURES", "FEATURE_NAMES", "FeatureExtractor", "ParsedQuery", "parse_query"]
