"""Human-readable result tables (Rich)."""

from __future__ import annotations

from rich.table import Table

from dualsym.symmetry.invariance import InvarianceResult


def _number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}g}"


def results_table(results: list[InvarianceResult], title: str = "dualsym") -> Table:
    """Build a table with one row per (ensemble, width, group, action, order)."""
    networks = sorted({result.networks for result in results})
    caption = "rel. deviation: |G(g) - G| / |G|, noise-corrected; "
    caption += f"networks per row: {', '.join(f'{n:,}' for n in networks)}"
    if results:
        caption += f"; alpha = {results[0].alpha}"
    table = Table(title=title, caption=caption, header_style="bold")
    columns = (
        "ensemble",
        "width",
        "group",
        "on",
        "n",
        "verdict",
        "p-value",
        "max |z|",
        "rel. deviation",
        "resolution",
        "certificate",
    )
    for column in columns:
        justify = "right" if column in ("width", "n") else "left"
        # Narrow terminals wrap long names instead of dropping short columns.
        table.add_column(
            column, justify=justify, min_width=len(column), overflow="fold"
        )
    for result in results:
        summary = result.summary
        style = "green" if summary.verdict == "invariant" else "red"
        deviation = _number(summary.relative_deviation)
        if summary.relative_deviation_error is not None:
            deviation += f" ± {_number(summary.relative_deviation_error, 2)}"
        table.add_row(
            result.name,
            "-" if result.width is None else str(result.width),
            result.group,
            result.acts_on,
            str(result.order),
            f"[{style}]{summary.verdict}[/]",
            _number(summary.p_value, 2),
            _number(summary.max_abs_z, 3),
            deviation,
            _number(summary.resolution, 2),
            result.certificate or "-",
        )
    return table
