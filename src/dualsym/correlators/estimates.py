"""Correlator estimates with batch-means errors, connected parts and NetCDF files.

An estimate keeps the block means of every unique entry, so the standard error and the
covariance of any linear functional of the correlators (a deviation under a group
element, a Lie derivative) follow exactly from the blocks, and nonlinear ones (connected
parts, relative norms) from the leave-one-block-out jackknife.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from dualsym.atomic import write_netcdf_atomic
from dualsym.correlators.moments import MAX_DENSE_ORDER, colex_rank, multiset_count
from dualsym.errors import MemoryBudgetError, ResultFileError

FILE_FORMAT = "dualsym-correlators-1"
# A dense tensor in a file is a convenience beside the unique entries. Past this many
# elements (80 MB in float64) only the unique entries are stored.
MAX_DENSE_ELEMENTS = 10_000_000


@dataclass
class OrderEstimate:
    """Block means of one order on its unique entries (multisets of sites)."""

    order: int
    entries: np.ndarray  # [E, order] site indices, sorted ascending per row
    block_means: np.ndarray  # [blocks, E]

    @property
    def blocks(self) -> int:
        """Number of batch-means blocks."""
        return self.block_means.shape[0]

    @property
    def mean(self) -> np.ndarray:
        """Monte Carlo estimate of each entry."""
        return self.block_means.mean(0)

    @property
    def standard_error(self) -> np.ndarray:
        """Batch-means standard error of each entry (Student t with blocks - 1 dof)."""
        return self.block_means.std(0, ddof=1) / math.sqrt(self.blocks)

    def covariance(self, index: np.ndarray | None = None) -> np.ndarray:
        """Batch-means covariance of the estimates of selected entries."""
        values = self.block_means if index is None else self.block_means[:, index]
        return np.atleast_2d(np.cov(values, rowvar=False)) / self.blocks


@dataclass
class ConnectedEstimate:
    """A connected correlator (joint cumulant) with jackknife standard errors."""

    order: int
    entries: np.ndarray
    mean: np.ndarray
    standard_error: np.ndarray
    assumes_zero_mean: bool


def set_partitions(items: list[int]):
    """Yield every partition of `items` into non-empty blocks."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for partition in set_partitions(rest):
        yield [[first], *partition]
        for index in range(len(partition)):
            yield [
                *partition[:index],
                [first, *partition[index]],
                *partition[index + 1 :],
            ]


def cumulant(entries: np.ndarray, moments: dict[int, np.ndarray]) -> np.ndarray:
    """Joint cumulant on each multiset from raw moments indexed by colex rank.

    kappa = sum over partitions pi of (-1)^(|pi|-1) (|pi|-1)! prod_{B in pi} m(B).
    Orders missing from `moments` are taken as zero (for zero-mean networks, odd ones).
    `moments[n]` may carry a leading replicate axis.
    """
    order = entries.shape[1]
    total = 0.0
    for partition in set_partitions(list(range(order))):
        if any(len(block) not in moments for block in partition):
            continue
        weight = (-1) ** (len(partition) - 1) * math.factorial(len(partition) - 1)
        product = 1.0
        for block in partition:
            sub = np.sort(entries[:, block], axis=1)
            product = product * moments[len(block)][..., colex_rank(sub)]
        total = total + weight * product
    return total


