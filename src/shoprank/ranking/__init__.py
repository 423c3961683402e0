"""Rankers score one query's candidate batch; chosen by name from :data:`RANKERS`."""
from shoprank.ranking.base import RANKERS, CandidateBatch, Ranker, load_ranker
from shoprank.ranking.linear import DEFAULT_WEIGHTS, LinearRanker

RANKERS.register("linear", LinearRanker)
RANKERS.register("default", "shoprank.ranking.default:DefaultRanker", extra="ltr")
RANKERS.register("lambdamart", "shoprank.ranking.lgbm:LambdaMARTRanker", extra="ltr")
RANKERS.register("neural", "shoprank.ranking.neural:NeuralFusionRanker", extra="neural")
RANKERS.register("multitask", "shoprank.ranking.multitask:MultiTaskRanker", extra="neural")

__all__ = ["DEFAULT_WEIGHTS", "RANKERS", "CandidateBatch", "LinearRanker", "Ranker", "load_ranker"]
