"""The final step of a sweep: summary.json and the PNG figures in the output folder."""

from __future__ import annotations

import json
from pathlib import Path

import xarray as xr

from dualsym.atomic import write_text_atomic
from dualsym.report import fmnist_plots
from dualsym.training.analysis import assess_claims, cell_summaries, run_table
from dualsym.training.fmnist import SweepConfig

SUMMARY_FILE = "summary.json"


def write_report(folder: Path, results: xr.Dataset, config: SweepConfig) -> dict:
    """Analyze the runs of a finished sweep and write summary.json and the figures.

    Figures: a heatmap per target encoding (`heatmap_<targets>.png`), accuracy
    against mu for one-cold targets (`one-cold_accuracy_vs_mu.png`, when requested)
    and accuracy against breaking size (`accuracy_vs_breaking.png`).

    Returns:
        The summary: protocol, per-cell statistics, statements on the claims, and
        the figure paths.
    """
    folder = Path(folder)
    table = run_table(results, config.width)
    cells = cell_summaries(table, config.width)
    # Only the claims about the requested target encodings are assessed.
    statements = [
        statement
        for statement in assess_claims(table)
        if statement["targets"] in config.grids
    ]

    figures = []
    for encoding in config.grids:
        path = folder / f"heatmap_{encoding}.png"
        figures.append(fmnist_plots.plot_heatmap(cells, encoding, path))
    if "one-cold" in config.grids:
        path = folder / "one-cold_accuracy_vs_mu.png"
        figures.append(fmnist_plots.plot_accuracy_vs_mu(cells, "one-cold", path))
    path = folder / "accuracy_vs_breaking.png"
    figures.append(fmnist_plots.plot_accuracy_vs_breaking(table, path))

    summary = {
        "protocol": json.loads(config.protocol_json()),
        "metric": "max test accuracy over epochs",
        "runs": len(table["k"]),
        "cells": cells,
        "statements": statements,
        "figures": [figure.name for figure in figures],
    }
    write_text_atomic(folder / SUMMARY_FILE, json.dumps(summary, indent=2))
    return summary
