"""Figures of the Fashion-MNIST study, written as PNG files with matplotlib's Agg."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

logger = logging.getLogger(__name__)

PERCENT = 100.0


def plot_heatmap(cells: list[dict], encoding: str, path: Path) -> Path:
    """Plot mean and standard deviation over runs of max test accuracy over (mu, k)."""
    mine = [cell for cell in cells if cell["targets"] == encoding]
    ks = sorted({cell["k"] for cell in mine})
    mus = sorted({cell["mu"] for cell in mine})
    mean = np.full((len(ks), len(mus)), np.nan)
    spread = np.full((len(ks), len(mus)), np.nan)
    for cell in mine:
        row, column = ks.index(cell["k"]), mus.index(cell["mu"])
        mean[row, column] = PERCENT * cell["mean_accuracy"]
        if cell["std_accuracy"] is not None:
            spread[row, column] = PERCENT * cell["std_accuracy"]

    figure, axes = plt.subplots(1, 2, figsize=(11, 0.5 * len(ks) + 3), squeeze=False)
    panels = (
        (mean, "mean max test accuracy (%)", "viridis"),
        (spread, "std over runs (points)", "magma"),
    )
    for axis, (values, title, colormap) in zip(axes[0], panels):
        image = axis.imshow(values, aspect="auto", origin="lower", cmap=colormap)
        axis.set_xticks(range(len(mus)), [f"{mu:g}" for mu in mus], rotation=90)
        axis.set_yticks(range(len(ks)), [str(k) for k in ks])
        axis.set_xlabel("readout mean μ")
        axis.set_ylabel("rows with mean μ (k)")
        axis.set_title(title)
        figure.colorbar(image, ax=axis)
    figure.suptitle(f"Fashion-MNIST, {encoding} targets")
    return _save(figure, path)


def plot_accuracy_vs_mu(cells: list[dict], encoding: str, path: Path) -> Path:
    """Plot mean max accuracy against mu, one line per k, with a ±1 std band."""
    mine = [cell for cell in cells if cell["targets"] == encoding]
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for k in sorted({cell["k"] for cell in mine}):
        row = sorted((c for c in mine if c["k"] == k), key=lambda c: c["mu"])
        mu = np.array([c["mu"] for c in row])
        mean = PERCENT * np.array([c["mean_accuracy"] for c in row])
        spread = PERCENT * np.array(
            [np.nan if c["std_accuracy"] is None else c["std_accuracy"] for c in row]
        )
        runs = min(c["runs"] for c in row)
        axis.plot(mu, mean, marker="o", label=f"k = {k} ({runs} runs per μ)")
        axis.fill_between(mu, mean - spread, mean + spread, alpha=0.25)
    axis.set_xlabel("readout mean μ")
    axis.set_ylabel("max test accuracy (%), band ±1 std over runs")
    axis.set_title(f"Fashion-MNIST, {encoding} targets")
    axis.legend()
    axis.grid(alpha=0.3)
    return _save(figure, path)


def plot_accuracy_vs_breaking(table: dict[str, np.ndarray], path: Path) -> Path:
    """Scatter max accuracy against breaking size, colored by target alignment.

    Symmetric runs (size 0) have no alignment and are drawn in grey; each target
    encoding has its own marker.
    """
    figure, axis = plt.subplots(figsize=(7.5, 4.5))
    markers = {"one-hot": "o", "one-cold": "^"}
    image = None
    alignments = table["alignment"][~np.isnan(table["alignment"])]
    low = min(0.0, float(alignments.min())) if alignments.size else 0.0
    high = max(1.0, float(alignments.max())) if alignments.size else 1.0
    style = {"alpha": 0.8, "edgecolors": "black", "linewidths": 0.3}
    for encoding, marker in markers.items():
        mine = table["targets"] == encoding
        symmetric = mine & np.isnan(table["alignment"])
        broken = mine & ~np.isnan(table["alignment"])
        if symmetric.any():
            # Scatter drops points whose color value is NaN, so draw these apart.
            axis.scatter(
                table["breaking_size"][symmetric],
                PERCENT * table["max_accuracy"][symmetric],
                color="grey",
                marker=marker,
                **style,
            )
        if broken.any():
            image = axis.scatter(
                table["breaking_size"][broken],
                PERCENT * table["max_accuracy"][broken],
                c=table["alignment"][broken],
                cmap="coolwarm",
                vmin=low,
                vmax=high,
                marker=marker,
                **style,
            )
        if mine.any():
            axis.scatter(
                [],
                [],
                color="white",
                marker=marker,
                label=f"{encoding} targets",
                **style,
            )
    if image is not None:
        figure.colorbar(image, ax=axis, label="alignment with targets (mean cosine)")
    axis.set_xlabel("breaking size |readout mean| = μ√k")
    axis.set_ylabel("max test accuracy (%)")
    axis.set_title("Accuracy against symmetry breaking (grey: symmetric init)")
    axis.legend()
    axis.grid(alpha=0.3)
    return _save(figure, path)


def _save(figure: plt.Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    logger.info("wrote figure %s", path)
    return path
