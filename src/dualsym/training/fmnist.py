"""The Fashion-MNIST study: accuracy after training from readout-symmetry-breaking inits.

A sweep trains 784 -> 50 (ReLU) -> 10 networks without biases, all weights
N(0, 1/fan_in) except that the first k readout rows have mean mu, for every (targets,
k, mu, run) of a grid. Runs are trained in batches (`train_batched`) and every finished
batch is written at once to its own NetCDF file, so an interrupted sweep resumes
where it stopped.

Randomness: `Ensemble.sample_chunk` draws the initialization of run (k, mu, run) with
chunk key (k, mu code, run), where the mu code is mu in millionths. A generator keyed
by the same three values draws its mini-batch order. Results therefore depend neither
on how runs are batched nor on which other cells the grid contains, and the one-hot
and one-cold runs of one (k, mu, run) start from the same weights.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dualsym.config import (
    EnsembleConfig,
    LawConfig,
    LayerOverride,
    MeanRows,
)
from dualsym.atomic import write_netcdf_atomic, write_text_atomic
from dualsym.ensemble import Ensemble, chunk_generator
from dualsym.errors import InputError, ResultFileError
from dualsym.training.batched import TrainingHistory, TrainSettings, train_batched
from dualsym.training.data import CLASSES, FashionMNIST

logger = logging.getLogger(__name__)

TargetEncoding = Literal["one-hot", "one-cold"]
TARGET_ENCODINGS: tuple[TargetEncoding, ...] = ("one-hot", "one-cold")
D_IN = 784
D_OUT = CLASSES
ENSEMBLE_NAME = "fmnist"
STORE_FORMAT = "dualsym-fmnist-1"

REFERENCE_K = [0, 2, 4, 6, 8, 10]
REFERENCE_MU = [round(0.01 * i, 2) for i in range(21)]
QUICK_K = [0, 5, 10]
QUICK_MU = [0.0, 0.1, 0.2]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Grid(_Model):
    """Cells (k, mu) of one target encoding and the number of runs in each."""

    k: list[int]
    mu: list[float]
    runs: int = Field(ge=1)

    @field_validator("k")
    @classmethod
    def _check_k(cls, values: list[int]) -> list[int]:
        if not values:
            raise ValueError("`k` must list at least one value")
        for value in values:
            if not 0 <= value <= D_OUT:
                raise ValueError(
                    f"every k must be between 0 and {D_OUT} (the readout rows), "
                    f"got {value}"
                )
        if len(set(values)) != len(values):
            raise ValueError(f"`k` lists a value twice: {values}")
        return sorted(values)

    @field_validator("mu")
    @classmethod
    def _check_mu(cls, values: list[float]) -> list[float]:
        if not values:
            raise ValueError("`mu` must list at least one value")
        codes = [mu_code(value) for value in values]
        if len(set(codes)) != len(codes):
            raise ValueError(
                f"`mu` lists a value twice (values closer than 1e-6 count as one): "
                f"{values}"
            )
        return sorted(values)


class SweepConfig(_Model):
    """Everything that determines the results of a sweep (the stored protocol)."""

    grids: dict[TargetEncoding, Grid]
    epochs: int = Field(default=20, ge=1)
    batch_size: int = Field(default=64, ge=1)
    learning_rate: float = Field(default=1e-3, gt=0.0)
    lr_decay: float = Field(default=0.7, gt=0.0)
    width: int = Field(default=50, ge=1)
    seed: int = Field(default=0, ge=0)
    dtype: Literal["float32", "float64"] = "float32"
    train_limit: int | None = Field(default=None, ge=1)
    test_limit: int | None = Field(default=None, ge=1)

    @field_validator("grids")
    @classmethod
    def _check_grids(cls, grids: dict) -> dict:
        if not grids:
            raise ValueError("request at least one target encoding")
        return grids

    def settings(self) -> TrainSettings:
        """Return the optimizer settings of this protocol."""
        return TrainSettings(
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            lr_decay=self.lr_decay,
        )

    def protocol_json(self) -> str:
        """Serialize the protocol, with the fixed parts of the study, for storage."""
        protocol = self.model_dump(mode="json")
        protocol["format"] = STORE_FORMAT
        protocol["network"] = (
            f"{D_IN} -> {self.width} (ReLU) -> {D_OUT}, no biases, weights "
            f"N(0, 1/fan_in), readout rows 0..k-1 with mean mu"
        )
        protocol["training"] = (
            "MSE loss, Adam, learning rate decayed after every epoch, shuffled "
            "mini-batches, pixels scaled to [0, 1] then normalized (0.1307, 0.3081)"
        )
        return json.dumps(protocol, sort_keys=True)

    def run_keys(self) -> list[RunKey]:
        """List every run of the grid, run index first, so early batches span cells."""
        keys = []
        for targets, grid in self.grids.items():
            for run in range(grid.runs):
                for k in grid.k:
                    for mu in grid.mu:
                        keys.append(RunKey(targets, k, mu, run))
        return keys


def build_sweep_config(
    targets: Iterable[TargetEncoding],
    quick: bool = False,
    k: list[int] | None = None,
    mu: list[float] | None = None,
    runs: int | None = None,
    **protocol,
) -> SweepConfig:
    """Build the reference (or quick) grid for `targets`, with optional overrides.

    The reference grid is k in {0, 2, ..., 10}, mu in {0, 0.01, ..., 0.2} with 10 runs
    for one-hot targets, and k = 10 over the same mu with 20 runs for one-cold
    targets, 20 epochs. The quick grid is k in {0, 5, 10}, mu in {0, 0.1, 0.2}, 2 runs
    and 3 epochs for both encodings. `k`, `mu` and `runs` replace the grid values of
    every requested encoding; `protocol` sets other `SweepConfig` fields.

    Raises:
        InputError: a value is out of range or repeated.
    """
    # NOTE: the one-cold default reads the reference protocol as k = 10 only, with 20
    # runs; pass --k to sweep the one-hot k grid for one-cold targets too.
    grids = {}
    for encoding in targets:
        if quick:
            default = {"k": QUICK_K, "mu": QUICK_MU, "runs": 2}
        elif encoding == "one-hot":
            default = {"k": REFERENCE_K, "mu": REFERENCE_MU, "runs": 10}
        else:
            default = {"k": [D_OUT], "mu": REFERENCE_MU, "runs": 20}
        grids[encoding] = {
            "k": default["k"] if k is None else k,
            "mu": default["mu"] if mu is None else mu,
            "runs": default["runs"] if runs is None else runs,
        }
    if quick and protocol.get("epochs") is None:
        protocol["epochs"] = 3
    fields = {name: value for name, value in protocol.items() if value is not None}
    try:
        return SweepConfig(grids=grids, **fields)
    except ValidationError as error:
        raise InputError(_option_errors(error)) from None


def _option_errors(error: ValidationError) -> str:
    """Name the command-line option behind each validation error, once each."""
    lines = []
    for problem in error.errors():
        field = str(problem["loc"][-1]) if problem["loc"] else "grids"
        option = "--targets" if field == "grids" else "--" + field.replace("_", "-")
        message = problem["msg"].removeprefix("Value error, ")
        line = f"invalid {option}: {message}"
        if problem["type"] != "value_error" and "input" in problem:
            line += f" (got {problem['input']!r})"
        if line not in lines:
            lines.append(line)
    return "\n".join(lines)


@dataclass(frozen=True, order=True)
class RunKey:
    """One training run: target encoding, readout mean rows k, mean mu, run index."""

    targets: str
    k: int
    mu: float
    run: int

    def identity(self) -> tuple[str, int, int, int]:
        """Return the key with mu as its integer code, safe to compare and hash."""
        return (self.targets, self.k, mu_code(self.mu), self.run)


def mu_code(mu: float) -> int:
    """Encode mu as a non-negative integer (millionths, zigzag for the sign)."""
    micro = round(mu * 1_000_000)
    return 2 * micro if micro >= 0 else -2 * micro - 1


def ensemble_config(k: int, mu: float, width: int = 50) -> EnsembleConfig:
    """Return the parameter law of the study's network for readout mean rows (k, mu)."""
    readout = LawConfig(std=1.0, fan_in_scaling=True, mean_rows=MeanRows(k=k, value=mu))
    return EnsembleConfig(
        name=ENSEMBLE_NAME,
        activation="relu",
        d_in=D_IN,
        d_out=D_OUT,
        widths=[width],
        hidden_layers=1,
        weights=LawConfig(std=1.0, fan_in_scaling=True),
        biases=None,
        output_bias=False,
        layers={"readout": LayerOverride(weights=readout)},
    )


