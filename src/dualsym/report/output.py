"""Atomic writing of reports: JSON, NetCDF correlators and plots."""

from __future__ import annotations

from pathlib import Path

from dualsym.atomic import write_json_atomic
from dualsym.report.plots import plot_width_scan


def write_outputs(report, out_dir: str | Path) -> list[Path]:
    """Write report.json, one NetCDF per (check, width) and width-scan plots."""
    out_dir = Path(out_dir)
    written = [write_json_atomic(report.as_dict(), out_dir / "report.json")]
    for outcome in report.outcomes:
        for width, correlators in outcome.correlators.items():
            suffix = "" if width is None else f"-w{width}"
            written.append(correlators.save(out_dir / f"{outcome.label}{suffix}.nc"))
        widths = {result.width for result in outcome.results}
        if len(widths) > 1:
            title = f"{outcome.check.ensemble}: {outcome.results[0].group} on "
            title += outcome.check.acts_on
            written.append(
                plot_width_scan(
                    outcome.results, out_dir / f"{outcome.label}-widths.png", title
                )
            )
    return written
