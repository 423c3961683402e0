"""Similar items: a product's own vectors as the query, per modality with a ``similar_weight``.

Each such modality retrieves the nearest products to the product's first row (its text,
its main photo); the union is scored exactly on the candidates only, as the weighted mean
of the cosines over the modalities the product has rows in.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from shoprank.index.artifacts import IndexArtifacts
from shoprank.modalities import MODALITIES


@dataclass
class SimilarItems:
    artifacts: IndexArtifacts
    fetch: int = 200  # neighbours each modality retrieves before exact scoring

    def run(self, pos: int, k: int, exclude: Collection[int] = ()) -> list[tuple[int, float, dict[str, float]]]:
        """Top ``k`` ``(position, score, cosine per feature)``, one product per model, the
        product's own model and the positions in ``exclude`` (hidden by a rule) left out."""
        art = self.artifacts
        queries: dict[str, tuple[np.ndarray, float]] = {}
        for spec in MODALITIES:
            mod = art.modalities.get(spec.name)
            if spec.similar_weight <= 0 or mod is None:
                continue
            rows = mod.rows_of(pos)
            if len(rows):
                queries[spec.name] = (mod.vectors[rows[0]], spec.similar_weight)
        if not queries:
            return []
        fetch = max(self.fetch, 20 * k)  # variants of one model crowd the neighbours
        catalog = art.catalog
        cands = sorted({p for name, (vec, _) in queries.items()
                        for p, _ in art.modalities[name].index.search(vec, fetch)
                        if catalog.is_live(p) and p not in exclude})
        positions = np.array(cands, np.int64)
        parts = {f"cos_{name}": art.modalities[name].cosine_for(vec, positions) for name, (vec, _) in queries.items()}
        total = sum(w for _, w in queries.values())
        score = np.zeros(len(positions), np.float64)
        for name, (_, w) in queries.items():
            score += w * parts[f"cos_{name}"] / total
        products = art.catalog.products
        seen = {products[pos].group_id}
        out: list[tuple[int, float, dict[str, float]]] = []
        for i in np.argsort(-score, kind="stable"):
            p = products[positions[i]]
            if p.group_id in seen:
                continue
            seen.add(p.group_id)
            out.append((int(positions[i]), float(score[i]), {n: float(v[i]) for n, v in parts.items()}))
            if len(out) >= k:
                break
        return out