def readout_mean_matrix(k: int, mu: float, width: int = 50) -> np.ndarray:
    """Return the mean [d_out, width] of the readout weights under the law."""
    ensemble = Ensemble(ensemble_config(k, mu, width), width)
    (readout,) = [spec for spec in ensemble.specs if spec.name == "W1"]
    return readout.law.mean


def sample_initializations(
    keys: list[RunKey], config: SweepConfig, device: torch.device
) -> dict[str, torch.Tensor]:
    """Draw the initial weights of `keys`, stacked along a leading runs axis."""
    ensembles: dict[tuple[int, int], Ensemble] = {}
    drawn = []
    for key in keys:
        cell = (key.k, mu_code(key.mu))
        if cell not in ensembles:
            ensembles[cell] = Ensemble(
                ensemble_config(key.k, key.mu, config.width),
                config.width,
                device,
                config.dtype,
            )
        chunk_key = (key.k, mu_code(key.mu), key.run)
        drawn.append(ensembles[cell].sample_chunk(config.seed, chunk_key, 1))
    return {name: torch.cat([d[name] for d in drawn]) for name in ("W0", "W1")}


SHUFFLE_STREAM = zlib.crc32(b"fmnist-shuffle")


def shuffle_generator(key: RunKey, seed: int) -> torch.Generator:
    """Return the CPU generator of the mini-batch order of one run."""
    return chunk_generator(
        seed, (SHUFFLE_STREAM, key.k, mu_code(key.mu), key.run), "cpu"
    )


