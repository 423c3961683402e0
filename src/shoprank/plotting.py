"""Plotting shared by evaluation and analytics: matplotlib, headless, loaded on first use."""
from __future__ import annotations


def pyplot():  # matplotlib.pyplot, imported on first use (headless)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Chinese queries and titles: fall back to a CJK font where one is installed (else boxes).
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    cjk = [f for f in ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans CJK JP") if f in installed]
    if cjk:
        plt.rcParams["font.family"] = ["DejaVu Sans", *cjk]
    return plt
