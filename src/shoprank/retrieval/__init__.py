"""Candidate generation: per-modality retrievers fused into one list."""
from shoprank.retrieval.fusion import FUSION_METHODS, linear_fuse, rrf_fuse
from shoprank.retrieval.hybrid import RETRIEVERS, HybridRetriever

__all__ = ["FUSION_METHODS", "RETRIEVERS", "HybridRetriever", "linear_fuse", "rrf_fuse"]
