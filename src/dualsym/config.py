"""Validated configuration models shared by the CLI and the Python API.

Every user-facing setting lives here, so a bad value is rejected once, before any work
starts, with the key that contains it and a hint on how to fix it. A config file is TOML
with three parts: `[run]` (sample size, seed, error bars), `[[ensembles]]` (network
families and their parameter laws) and `[[checks]]` (which group to test on which
ensemble, at which points and orders).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from dualsym.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

ACTIVATIONS = ("gauss", "cos", "erf", "relu", "tanh", "linear")
GROUP_KINDS = (
    "SO",
    "O",
    "permutations",
    "cyclic",
    "dihedral",
    "signed_permutations",
    "translations",
    "matrices",
)
MAX_DENSE_ORDER = 4
MAX_ORDER = 6


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", allow_inf_nan=False, validate_default=True
    )


class MeanRows(_Model):
    """Structured mean: rows 0..k-1 of a weight matrix get mean `value`."""

    k: int = Field(ge=0)
    value: float


class LawConfig(_Model):
    """Law of every entry of one parameter tensor.

    `fan_in_scaling` divides the spread (std, scale, or half-width of the interval) by
    sqrt(fan_in). Means, `mean_matrix` and `mean_rows` are never scaled.
    """

    law: Literal["normal", "uniform", "laplace", "constant"] = "normal"
    mean: float = 0.0
    std: float = Field(default=1.0, ge=0.0)
    low: float | None = None
    high: float | None = None
    scale: float = Field(default=1.0, gt=0.0)
    value: float = 0.0
    fan_in_scaling: bool = False
    mean_matrix: list[list[float]] | None = None
    mean_rows: MeanRows | None = None

    @model_validator(mode="after")
    def _check_law(self) -> LawConfig:
        if self.law == "uniform":
            if self.low is None or self.high is None:
                raise ValueError("a uniform law needs both `low` and `high`")
            if not self.low < self.high:
                raise ValueError(
                    f"uniform law needs low < high, got low={self.low}, high={self.high}"
                )
        elif self.low is not None or self.high is not None:
            raise ValueError(
                f"`low`/`high` apply to uniform laws only, not {self.law!r}"
            )
        if self.mean_matrix is not None and self.mean_rows is not None:
            raise ValueError("give either `mean_matrix` or `mean_rows`, not both")
        if self.mean_matrix is not None:
            lengths = {len(row) for row in self.mean_matrix}
            if len(lengths) != 1:
                raise ValueError("`mean_matrix` rows must all have the same length")
        return self


class LayerOverride(_Model):
    """Laws for one layer that replace the ensemble-wide defaults."""

    weights: LawConfig | None = None
    biases: LawConfig | None = None
    use_bias: bool | None = None


class EnsembleConfig(_Model):
    """A family of fully connected networks and the law of their parameters.

    Layer 0 maps d_in to the first hidden layer; layer `hidden_layers` is the readout.
    Keys of `layers` are layer indices ("0", "1", ...) or "readout".
    """

    name: str = Field(min_length=1)
    architecture: str = "mlp"
    activation: str = "relu"
    d_in: int = Field(ge=1)
    d_out: int = Field(ge=1)
    widths: list[int] = Field(default_factory=lambda: [100])
    hidden_layers: int = Field(default=1, ge=0)
    weights: LawConfig = Field(
        default_factory=lambda: LawConfig(law="normal", std=1.0, fan_in_scaling=True)
    )
    biases: LawConfig | None = Field(default_factory=lambda: LawConfig(std=1.0))
    output_bias: bool = True
    layers: dict[str, LayerOverride] = Field(default_factory=dict)
    dtype: Literal["float32", "float64"] = "float32"

    @field_validator("widths")
    @classmethod
    def _check_widths(cls, widths: list[int]) -> list[int]:
        if not widths:
            raise ValueError("`widths` must list at least one width")
        for width in widths:
            if width <= 0:
                raise ValueError(f"every width must be a positive integer, got {width}")
        return widths

    @model_validator(mode="after")
    def _check_activation_and_layers(self) -> EnsembleConfig:
        if self.architecture == "mlp" and self.activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}; choose one of "
                f"{', '.join(ACTIVATIONS)}, or set `architecture` to 'module:function'"
            )
        if self.architecture != "mlp" and ":" not in self.architecture:
            raise ValueError(
                f"`architecture` must be 'mlp' or an import path 'module:function', "
                f"got {self.architecture!r}"
            )
        for key in self.layers:
            if key == "readout":
                continue
            if not key.isdigit() or int(key) > self.hidden_layers:
                raise ValueError(
                    f"unknown layer key {key!r} in `layers`: use 'readout' or an index "
                    f"from 0 to {self.hidden_layers}"
                )
        return self

    def layer_laws(self, index: int) -> tuple[LawConfig, LawConfig | None]:
        """Return the weight law and the bias law (None: no bias) of layer `index`.

        A layer override replaces the ensemble-wide laws; `use_bias` switches the bias
        on or off; the readout has a bias only if `output_bias` is true.
        """
        override = self.layer_override(index)
        weight_law = override.weights or self.weights
        bias_law = override.biases or self.biases
        if override.use_bias is not None:
            use_bias = override.use_bias
        elif index == self.hidden_layers:
            use_bias = self.output_bias and bias_law is not None
        else:
            use_bias = bias_law is not None
        if not use_bias:
            return weight_law, None
        return weight_law, bias_law or LawConfig(std=1.0)

    def layer_override(self, index: int) -> LayerOverride:
        """Return the override of layer `index`, merging the 'readout' alias."""
        merged: dict = {}
        keys = [str(index)]
        if index == self.hidden_layers:
            keys.insert(0, "readout")
        for key in keys:
            if key in self.layers:
                merged.update(self.layers[key].model_dump(exclude_none=True))
        return LayerOverride(**merged)


class Linspace(_Model):
    """Evenly spaced one-dimensional points, as numpy.linspace(start, stop, num)."""

    start: float
    stop: float
    num: int = Field(ge=1)


class GroupConfig(_Model):
    """A transformation group.

    `n` is the dimension it acts on (or the number of objects permuted). Translations
    take either a `box` [[low, high], ...] to draw shifts from or explicit `vectors`;
    `matrices` takes explicit `matrices`.
    """

    kind: Literal[
        "SO",
        "O",
        "permutations",
        "cyclic",
        "dihedral",
        "signed_permutations",
        "translations",
        "matrices",
    ]
    n: int | None = Field(default=None, ge=1)
    order: int | None = Field(default=None, ge=1)
    box: list[list[float]] | None = None
    vectors: list[list[float]] | None = None
    matrices: list[list[list[float]]] | None = None

    @model_validator(mode="after")
    def _check_fields(self) -> GroupConfig:
        if (
            self.kind in ("SO", "O", "permutations", "signed_permutations")
            and self.n is None
        ):
            raise ValueError(f"group {self.kind!r} needs `n`, the dimension it acts on")
        if self.kind in ("cyclic", "dihedral"):
            if self.order is None:
                raise ValueError(
                    f"group {self.kind!r} needs `order` (number of rotations)"
                )
            if self.n not in (None, 2):
                raise ValueError(
                    f"group {self.kind!r} acts on 2-D only, got n={self.n}"
                )
        if self.kind == "translations":
            if (self.box is None) == (self.vectors is None):
                raise ValueError("translations need exactly one of `box` or `vectors`")
            if self.box is not None:
                for interval in self.box:
                    if len(interval) != 2 or not interval[0] <= interval[1]:
                        raise ValueError(
                            f"each `box` entry must be [low, high] with low <= high, "
                            f"got {interval}"
                        )
        if self.kind == "matrices" and not self.matrices:
            raise ValueError("group 'matrices' needs a non-empty `matrices` list")
        return self

    @property
    def dimension(self) -> int:
        """Dimension of the space the group acts on."""
        if self.kind in ("cyclic", "dihedral"):
            return 2
        if self.kind == "translations":
            return len(self.box) if self.box is not None else len(self.vectors[0])
        if self.kind == "matrices":
            return len(self.matrices[0])
        return int(self.n)


class CheckConfig(_Model):
    """One invariance test: an ensemble, a group and its action, points and orders."""

    ensemble: str
    group: GroupConfig
    acts_on: Literal["input", "output"]
    orders: list[int] = Field(default_factory=lambda: [2, 4])
    points: list[list[float]] | None = None
    linspace: Linspace | None = None
    tuples: list[list[list[int]]] = Field(default_factory=list)
    elements: int = Field(default=8, ge=0)
    generators: bool = True

    @model_validator(mode="after")
    def _check_fields(self) -> CheckConfig:
        if (self.points is None) == (self.linspace is None):
            raise ValueError("give exactly one of `points` or `linspace`")
        if self.points is not None and not self.points:
            raise ValueError("`points` is empty: list at least one input point")
        if not self.orders:
            raise ValueError("`orders` must list at least one order")
        for order in self.orders:
            if not 1 <= order <= MAX_ORDER:
                raise ValueError(
                    f"orders must be between 1 and {MAX_ORDER}, got {order}"
                )
        high = [order for order in self.orders if order > MAX_DENSE_ORDER]
        tuple_orders = {len(site_tuple) for site_tuple in self.tuples}
        for order in high:
            if order not in tuple_orders:
                raise ValueError(
                    f"order {order} is estimated on requested index tuples only: add "
                    f"`tuples` with {order} [point, output] sites each"
                )
        for site_tuple in self.tuples:
            if len(site_tuple) not in self.orders:
                raise ValueError(
                    f"tuple {site_tuple} has order {len(site_tuple)}, which is not in "
                    f"`orders` {self.orders}"
                )
            for site in site_tuple:
                if len(site) != 2:
                    raise ValueError(f"each site must be [point, output], got {site}")
        if self.elements == 0 and not self.generators:
            raise ValueError(
                "set `elements` > 0 or `generators` = true: nothing to test"
            )
        return self

    def point_array(self) -> list[list[float]]:
        """Return the points as a list of d_in-vectors."""
        if self.points is not None:
            return self.points
        space = self.linspace
        if space.num == 1:
            return [[space.start]]
        step = (space.stop - space.start) / (space.num - 1)
        return [[space.start + i * step] for i in range(space.num)]


class RunConfig(_Model):
    """Sample size, error bars, seed and resources for every check of a config.

    `chunk_networks` fixes the random streams (part of a run's identity);
    `batch_networks` only caps how many networks one forward pass evaluates, which the
    memory budget otherwise decides, and never changes the result beyond rounding.
    """

    networks: int = Field(default=20_000, ge=1)
    seed: int = Field(default=0, ge=0)
    blocks: int = Field(default=40, ge=30)
    chunk_networks: int = Field(default=1000, ge=1)
    batch_networks: int | None = Field(default=None, ge=1)
    alpha: float = Field(default=0.01, gt=0.0, lt=1.0)
    device: str = "cpu"
    memory_budget_mb: float = Field(default=2048.0, gt=0.0)
    min_networks_per_block: int = Field(default=10, ge=1)

    @field_validator("device")
    @classmethod
    def _check_device(cls, device: str) -> str:
        import torch

        try:
            torch.device(device)
        except RuntimeError:
            raise ValueError(
                f"unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'"
            ) from None
        return device

    @model_validator(mode="after")
    def _check_networks(self) -> RunConfig:
        needed = self.blocks * self.min_networks_per_block
        if self.networks < needed:
            raise ValueError(
                f"networks={self.networks} is too few for error bars: {self.blocks} "
                f"blocks need at least {self.min_networks_per_block} networks each "
                f"({needed} in all); raise `networks` or lower `blocks` (minimum 30)"
            )
        return self


class DualsymConfig(_Model):
    """A whole dualsym run: run settings, ensembles, and the checks on them."""

    run: RunConfig = Field(default_factory=RunConfig)
    ensembles: list[EnsembleConfig]
    checks: list[CheckConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_consistency(self) -> DualsymConfig:
        names = [ensemble.name for ensemble in self.ensembles]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"ensemble names must be unique, repeated: {duplicated}")
        by_name = {ensemble.name: ensemble for ensemble in self.ensembles}
        for index, check in enumerate(self.checks):
            where = f"checks[{index}]"
            if check.ensemble not in by_name:
                raise ValueError(
                    f"{where}.ensemble: no ensemble named {check.ensemble!r}; "
                    f"known: {sorted(by_name)}"
                )
            ensemble = by_name[check.ensemble]
            _check_points(where, check, ensemble)
            _check_group_fits(where, check, ensemble)
            for site_tuple in check.tuples:
                for point, output in site_tuple:
                    if not 0 <= point < len(check.point_array()):
                        raise ValueError(
                            f"{where}.tuples: point index {point} is out of range for "
                            f"{len(check.point_array())} points"
                        )
                    if not 0 <= output < ensemble.d_out:
                        raise ValueError(
                            f"{where}.tuples: output index {output} is out of range "
                            f"for d_out={ensemble.d_out}"
                        )
        return self

    def ensemble(self, name: str) -> EnsembleConfig:
        """Return the ensemble called `name`."""
        for ensemble in self.ensembles:
            if ensemble.name == name:
                return ensemble
        raise InputError(f"no ensemble named {name!r}")

    def to_json(self) -> str:
        """Serialize the whole config, defaults included, for result-file attributes."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)


def _check_points(where: str, check: CheckConfig, ensemble: EnsembleConfig) -> None:
    points = check.point_array()
    for index, point in enumerate(points):
        if len(point) != ensemble.d_in:
            raise ValueError(
                f"{where}.points[{index}] has {len(point)} coordinates but ensemble "
                f"{ensemble.name!r} has d_in={ensemble.d_in}"
            )
        if not all(math.isfinite(value) for value in point):
            raise ValueError(f"{where}.points[{index}] is not finite: {point}")


def _check_group_fits(where: str, check: CheckConfig, ensemble: EnsembleConfig) -> None:
    group = check.group
    target = ensemble.d_in if check.acts_on == "input" else ensemble.d_out
    if group.kind == "translations" and check.acts_on == "output":
        raise ValueError(f"{where}.group: translations act on inputs only")
    if group.dimension != target:
        raise ValueError(
            f"{where}.group: {group.kind} acts on dimension {group.dimension}, but the "
            f"{check.acts_on} of ensemble {ensemble.name!r} has dimension {target}; set "
            f"the group's `n` to {target} or change `acts_on`"
        )
    if group.kind == "matrices":
        for index, matrix in enumerate(group.matrices):
            if len(matrix) != target or any(len(row) != target for row in matrix):
                raise ValueError(
                    f"{where}.group.matrices[{index}] must be {target}x{target}"
                )


def format_validation_error(error: ValidationError, source: str) -> str:
    """Format a pydantic error as one line per problem: key path, message, value."""
    lines = [f"invalid config {source}:"]
    for problem in error.errors():
        location = ""
        for part in problem["loc"]:
            location += f"[{part}]" if isinstance(part, int) else f".{part}"
        location = location.lstrip(".")
        message = problem["msg"].removeprefix("Value error, ")
        detail = f"  {location}: {message}" if location else f"  {message}"
        if problem["type"] == "extra_forbidden":
            detail = f"  {location}: unknown key; remove it or check its spelling"
        elif problem["type"] not in ("value_error", "missing") and "input" in problem:
            detail += f" (got {problem['input']!r})"
        lines.append(detail)
    return "\n".join(lines)


def parse_config(data: dict, source: str = "<dict>") -> DualsymConfig:
    """Validate a config given as a dict (as parsed from TOML)."""
    try:
        return DualsymConfig.model_validate(data)
    except ValidationError as error:
        raise InputError(format_validation_error(error, source)) from None


def load_config(path: str | Path) -> DualsymConfig:
    """Read and validate a TOML config file.

    Raises:
        InputError: the file is missing, is not TOML, or fails validation.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise InputError(f"cannot read config {path}: {error.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"config {path} is not valid TOML: {error}") from None
    return parse_config(data, str(path))
