"""Writing a run's outputs: report.json, NetCDF correlators and plots."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from dualsym.atomic import write_json_atomic
from dualsym.errors import InputError
from dualsym.report.plots import plot_width_scan


def check_output_paths(json_path: Path | None, out_dir: Path | None) -> None:
    """Reject output paths that cannot be written, before any work starts."""
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise InputError(f"--out {out_dir} exists and is not a directory")
        _check_writable_parent(out_dir, "--out")
    if json_path is not None:
        if json_path.is_dir():
            raise InputError(f"--json {json_path} is a directory; give a file name")
        if out_dir is not None and json_path.resolve() == out_dir.resolve():
            raise InputError("--json and --out must be different paths")
        _check_writable_parent(json_path, "--json")


def _check_writable_parent(path: Path, option: str) -> None:
    ancestor = path.resolve()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"{option} {path}: {ancestor} is a file, not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: directory {ancestor} is not writable")


def write_outputs(report, out_dir: str | Path) -> list[Path]:
    """Write report.json, one NetCDF per (check, width) and width-scan plots.

    Files are first written to a staging directory beside `out_dir` and moved in only
    when all of them succeeded, so a failure leaves no partial set behind.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        names = _write_all(report, staging)
        out_dir.mkdir(exist_ok=True)
        written = []
        for name in names:
            os.replace(staging / name, out_dir / name)
            written.append(out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def _write_all(report, folder: Path) -> list[str]:
    written = [write_json_atomic(report.as_dict(), folder / "report.json")]
    for outcome in report.outcomes:
        for width, correlators in outcome.correlators.items():
            suffix = "" if width is None else f"-w{width}"
            written.append(correlators.save(folder / f"{outcome.label}{suffix}.nc"))
        widths = {result.width for result in outcome.results}
        if len(widths) > 1:
            title = f"{outcome.check.ensemble}: {outcome.results[0].group} on "
            title += outcome.check.acts_on
            written.append(
                plot_width_scan(
                    outcome.results, folder / f"{outcome.label}-widths.png", title
                )
            )
    return [path.name for path in written]
