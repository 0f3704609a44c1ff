"""`dualsym fmnist`: the Fashion-MNIST symmetry-breaking sweep, from data to figures."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated

import torch
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from dualsym.ensemble import resolve_device
from dualsym.errors import InputError
from dualsym.training.data import load_fashion_mnist
from dualsym.training.fmnist import (
    TARGET_ENCODINGS,
    RunStore,
    build_sweep_config,
    plan_sweep,
    run_steps,
    run_sweep,
)
from dualsym.training.summary import SUMMARY_FILE, write_report

MAX_TABLE_CELLS = 60
MAX_RANGE_VALUES = 10_000


def parse_k(text: str) -> list[int]:
    """Parse a comma-separated list of integers, e.g. '0,2,4'."""
    values = []
    for item in text.split(","):
        try:
            values.append(int(item.strip()))
        except ValueError:
            raise InputError(
                f"invalid --k value {item.strip()!r} in {text!r}: give integers "
                f"separated by commas, e.g. --k 0,5,10"
            ) from None
    return values


def parse_mu(text: str) -> list[float]:
    """Parse '0,0.1,0.2' (a list) or '0:0.2:0.01' (start:stop:step, stop included)."""
    if ":" not in text:
        return [_parse_float(item, text) for item in text.split(",")]
    parts = text.split(":")
    if len(parts) != 3:
        raise InputError(
            f"invalid --mu range {text!r}: use start:stop:step, e.g. --mu 0:0.2:0.01"
        )
    start, stop, step = (_parse_float(part, text) for part in parts)
    if step <= 0 or stop < start:
        raise InputError(
            f"invalid --mu range {text!r}: step must be positive and stop >= start"
        )
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_RANGE_VALUES:
        raise InputError(
            f"--mu range {text!r} has {count} values, more than {MAX_RANGE_VALUES}; "
            f"use a larger step"
        )
    return [round(start + i * step, 10) for i in range(count)]


def _parse_float(item: str, text: str) -> float:
    try:
        value = float(item.strip())
    except ValueError:
        raise InputError(
            f"invalid --mu value {item.strip()!r} in {text!r}: give numbers separated "
            f"by commas (0,0.1,0.2) or a range start:stop:step (0:0.2:0.01)"
        ) from None
    if not math.isfinite(value):
        raise InputError(f"invalid --mu value {item.strip()!r}: it must be finite")
    return value


def parse_targets(text: str) -> list[str]:
    """Parse 'one-hot', 'one-cold' or 'both'."""
    if text == "both":
        return list(TARGET_ENCODINGS)
    if text not in TARGET_ENCODINGS:
        raise InputError(f"invalid --targets {text!r}: use one-hot, one-cold or both")
    return [text]


def fmnist(
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Reduced grid: k in {0,5,10}, mu in {0,0.1,0.2}, 2 runs, 3 epochs.",
        ),
    ] = False,
    targets: Annotated[
        str,
        typer.Option(help="Target encoding: one-hot, one-cold or both."),
    ] = "both",
    k: Annotated[
        str | None,
        typer.Option(
            "--k",
            help="Numbers of readout rows with mean mu, comma-separated, each 0..10 "
            "(default 0,2,4,6,8,10 for one-hot, 10 for one-cold).",
        ),
    ] = None,
    mu: Annotated[
        str | None,
        typer.Option(
            "--mu",
            help="Readout means, comma-separated or start:stop:step with stop "
            "included (default 0:0.2:0.01).",
        ),
    ] = None,
    runs: Annotated[
        int | None,
        typer.Option(help="Runs per (k, mu) cell (default 10 one-hot, 20 one-cold)."),
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(help="Training epochs per run (default 20).")
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Output folder for runs, summary.json and figures.")
    ] = Path("runs/fmnist"),
    device: Annotated[
        str, typer.Option(help="Torch device to train on: cpu, cuda or cuda:N.")
    ] = "cpu",
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue the sweep stored in --out, skipping runs already stored.",
        ),
    ] = False,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Folder with the Fashion-MNIST *-ubyte.gz files (default "
            "$DUALSYM_FMNIST_DIR, else /usr/share/datasets/fashion-mnist).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of every run's randomness.")] = 0,
    batch_runs: Annotated[
        int,
        typer.Option(
            help="Runs trained together as one batched model. Results do not "
            "depend on it beyond floating-point rounding; memory and speed do.",
        ),
    ] = 32,
    threads: Annotated[
        int | None,
        typer.Option(
            help="CPU threads for torch (default: torch's choice, one per core); 1 "
            "avoids OpenMP stalls on a machine shared with other jobs.",
        ),
    ] = None,
    dtype: Annotated[
        str, typer.Option(hidden=True, help="float32 or float64.")
    ] = "float32",
    train_limit: Annotated[
        int | None,
        typer.Option(hidden=True, help="Use only the first N training images."),
    ] = None,
    test_limit: Annotated[
        int | None,
        typer.Option(hidden=True, help="Use only the first N test images."),
    ] = None,
) -> None:
    """Train on Fashion-MNIST from initializations with broken readout symmetry.

    Reproduces the reference protocol (784-50-10 ReLU, no biases, MSE, Adam 1e-3
    decayed by 0.7 per epoch, batch 64) over a grid of readout means, stores every
    finished batch of runs in --out, then writes summary.json and PNG figures.
    """
    encodings = parse_targets(targets)
    config = build_sweep_config(
        encodings,
        quick=quick,
        k=None if k is None else parse_k(k),
        mu=None if mu is None else parse_mu(mu),
        runs=runs,
        epochs=epochs,
        seed=seed,
        dtype=dtype,
        train_limit=train_limit,
        test_limit=test_limit,
    )
    torch_device = resolve_device(device)
    if batch_runs < 1:
        raise InputError(f"--batch-runs must be a positive integer, got {batch_runs}")
    if threads is not None:
        if threads < 1:
            raise InputError(f"--threads must be a positive integer, got {threads}")
        torch.set_num_threads(threads)
    dataset = load_fashion_mnist(data, train_limit, test_limit)
    store = RunStore(out, config, resume)
    plan = plan_sweep(config, store, batch_runs)

    console = Console()
    started = time.perf_counter()
    samples = len(dataset.train_labels)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as progress:
        task = progress.add_task(
            f"training {plan.pending} runs ({plan.stored} stored), run-steps",
            total=run_steps(config, samples, plan.pending),
        )
        results = run_sweep(
            config,
            dataset,
            store,
            plan,
            torch_device,
            progress=lambda advance: progress.advance(task, advance),
        )
    elapsed = time.perf_counter() - started

    summary = write_report(out, results, config)
    _print_summary(console, summary, out, elapsed, plan.pending)


def _print_summary(
    console: Console, summary: dict, out: Path, elapsed: float, trained: int
) -> None:
    cells = summary["cells"]
    if len(cells) <= MAX_TABLE_CELLS:
        table = Table(title="Max test accuracy over epochs, per cell")
        for column in (
            "targets",
            "k",
            "μ",
            "runs",
            "mean %",
            "std",
            "size",
            "align.",
            "residual symmetry",
        ):
            table.add_column(column)
        for cell in cells:
            std = cell["std_accuracy"]
            alignment = cell["alignment"]
            table.add_row(
                cell["targets"],
                str(cell["k"]),
                f"{cell['mu']:g}",
                str(cell["runs"]),
                f"{100 * cell['mean_accuracy']:.2f}",
                "-" if std is None else f"{100 * std:.2f}",
                f"{cell['breaking_size']:.3f}",
                "-" if alignment is None else f"{alignment:.3f}",
                cell["residual_symmetry"],
            )
        console.print(table)
    else:
        console.print(f"{len(cells)} cells: see {out / SUMMARY_FILE} for each")
    for statement in summary["statements"]:
        console.print(statement["text"], highlight=False)
    console.print(
        f"trained {trained} runs in {elapsed:.1f} s; wrote {out / SUMMARY_FILE} and "
        f"{', '.join(summary['figures'])}",
        highlight=False,
    )
