"""Command-line interface: `dualsym check`, `dualsym demo`, `dualsym fmnist`.

Exit codes: 0 success, 2 invalid input (config, arguments, files), 1 internal failure.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import typer
from rich.console import Console

from dualsym.errors import InputError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Symmetries of neural-network densities from parameter-space correlators.",
)
console = Console(stderr=True)


DeviceOption = typer.Option(
    None, "--device", help="Torch device for sampling and evaluation, e.g. cpu or cuda."
)
JsonOption = typer.Option(
    None, "--json", help="Write the JSON report (a `results` list) to this file."
)
OutOption = typer.Option(
    None, "--out", help="Directory for report.json, NetCDF correlators and plots."
)


def _run_and_report(config, json_path: Path | None, out_dir: Path | None) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from dualsym.pipeline import run_checks, total_chunks
    from dualsym.report import results_table, write_json_atomic, write_outputs

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("chunks"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("sampling networks", total=total_chunks(config))

        def on_width(label: str, width: int | None) -> None:
            progress.update(task, description=f"{label} width {width}")

        report = run_checks(
            config,
            on_chunk=lambda chunk: progress.advance(task),
            on_width=on_width,
        )
    stdout = Console() if Console().is_terminal else Console(width=140)
    stdout.print(results_table(report.results, title="dualsym invariance tests"))
    for outcome in report.outcomes:
        certificate = outcome.certificate
        console.print(
            f"certificate {outcome.label}: [bold]{certificate.status}[/] "
            f"({certificate.reason}; surviving subgroup of the law: "
            f"{certificate.stabilizer or 'n/a'})",
            highlight=False,
        )
    console.print(f"finished in {report.seconds:.1f} s")
    if json_path is not None:
        write_json_atomic(report.as_dict(), json_path)
        console.print(f"wrote {json_path}")
    if out_dir is not None:
        for path in write_outputs(report, out_dir):
            console.print(f"wrote {path}")


@app.command()
def check(
    config_path: Path = typer.Argument(
        ...,
        metavar="CONFIG.toml",
        help="TOML config with [run], [[ensembles]], [[checks]].",
    ),
    networks: int | None = typer.Option(
        None,
        "--networks",
        help="Networks per (check, width); overrides [run].networks.",
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed; overrides [run].seed."),
    out: Path | None = OutOption,
    json_path: Path | None = JsonOption,
    device: str | None = DeviceOption,
) -> None:
    """Test the invariance of network densities described by a config file."""
    from dualsym.config import load_config
    from dualsym.pipeline import override_run

    config = override_run(load_config(config_path), networks, seed, device)
    _run_and_report(config, json_path, out)


@app.command()
def demo(
    out: Path | None = OutOption,
    json_path: Path | None = JsonOption,
    networks: int | None = typer.Option(
        None,
        "--networks",
        help="Networks per (check, width); default from the demo config.",
    ),
    device: str | None = DeviceOption,
) -> None:
    """Run the built-in demo: SO(5) output and SO(3) input invariance, and a broken case."""
    from dualsym.config import load_config
    from dualsym.pipeline import override_run

    config = override_run(load_config(demo_config_path()), networks, None, device)
    console.print(f"demo config: {demo_config_path()}")
    _run_and_report(config, json_path, out)


@app.command()
def inspect(
    path: Path = typer.Argument(
        ..., metavar="FILE.nc", help="Correlator file to show."
    ),
) -> None:
    """Show what a correlator file written with --out contains."""
    from rich.table import Table

    from dualsym.correlators import load_correlators

    correlators = load_correlators(path)
    table = Table(
        title=f"{path.name}: {correlators.ensemble}, width {correlators.width}"
    )
    for column in ("order", "unique entries", "max |G|", "median standard error"):
        table.add_column(column)
    for order, estimate in sorted(correlators.orders.items()):
        table.add_row(
            f"G{order}",
            f"{len(estimate.entries):,}",
            f"{abs(estimate.mean).max():.4g}",
            f"{float(np.median(estimate.standard_error)):.3g}",
        )
    out = Console() if Console().is_terminal else Console(width=140)
    out.print(table)
    out.print(
        f"networks {correlators.networks:,}, blocks {correlators.blocks}, seed "
        f"{correlators.seed}, points {len(correlators.points)}, d_out {correlators.d_out}"
    )


def demo_config_path() -> Path:
    """Location of the demo config shipped inside the package."""
    return Path(__file__).parent / "examples" / "demo.toml"


def _register_training_commands() -> None:
    from dualsym.training.cli import fmnist

    app.command("fmnist")(fmnist)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and map errors to exit codes (2 for invalid input)."""
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    _register_training_commands()
    try:
        app(args=argv, standalone_mode=False)
    except InputError as error:
        console.print(f"[bold red]error:[/] {error}", highlight=False)
        return 2
    except typer.Exit as exit_:
        return exit_.exit_code
    except (typer.Abort, KeyboardInterrupt):
        console.print("aborted")
        return 130
    except typer.TyperException as error:
        # Usage errors (bad option values, unknown options) carry show() and exit 2.
        show = getattr(error, "show", None)
        if show is None:
            raise
        show()
        return int(getattr(error, "exit_code", 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
