"""The precision@k and nDCG@k curves of an evaluation, one line per model, as a PNG.

matplotlib draws on an Agg canvas of its own (no pyplot, no global backend switch) and is imported
only when a plot is written, so the CLI starts as fast without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

CURVE_METRICS = (("precision", "precision@k"), ("ndcg", "nDCG@k"))


def write_curves_plot(path: Path, curves: Mapping[str, Mapping[str, Sequence[float]]], title: str) -> Path:
    """Write ``curves`` (model name -> {"k": [...], "precision": [...], "ndcg": [...]}) to ``path``
    as a PNG with two panels, precision@k and nDCG@k against k; return ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not curves:
        raise ValueError("no curves to plot")
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(CURVE_METRICS))
    for ax, (metric, label) in zip(axes, CURVE_METRICS, strict=True):
        for name, curve in curves.items():
            ax.plot(curve["k"], curve[metric], marker="o", markersize=3, label=name)
        ax.set_xlabel("k")
        ax.set_ylabel(label)
        ax.set_title(label)
        ax.set_xticks([k for k in next(iter(curves.values()))["k"] if k == 1 or k % 5 == 0])
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    figure.suptitle(title, fontsize="medium")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=100)
    return path


def write_bars_plot(
    path: Path, values: Mapping[str, Mapping[str, float]], metrics: Sequence[tuple[str, str]], title: str
) -> Path:
    """Write ``values`` (method name -> {metric: value}) to ``path`` as a PNG with one panel of
    horizontal bars per metric of ``metrics`` ((key, label) pairs); return ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not values:
        raise ValueError("no values to plot")
    names = list(values)
    figure = Figure(figsize=(4 * len(metrics), 0.4 * len(names) + 1.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    for ax, (metric, label) in zip(axes, metrics, strict=True):
        ax.barh(names, [values[name][metric] for name in names])
        ax.invert_yaxis()
        ax.set_title(label)
        ax.grid(axis="x", alpha=0.3)
    figure.suptitle(title, fontsize="medium")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=100)
    return path