@dataclass
class Correlators:
    """Estimated n-point functions G^(n)_{a1..an}(x1..xn) of one ensemble at one width.

    Sites are (point, output) pairs flattened as point * d_out + output.
    """

    points: np.ndarray
    d_out: int
    orders: dict[int, OrderEstimate]
    networks: int
    seed: int
    ensemble: str
    width: int | None
    config_json: str = "{}"
    attrs: dict = field(default_factory=dict)

    @property
    def sites(self) -> int:
        """Number of (point, output) sites."""
        return len(self.points) * self.d_out

    @property
    def blocks(self) -> int:
        """Number of batch-means blocks."""
        return next(iter(self.orders.values())).blocks

    def site(self, point: int, output: int) -> int:
        """Flat site index of (point, output)."""
        return point * self.d_out + output

    def value(self, sites: list[tuple[int, int]]) -> tuple[float, float]:
        """Estimate and standard error of G at one list of (point, output) sites."""
        order = len(sites)
        estimate = self.orders[order]
        flat = sorted(self.site(p, a) for p, a in sites)
        if len(estimate.entries) == multiset_count(self.sites, order):
            index = int(colex_rank(np.asarray([flat]))[0])
        else:
            matches = np.flatnonzero((estimate.entries == flat).all(1))
            if len(matches) == 0:
                raise KeyError(f"sites {sites} were not among the requested tuples")
            index = int(matches[0])
        return float(estimate.mean[index]), float(estimate.standard_error[index])

    def dense(self, order: int, values: np.ndarray | None = None) -> xr.DataArray:
        """Expand unique entries to the full tensor with dims point_1, out_1, ...

        `values` (default: the mean) is any per-entry array of a dense order.
        """
        if order > MAX_DENSE_ORDER or order not in self.orders:
            raise KeyError(f"order {order} is not a dense order of this estimate")
        size = self.sites**order
        if size > MAX_DENSE_ELEMENTS:
            raise MemoryBudgetError(
                f"the dense order-{order} tensor has {size:,} elements over "
                f"{self.sites} sites, more than {MAX_DENSE_ELEMENTS:,}; index unique "
                f"entries with `value` instead"
            )
        if values is None:
            values = self.orders[order].mean
        grid = np.indices((self.sites,) * order).reshape(order, -1).T
        ranks = colex_rank(np.sort(grid, axis=1))
        shape = (len(self.points), self.d_out) * order
        data = np.asarray(values)[ranks].reshape((self.sites,) * order)
        data = data.reshape(shape)
        dims = []
        for k in range(1, order + 1):
            dims += [f"point_{k}", f"out_{k}"]
        return xr.DataArray(data, dims=dims)

    def connected(self, order: int = 4) -> ConnectedEstimate:
        """Connected correlator (cumulant) with jackknife errors over blocks.

        Uses every order below `order` that was estimated; when odd orders are missing
        they are taken as zero, which is exact for zero-mean networks only.
        """
        if order not in self.orders or order > MAX_DENSE_ORDER:
            raise KeyError(f"connected part needs dense order {order} in the estimate")
        lower = [n for n in range(1, order) if n in self.orders]
        assumes_zero_mean = len(lower) != order - 1
        entries = self.orders[order].entries
        blocks = self.blocks
        full = {n: self.orders[n].mean for n in [*lower, order]}
        estimate = cumulant(entries, full)
        jackknife = {}
        for n in [*lower, order]:
            block_means = self.orders[n].block_means
            jackknife[n] = (block_means.sum(0) - block_means) / (blocks - 1)
        replicates = cumulant(entries, jackknife)
        spread = replicates - replicates.mean(0)
        error = np.sqrt((blocks - 1) / blocks * (spread**2).sum(0))
        return ConnectedEstimate(order, entries, estimate, error, assumes_zero_mean)

    def to_dataset(self) -> xr.Dataset:
        """Build a self-describing xarray Dataset (dense tensors where they fit)."""
        data_vars = {
            "points": (
                ("point", "coordinate"),
                np.asarray(self.points, dtype=np.float64),
            )
        }
        for order, estimate in sorted(self.orders.items()):
            data_vars[f"G{order}_entries"] = (
                (f"entry_{order}", f"slot_{order}"),
                estimate.entries,
            )
            # Dense tensors hold the mean only; standard errors (and any other
            # statistic) follow from the block means, per unique entry.
            data_vars[f"G{order}_se"] = ((f"entry_{order}",), estimate.standard_error)
            data_vars[f"G{order}_block_means"] = (
                ("block", f"entry_{order}"),
                estimate.block_means,
            )
            dense_ok = (
                order <= MAX_DENSE_ORDER
                and len(estimate.entries) == multiset_count(self.sites, order)
                and self.sites**order <= MAX_DENSE_ELEMENTS
            )
            if dense_ok:
                data_vars[f"G{order}"] = self.dense(order)
        if 4 in self.orders and 2 in self.orders:
            connected = self.connected(4)
            data_vars["G4_connected"] = (("entry_4",), connected.mean)
            data_vars["G4_connected_se"] = (("entry_4",), connected.standard_error)
        attrs = {
            "format": FILE_FORMAT,
            "ensemble": self.ensemble,
            "width": -1 if self.width is None else int(self.width),
            "networks": int(self.networks),
            "seed": int(self.seed),
            "blocks": int(self.blocks),
            "d_out": int(self.d_out),
            "orders": json.dumps(sorted(self.orders)),
            "config": self.config_json,
            "site_layout": "site = point * d_out + output",
            **{k: v for k, v in self.attrs.items() if isinstance(v, (str, int, float))},
        }
        attrs["dualsym_version"] = _version()
        return xr.Dataset(data_vars, attrs=attrs)

    def save(self, path: str | Path) -> Path:
        """Write the dataset to NetCDF atomically (temporary file, then rename)."""
        return write_netcdf_atomic(self.to_dataset(), path)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dualsym")
    except PackageNotFoundError:
        return "unknown"


def read_dualsym_netcdf(
    path: Path, expected_format: str, kind: str, advice: str
) -> xr.Dataset:
    """Load a NetCDF file fully and check its `format` attribute.

    Raises:
        ResultFileError: the file is missing, unreadable or of another format; the
            message names the `kind` of file and ends with `advice`.
    """
    if not path.is_file():
        raise ResultFileError(f"{kind} {path} not found")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as dataset:
            dataset.load()
    except Exception as error:  # h5py and xarray raise many unrelated types
        raise ResultFileError(
            f"cannot read {kind} {path}: {type(error).__name__}: {error}; {advice}"
        ) from None
    if dataset.attrs.get("format") != expected_format:
        raise ResultFileError(
            f"{path} is not a dualsym {kind} (attribute format="
            f"{dataset.attrs.get('format')!r}, expected {expected_format!r})"
        )
    return dataset


def load_correlators(path: str | Path) -> Correlators:
    """Read a correlator file written by `Correlators.save`.

    Raises:
        ResultFileError: the file is missing, unreadable or not a dualsym file.
    """
    path = Path(path)
    dataset = read_dualsym_netcdf(
        path, FILE_FORMAT, "result file", "is it a NetCDF file written by dualsym?"
    )
    orders = {}
    for order in json.loads(dataset.attrs["orders"]):
        orders[order] = OrderEstimate(
            order,
            dataset[f"G{order}_entries"].values.astype(np.int64),
            dataset[f"G{order}_block_means"].values,
        )
    width = int(dataset.attrs["width"])
    return Correlators(
        points=dataset["points"].values,
        d_out=int(dataset.attrs["d_out"]),
        orders=orders,
        networks=int(dataset.attrs["networks"]),
        seed=int(dataset.attrs["seed"]),
        ensemble=str(dataset.attrs["ensemble"]),
        width=None if width < 0 else width,
        config_json=str(dataset.attrs["config"]),
    )