def encode_targets(labels: torch.Tensor, encoding: str, dtype: torch.dtype):
    """Return one-hot targets, or one-cold targets 1 - one-hot, [samples, classes]."""
    one_hot = torch.nn.functional.one_hot(labels, D_OUT).to(dtype)
    return one_hot if encoding == "one-hot" else 1.0 - one_hot


def prediction_rule(encoding: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return argmax over classes for one-hot targets, argmin for one-cold."""
    if encoding == "one-hot":
        return lambda outputs: outputs.argmax(dim=-1)
    return lambda outputs: outputs.argmin(dim=-1)


class RunStore:
    """A folder of NetCDF files, one per finished batch of runs, plus protocol.json.

    Each file contains per-epoch train loss, test loss and test accuracy of its runs
    (dims record, epoch) and the protocol as an attribute. Files are written to a
    temporary name and renamed, so a file either is complete or does not exist.
    """

    PROTOCOL_FILE = "protocol.json"
    RUNS_DIR = "runs"

    def __init__(self, folder: Path, config: SweepConfig, resume: bool):
        self.folder = Path(folder)
        self.protocol = config.protocol_json()
        self._open(resume)

    def _open(self, resume: bool) -> None:
        folder = self.folder
        if folder.exists() and not folder.is_dir():
            raise InputError(f"--out {folder} is a file, not a folder; choose a folder")
        protocol_path = folder / self.PROTOCOL_FILE
        non_empty = folder.is_dir() and any(folder.iterdir())
        if non_empty and not resume:
            raise InputError(
                f"output folder {folder} is not empty; pass --resume to continue the "
                f"sweep stored there, or choose another --out"
            )
        if non_empty and not protocol_path.is_file():
            raise InputError(
                f"cannot resume in {folder}: it has no {self.PROTOCOL_FILE}, so it is "
                f"not a dualsym fmnist output folder; choose another --out"
            )
        if protocol_path.is_file():
            stored = protocol_path.read_text()
            if _canonical(stored) != _canonical(self.protocol):
                raise InputError(
                    f"cannot resume in {folder}: the stored protocol differs from this "
                    f"request ({_describe_difference(stored, self.protocol)}); repeat "
                    f"the original options, or choose another --out"
                )
        (folder / self.RUNS_DIR).mkdir(parents=True, exist_ok=True)
        if not protocol_path.is_file():
            write_text_atomic(protocol_path, self.protocol)

    def files(self) -> list[Path]:
        """Return the stored batch files, sorted by name."""
        return sorted((self.folder / self.RUNS_DIR).glob("*.nc"))

    def load(self) -> xr.Dataset | None:
        """Read every stored run into one Dataset (dims record, epoch), or None."""
        parts = []
        for path in self.files():
            try:
                with xr.open_dataset(path, engine="h5netcdf") as dataset:
                    part = dataset.load()
            except (OSError, ValueError) as error:
                raise ResultFileError(
                    f"cannot read stored runs {path}: {error}; delete the file to "
                    f"retrain its runs"
                ) from None
            if _canonical(part.attrs.get("protocol", "{}")) != _canonical(
                self.protocol
            ):
                raise ResultFileError(
                    f"stored runs {path} were made with another protocol than "
                    f"{self.folder / self.PROTOCOL_FILE}; move the file out of the folder"
                )
            parts.append(part)
        if not parts:
            return None
        return xr.concat(parts, dim="record")

    def completed(self) -> set[tuple[str, int, int, int]]:
        """Return the identities (see `RunKey.identity`) of every stored run."""
        stored = self.load()
        if stored is None:
            return set()
        return set(_record_identities(stored))

    def save(self, keys: list[RunKey], history: TrainingHistory) -> Path:
        """Write one finished batch atomically and return its path."""
        epochs = np.arange(1, history.test_accuracy.shape[1] + 1)
        dims = ("record", "epoch")
        dataset = xr.Dataset(
            {
                "train_loss": (dims, history.train_loss),
                "test_loss": (dims, history.test_loss),
                "test_accuracy": (dims, history.test_accuracy),
            },
            coords={
                "targets": ("record", np.array([key.targets for key in keys])),
                "k": ("record", np.array([key.k for key in keys])),
                "mu": ("record", np.array([key.mu for key in keys])),
                "run": ("record", np.array([key.run for key in keys])),
                "epoch": ("epoch", epochs),
            },
            attrs={
                "protocol": self.protocol,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            },
        )
        digest = hashlib.sha1(repr([key.identity() for key in keys]).encode())
        path = (
            self.folder
            / self.RUNS_DIR
            / f"{keys[0].targets}-{digest.hexdigest()[:16]}.nc"
        )
        return write_netcdf_atomic(dataset, path)


def _record_identities(dataset: xr.Dataset) -> list[tuple[str, int, int, int]]:
    return [
        (str(t), int(k), mu_code(float(mu)), int(run))
        for t, k, mu, run in zip(
            dataset["targets"].values,
            dataset["k"].values,
            dataset["mu"].values,
            dataset["run"].values,
        )
    ]


def _canonical(text: str) -> dict:
    return json.loads(text)


def _describe_difference(stored: str, requested: str) -> str:
    old, new = json.loads(stored), json.loads(requested)
    changed = sorted(
        key for key in old.keys() | new.keys() if old.get(key) != new.get(key)
    )
    parts = [
        f"{key}: stored {old.get(key)!r}, requested {new.get(key)!r}" for key in changed
    ]
    return "; ".join(parts)


@dataclass(frozen=True)
class SweepPlan:
    """The runs a sweep still has to train, in batches of one target encoding."""

    batches: list[list[RunKey]]
    stored: int

    @property
    def pending(self) -> int:
        """Number of runs still to train."""
        return sum(len(batch) for batch in self.batches)


def plan_sweep(config: SweepConfig, store: RunStore, batch_runs: int) -> SweepPlan:
    """Split the runs of `config` that `store` lacks into batches of `batch_runs`."""
    if batch_runs < 1:
        raise InputError(f"--batch-runs must be a positive integer, got {batch_runs}")
    done = store.completed()
    batches = []
    stored = 0
    for encoding in config.grids:
        pending = []
        for key in config.run_keys():
            if key.targets != encoding:
                continue
            if key.identity() in done:
                stored += 1
            else:
                pending.append(key)
        for start in range(0, len(pending), batch_runs):
            batches.append(pending[start : start + batch_runs])
    return SweepPlan(batches, stored)


def run_steps(config: SweepConfig, train_samples: int, runs: int) -> int:
    """Return the number of run-steps (mini-batch updates summed over runs)."""
    steps_per_epoch = math.ceil(train_samples / config.batch_size)
    return runs * config.epochs * steps_per_epoch


def run_sweep(
    config: SweepConfig,
    data: FashionMNIST,
    store: RunStore,
    plan: SweepPlan,
    device: torch.device | str = "cpu",
    progress: Callable[[int], None] | None = None,
    on_batch_stored: Callable[[list[RunKey], Path], None] | None = None,
) -> xr.Dataset:
    """Train the batches of `plan`, store each as it finishes, and return all runs.

    The returned Dataset contains the stored runs of the requested grid (dims record,
    epoch), including runs stored by earlier, interrupted sweeps.
    """
    device = torch.device(device)
    dtype = torch.float64 if config.dtype == "float64" else torch.float32
    data = data.to(device, dtype)
    settings = config.settings()

    # NOTE: a batch is stored only when all its runs finish, so an interruption loses
    # the partial work of the batch in progress (minutes at the default size).
    for number, keys in enumerate(plan.batches, start=1):
        encoding = keys[0].targets
        params = sample_initializations(keys, config, device)
        generators = [shuffle_generator(key, config.seed) for key in keys]
        history = train_batched(
            params,
            data.train_images,
            encode_targets(data.train_labels, encoding, dtype),
            data.test_images,
            encode_targets(data.test_labels, encoding, dtype),
            data.test_labels,
            prediction_rule(encoding),
            generators,
            settings,
            progress,
        )
        path = store.save(keys, history)
        logger.info(
            "stored batch %d of %d (%d %s runs) in %s",
            number,
            len(plan.batches),
            len(keys),
            encoding,
            path,
        )
        if on_batch_stored is not None:
            on_batch_stored(keys, path)

    return requested_results(config, store)


def requested_results(config: SweepConfig, store: RunStore) -> xr.Dataset:
    """Return the stored runs that belong to the grid of `config`, in grid order.

    Raises:
        ResultFileError: some runs of the grid are not stored yet.
    """
    stored = store.load()
    requested = [key.identity() for key in config.run_keys()]
    if stored is None:
        raise ResultFileError(f"no runs stored in {store.folder}")
    position = {identity: i for i, identity in enumerate(_record_identities(stored))}
    missing = [identity for identity in requested if identity not in position]
    if missing:
        raise ResultFileError(
            f"{len(missing)} runs of the grid are not stored in {store.folder}, e.g. "
            f"{missing[0]}; rerun with --resume to train them"
        )
    order = sorted(requested)
    return stored.isel(record=[position[identity] for identity in order])
