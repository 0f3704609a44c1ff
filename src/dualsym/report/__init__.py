"""Reports: Rich tables, width-scan plots and atomic JSON/NetCDF output."""

from dualsym.report.output import write_json_atomic, write_outputs
from dualsym.report.plots import plot_width_scan
from dualsym.report.tables import results_table

__all__ = ["plot_width_scan", "results_table", "write_json_atomic", "write_outputs"]
