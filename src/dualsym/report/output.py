"""Atomic writing of reports: JSON, NetCDF correlators and plots."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from dualsym.report.plots import plot_width_scan


def write_json_atomic(data: dict, path: str | Path) -> Path:
    """Write `data` as JSON so that readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as handle:
            json.dump(data, handle, indent=2, allow_nan=False)
            handle.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


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
