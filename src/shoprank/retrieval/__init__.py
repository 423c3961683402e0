"""Candidate generation: per-modality retrievers fused into one list."""
from shoprank.retrieval.fusion import linear_fuse, rrf_fuse
from shoprank.retrieval.hybrid import HybridRetriever, QueryEncoding

__all__ = ["HybridRetriever", "QueryEncoding", "linear_fuse", "rrf_fuse"]
