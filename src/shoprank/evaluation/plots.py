"""Pictures of results: metric bars per pipeline, and maps of product embeddings."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shoprank.evaluation.metrics import METRICS
from shoprank.plotting import pyplot


def metrics_chart(reports: Sequence, path: Path, metrics: Sequence[str] = METRICS) -> Path:
    """One panel per dataset: grouped bars of each metric for each pipeline."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(reports), figsize=(6.5 * len(reports), 4.2), squeeze=False)
    for ax, rep in zip(axes[0], reports):
        pipes = list(rep.means)
        x = np.arange(len(metrics))
        w = 0.8 / len(pipes)
        for i, pipe in enumerate(pipes):
            vals = [rep.means[pipe][m] for m in metrics]
            bars = ax.bar(x + i * w - 0.4 + w / 2, vals, w, label=pipe)
            if pipe == "lambdamart":
                for b in bars:
                    b.set_edgecolor("black")
        ax.set_xticks(x, metrics)
        lowest = min(rep.means[p][m] for p in pipes for m in metrics)
        ax.set_ylim(max(0.0, round(lowest - 0.1, 1)), 1)  # zoom: the differences are a few points
        ax.set_title(f"{rep.dataset}: {rep.queries} queries, {rep.products} products")
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def embedding_maps(engine, path: Path, modalities: Sequence[str] | None = None,
                   level: int = 2, seed: int = 0) -> Path:
    """PCA and t-SNE of each modality's product vectors (default: every modality of the index),
    coloured by category (first ``level`` parts)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    plt = pyplot()
    products = engine.artifacts.catalog.products
    mods = [m for m in (modalities or list(engine.artifacts.modalities))
            if m in engine.artifacts.modalities and len(engine.artifacts.modalities[m].vectors)]
    fig, axes = plt.subplots(2, len(mods), figsize=(5 * len(mods), 9.5), squeeze=False)
    cats = sorted({"/".join(p.category.split("/")[:level]) for p in products})
    cmap = plt.get_cmap("tab20")
    colour = {c: cmap(i % 20) for i, c in enumerate(cats)}
    for j, name in enumerate(mods):
        mod = engine.artifacts.modalities[name]
        # One point per product: its first row.
        _, first = np.unique(mod.owners, return_index=True)
        vecs, owners = mod.vectors[first], mod.owners[first]
        labels = ["/".join(products[o].category.split("/")[:level]) for o in owners]
        pca = PCA(n_components=2, random_state=seed).fit_transform(vecs)
        tsne = TSNE(n_components=2, perplexity=min(30, max(5, len(vecs) // 20)), init="pca",
                    random_state=seed).fit_transform(vecs)
        for i, (pts, method) in enumerate(((pca, "PCA"), (tsne, "t-SNE"))):
            ax = axes[i][j]
            ax.scatter(pts[:, 0], pts[:, 1], s=6, c=[colour[c] for c in labels], alpha=0.8)
            ax.set_title(f"{name} ({len(vecs)} products): {method}")
            ax.set_xticks([])
            ax.set_yticks([])
    handles = [plt.Line2D([], [], marker="o", ls="", color=colour[c], label=c) for c in cats]
    fig.legend(handles=handles, loc="lower center", ncol=min(6, len(cats)), fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def lift_chart(report, path: Path) -> Path:
    """nDCG@10 with and without personalization after N interactions (simulator report)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report.rows()
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.bar(x - 0.2, [r["ndcg10_baseline"] for r in rows], 0.4, label="not personalized", color="#9aa5b1")
    ax.bar(x + 0.2, [r["ndcg10_personalized"] for r in rows], 0.4, label="personalized", color="#2b6cb0")
    for i, r in enumerate(rows):
        ax.annotate(f"{r['lift_pct']:+.0f}%", (i + 0.2, r["ndcg10_personalized"]), ha="center", va="bottom",
                    fontsize=9)
    ax.set_xticks(x, [str(r["interactions"]) for r in rows])
    ax.set_xlabel("interactions (clicks, carts, purchases) before the search")
    ax.set_ylabel("nDCG@10 (shopper's hidden taste)")
    ax.set_title(f"Personalization lift, {report.shoppers} simulated shoppers on Luma")
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
