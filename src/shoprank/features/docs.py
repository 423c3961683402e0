"""The feature and modality reference, written from the declarations (``shoprank features``)."""
from __future__ import annotations

from shoprank.features.registry import FEATURES
from shoprank.modalities import MODALITIES, retriever_weights


def markdown() -> str:
    """docs/FEATURES.md: every modality with its routes, and every ranking feature."""
    out = ["# Modalities and ranking features", "",
           "Written by `shoprank features` from `shoprank.modalities` and `shoprank.features.registry`;",
           "a test fails when this file and the declarations disagree.", "",
           "## Modalities", "", "| modality | encodes | encoder | query input → retriever (fusion weight) → feature |",
           "|---|---|---|---|"]
    weights = retriever_weights()
    for m in MODALITIES:
        routes = "; ".join(
            f"{r.query} → {r.retriever or '–'}{f' ({weights[r.retriever]:g})' if r.retriever else ''} → `{r.feature}`"
            + (" (joint text-image encoders only)" if r.joint_only else "") for r in m.routes)
        out.append(f"| `{m.name}` | {m.source.replace('_', ' ')} | {m.encoder} | {routes} |")
    out += ["", f"BM25 is the other retriever (fusion weight {weights['bm25']:g}).", "",
            "## Ranking features", "",
            "In column order. *Weight*: the linear ranker's default; *scaled*: min-max scaled within the query.", "",
            "| # | feature | group | weight | scaled | meaning |", "|---|---|---|---|---|---|"]
    for i, f in enumerate(FEATURES):
        out.append(f"| {i} | `{f.name}` | {f.group} | {f.weight:g} | {'yes' if f.scaled else ''} | "
                   f"{f.description.replace('|', '/')} |")
    return "\n".join(out) + "\n"
