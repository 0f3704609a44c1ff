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
from rich.markup import escape

from dualsym.errors import InputError

app = typer.Typer(
    add_completion=False,
    # Plain help text: Rich markup would swallow "[run]" and "[[checks]]".
    rich_markup_mode=None,
    no_args_is_help=True,
    help="Symmetries of neural-network densities from parameter-space correlators.",
)
console = Console(stderr=True)


DeviceOption = typer.Option(
    None,
    "--device",
    help="Torch device for sampling, forward passes and accumulation: cpu, cuda or "
    "cuda:N. On cuda everything stays on the GPU: the forward pass runs in the "
    "ensemble dtype (float32 by default) and moments accumulate in float64.",
)
WorkersOption = typer.Option(
    None,
    "--workers",
    help="Start a local Dask cluster of this many worker processes on 127.0.0.1 and "
    "run the chunks there. Results equal the serial run's.",
)
SchedulerOption = typer.Option(
    None,
    "--scheduler",
    help="Address of a running Dask scheduler (tcp://HOST:PORT) to run the "
    "chunks on; its workers need dualsym installed.",
)
ResumeOption = typer.Option(
    False,
    "--resume",
    help="Continue a killed run from the checkpoints in OUT/checkpoints (needs --out). "
    "A checkpoint written for another config or seed is rejected.",
)
CheckpointEveryOption = typer.Option(
    None,
    "--checkpoint-every",
    help="Chunks between checkpoints in OUT/checkpoints (needs --out; default "
    "20). Checkpoints are removed once the outputs are written.",
)
ThreadsOption = typer.Option(
    None,
    "--threads",
    help="CPU threads for torch (default: one per core). 1 avoids OpenMP stalls on "
    "a machine shared with other jobs.",
)
JsonOption = typer.Option(
    None, "--json", help="Write the JSON report (a `results` list) to this file."
)
OutOption = typer.Option(
    None, "--out", help="Directory for report.json, NetCDF correlators and plots."
)


def _execution(
    out_dir: Path | None,
    workers: int | None,
    scheduler: str | None,
    resume: bool,
    checkpoint_every: int | None,
):
    """Build and validate the execution settings of the CLI options."""
    from dualsym.pipeline import DEFAULT_CHECKPOINT_EVERY, Execution

    if checkpoint_every is not None and out_dir is None:
        raise InputError("--checkpoint-every needs --out DIR to write checkpoints to")
    execution = Execution(
        workers=workers,
        scheduler=scheduler,
        checkpoint_dir=None if out_dir is None else out_dir / "checkpoints",
        checkpoint_every=(
            DEFAULT_CHECKPOINT_EVERY if checkpoint_every is None else checkpoint_every
        ),
        resume=resume,
    )
    execution.validate()
    return execution


def _run_and_report(
    config, json_path: Path | None, out_dir: Path | None, execution
) -> None:
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
    from dualsym.report.output import check_output_paths

    check_output_paths(json_path, out_dir)

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
            execution=execution,
        )
    if execution.resume and not report.resumed:
        console.print("no checkpoints to resume; the run started from the first chunk")
    for name, (finished, total) in report.resumed.items():
        console.print(f"resumed {name} at chunk {finished} of {total}")
    stdout = Console() if Console().is_terminal else Console(width=140)
    stdout.print(results_table(report.results, title="dualsym invariance tests"))
    for outcome in report.outcomes:
        certificate = outcome.certificate
        console.print(
            f"certificate {outcome.label}: [bold]{certificate.status}[/] "
            f"({escape(certificate.reason)}; surviving subgroup of the law: "
            f"{escape(certificate.stabilizer or 'unknown')})",
            highlight=False,
        )
    console.print(f"finished in {report.seconds:.1f} s")
    if out_dir is not None:
        for path in write_outputs(report, out_dir):
            console.print(f"wrote {path}", highlight=False)
        _remove_checkpoints(report.checkpoints)
    if json_path is not None:
        write_json_atomic(report.as_dict(), json_path)
        console.print(f"wrote {json_path}", highlight=False)


def _remove_checkpoints(paths: list[Path]) -> None:
    """Delete a finished run's checkpoints, and their directory once it is empty."""
    for path in paths:
        path.unlink(missing_ok=True)
    for directory in {path.parent for path in paths}:
        # A run killed while writing a checkpoint leaves its temporary file behind.
        for stale in directory.glob(".*.nc"):
            stale.unlink(missing_ok=True)
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()


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
    workers: int | None = WorkersOption,
    scheduler: str | None = SchedulerOption,
    resume: bool = ResumeOption,
    checkpoint_every: int | None = CheckpointEveryOption,
    threads: int | None = ThreadsOption,
) -> None:
    """Test the invariance of network densities described by a config file."""
    _set_threads(threads)
    from dualsym.config import load_config
    from dualsym.pipeline import override_run

    execution = _execution(out, workers, scheduler, resume, checkpoint_every)
    config = override_run(load_config(config_path), networks, seed, device)
    _run_and_report(config, json_path, out, execution)


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
    workers: int | None = WorkersOption,
    scheduler: str | None = SchedulerOption,
    resume: bool = ResumeOption,
    checkpoint_every: int | None = CheckpointEveryOption,
    threads: int | None = ThreadsOption,
) -> None:
    """Run the built-in demo: SO(5) output and SO(3) input invariance, and a broken case."""
    _set_threads(threads)
    from dualsym.config import load_config
    from dualsym.pipeline import override_run

    execution = _execution(out, workers, scheduler, resume, checkpoint_every)
    config = override_run(load_config(demo_config_path()), networks, None, device)
    console.print(f"demo config: {demo_config_path()}")
    _run_and_report(config, json_path, out, execution)


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


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    if threads < 1:
        raise InputError(f"--threads must be a positive integer, got {threads}")
    import torch

    torch.set_num_threads(threads)


def _version_callback(value: bool) -> None:
    if value:
        from dualsym.correlators.estimates import _version

        print(f"dualsym {_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version_callback,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Symmetries of neural-network densities from parameter-space correlators."""


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
    # Dask sets its own loggers to INFO, which would print every cluster event.
    # Shutdown after Ctrl-C also makes it log closed-connection errors at length.
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    _register_training_commands()
    try:
        # Without standalone mode Typer returns the code of an Exit raised inside a
        # command (and 130 for Ctrl-C) instead of raising it.
        code = app(args=argv, standalone_mode=False)
    except InputError as error:
        # soft_wrap keeps long key paths on one line when stderr is not a terminal.
        console.print(
            f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True
        )
        return 2
    except typer.Exit as exit_:
        return exit_.exit_code
    except (typer.Abort, KeyboardInterrupt):
        console.print("interrupted")
        return 130
    except typer.TyperException as error:
        # Usage errors (bad option values, unknown options) carry show() and exit 2.
        show = getattr(error, "show", None)
        if show is None:
            raise
        show()
        return int(getattr(error, "exit_code", 2))
    if code == 130:
        console.print(
            "interrupted; if --out already holds checkpoints or stored runs, the same "
            "command with --resume continues from them",
            soft_wrap=True,
        )
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
