"""Checkpoints of partly accumulated runs, so a killed run can resume where it stopped.

A checkpoint is a NetCDF file with the per-block totals of one (check, width), the
ids (block, index) of the chunks already added to them, the config they belong to and
its seed. It is written atomically (temporary file, then rename), so a run killed while
writing leaves the previous checkpoint intact. Chunks are added in plan order, so the
finished chunks are always a prefix of the plan, and a resumed run adds the rest in the
same order as an uninterrupted run: the totals are bitwise equal.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from dualsym.config import DualsymConfig
from dualsym.correlators.estimates import read_dualsym_netcdf, write_netcdf_atomic
from dualsym.correlators.moments import MomentAccumulator
from dualsym.errors import InputError, ResultFileError

CHECKPOINT_FORMAT = "dualsym-checkpoint-1"

# Run settings that change which networks are drawn or how they are summed. Each is
# named on its own when a checkpoint and a request disagree.
RUN_KEYS = ("seed", "networks", "blocks", "chunk_networks", "memory_budget_mb")


def identity_json(config: DualsymConfig) -> str:
    """Serialize the parts of `config` a checkpoint must match: all but device and alpha.

    The device is left out so that a run can resume on other hardware (totals from
    different devices agree to rounding, not bitwise), and alpha because it only
    enters the verdicts, not the sums.
    """
    data = config.model_dump(mode="json")
    data["run"].pop("device", None)
    data["run"].pop("alpha", None)
    return json.dumps(data, sort_keys=True)


def identity_hash(config: DualsymConfig) -> str:
    """SHA-256 of `identity_json(config)`, stored in every checkpoint."""
    return hashlib.sha256(identity_json(config).encode()).hexdigest()


@dataclass
class CheckpointState:
    """Totals state and finished chunk ids read back from a checkpoint file."""

    state: dict[str, np.ndarray]
    finished: set[tuple[int, int]]


def save_checkpoint(
    path: str | Path,
    totals: MomentAccumulator,
    finished: list[tuple[int, int]],
    config: DualsymConfig,
    label: str,
) -> Path:
    """Write the totals and finished chunk ids of one (check, width) atomically."""
    data_vars = {}
    for name, array in totals.state().items():
        if name == "counts":
            dims = ("block",)
        else:
            kind, order = name.rsplit("_", 1)
            axis = "view" if kind == "view_sums" else "tangent"
            dims = ("block", axis, f"entry_{order}")
        data_vars[name] = (dims, array)
    chunk_ids = np.asarray(sorted(finished), dtype=np.int64).reshape(-1, 2)
    data_vars["finished_chunks"] = (("finished", "chunk_id"), chunk_ids)
    attrs = {
        "format": CHECKPOINT_FORMAT,
        "label": label,
        "seed": int(config.run.seed),
        "config_sha256": identity_hash(config),
        "config": identity_json(config),
        "orders": json.dumps(sorted(totals.entries)),
    }
    return write_netcdf_atomic(xr.Dataset(data_vars, attrs=attrs), path)


def load_checkpoint(
    path: str | Path, config: DualsymConfig, totals: MomentAccumulator
) -> CheckpointState:
    """Read a checkpoint and check that it belongs to `config`.

    Raises:
        ResultFileError: the file is unreadable or not a dualsym checkpoint.
        InputError: the checkpoint was written for another seed or config; the message
            names what differs.
    """
    path = Path(path)
    dataset = read_dualsym_netcdf(
        path,
        CHECKPOINT_FORMAT,
        "checkpoint",
        "delete it to start that part over, or use a new --out",
    )
    _check_identity(path, dataset.attrs, config)
    state = {name: dataset[name].values for name in totals.state()}
    for name, array in totals.state().items():
        if state[name].shape != array.shape:
            raise ResultFileError(
                f"checkpoint {path}: {name} has shape {list(state[name].shape)}, "
                f"expected {list(array.shape)}; delete it to start that part over, or use a "
                f"new --out"
            )
    finished = {tuple(int(k) for k in row) for row in dataset["finished_chunks"].values}
    return CheckpointState(state, finished)


def _check_identity(path: Path, attrs: dict, config: DualsymConfig) -> None:
    if attrs.get("config_sha256") == identity_hash(config):
        return
    advice = f"use a new --out, or delete {path.parent} to start over in this one"
    saved = json.loads(attrs.get("config", "{}"))
    requested = json.loads(identity_json(config))
    saved_run, requested_run = saved.get("run", {}), requested["run"]
    for key in RUN_KEYS:
        if saved_run.get(key) != requested_run.get(key):
            raise InputError(
                f"checkpoint {path}: its {key} {saved_run.get(key)} differs from the "
                f"requested {key} {requested_run.get(key)}; {advice}"
            )
    differing = sorted(_differing_keys(saved, requested))
    listed = ", ".join(differing[:5]) or "unknown keys"
    if len(differing) > 5:
        listed += f" and {len(differing) - 5} more"
    raise InputError(
        f"checkpoint {path} was written for a different config (differs in {listed}); "
        f"{advice}"
    )


def _differing_keys(saved, requested, prefix: str = "") -> list[str]:
    if isinstance(saved, dict) and isinstance(requested, dict):
        keys = []
        for key in sorted(set(saved) | set(requested)):
            where = f"{prefix}.{key}" if prefix else str(key)
            keys += _differing_keys(saved.get(key), requested.get(key), where)
        return keys
    if isinstance(saved, list) and isinstance(requested, list):
        if len(saved) != len(requested):
            return [prefix]
        keys = []
        for index, (left, right) in enumerate(zip(saved, requested, strict=True)):
            keys += _differing_keys(left, right, f"{prefix}[{index}]")
        return keys
    return [] if saved == requested else [prefix]
