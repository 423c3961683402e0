"""Ranking features: one declared list used for training logs, serving and explanations.

The extractor (``shoprank.features.extract``) needs a built index; it is not imported here,
so the feature declarations load without the index backends."""
from shoprank.features.registry import FEATURE_NAMES, FEATURES, Feature

__all__ = ["FEATURES", "FEATURE_NAMES", "Feature"]
