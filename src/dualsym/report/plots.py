"""Width-scan plot: deviation from invariance against log10(width), per order."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from dualsym.atomic import atomic_path

from dualsym.symmetry.invariance import InvarianceResult


def plot_width_scan(
    results: list[InvarianceResult], path: str | Path, title: str = ""
) -> Path:
    """Plot the raw relative deviation per order with its Monte Carlo band.

    The line is the noise floor, the raw deviation that Monte Carlo noise alone gives
    under exact invariance; the band reaches up to the resolution, the deviation at the
    critical value of the test. Points inside the band are consistent with invariance.
    """
    path = Path(path)
    orders = sorted({result.order for result in results})
    figure, axes = plt.subplots(
        1, len(orders), figsize=(4.2 * len(orders), 3.4), squeeze=False
    )
    for axis, order in zip(axes[0], orders):
        rows = sorted(
            (r for r in results if r.order == order and r.width is not None),
            key=lambda r: r.width,
        )
        rows = [r for r in rows if r.summary.raw_relative_deviation is not None]
        if not rows:
            axis.set_visible(False)
            continue
        log_width = np.log10([r.width for r in rows])
        raw = np.array([r.summary.raw_relative_deviation for r in rows])
        error = np.array([r.summary.relative_deviation_error for r in rows])
        floor = np.array([r.summary.noise_floor for r in rows])
        resolution = np.array([r.summary.resolution or np.nan for r in rows])
        axis.fill_between(
            log_width,
            0,
            resolution,
            color="tab:blue",
            alpha=0.15,
            label="Monte Carlo band (to resolution)",
        )
        axis.plot(log_width, floor, color="tab:blue", lw=1, label="noise floor")
        colors = ["tab:red" if r.verdict == "broken" else "black" for r in rows]
        axis.errorbar(log_width, raw, yerr=error, fmt="none", ecolor="gray")
        axis.scatter(log_width, raw, c=colors, zorder=3, label="measured")
        axis.set_xlabel("log10(width)")
        axis.set_ylabel(f"raw |G(g) - G| / |G|, order {order}")
        axis.set_title(f"order {order}")
        axis.set_ylim(bottom=0)
        axis.legend(fontsize=7)
    figure.suptitle(title)
    figure.tight_layout()
    with atomic_path(path, suffix=".png") as temporary:
        figure.savefig(temporary, dpi=120)
    plt.close(figure)
    return path
