"""Batched network ensembles: parameter specs, seeded sampling and forward passes.

Parameters carry a leading networks axis, and one forward call evaluates every network
of a batch with batched matrix products, so no Python loop runs over networks.
"""

from __future__ import annotations

import importlib
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from dualsym.config import EnsembleConfig
from dualsym.ensemble.laws import ParameterLaw
from dualsym.errors import InputError, NonFiniteOutputError

Params = dict[str, torch.Tensor]

DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class TensorSpec:
    """One parameter tensor: its name, per-network shape and law."""

    name: str
    law: ParameterLaw
    layer: int
    kind: str  # "weight" or "bias"

    @property
    def shape(self) -> tuple[int, ...]:
        """Per-network shape of the tensor."""
        return self.law.shape


class Architecture:
    """A batched network family: parameter specs plus a batched forward.

    `forward(params, x)` takes parameters with a leading networks axis and inputs `x` of
    shape [points, d_in] (shared by all networks) and returns [networks, points, d_out].
    """

    specs: list[TensorSpec]
    d_in: int
    d_out: int

    def forward(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class FunctionArchitecture(Architecture):
    """A custom architecture given as specs plus a forward function.

    Use `batched=False` when `forward` maps one network's parameters (no networks axis)
    and inputs to [points, d_out]; it is then vectorized with torch.func.vmap.
    """

    def __init__(
        self,
        specs: list[TensorSpec],
        forward: Callable[[Params, torch.Tensor], torch.Tensor],
        d_in: int,
        d_out: int,
        batched: bool = True,
    ):
        self.specs = specs
        self.d_in = d_in
        self.d_out = d_out
        if batched:
            self._forward = forward
        else:
            self._forward = torch.func.vmap(forward, in_dims=(0, None))

    def forward(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        return self._forward(params, x)


def _activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    return {
        "cos": torch.cos,
        "erf": torch.erf,
        "relu": torch.relu,
        "tanh": torch.tanh,
        "linear": lambda z: z,
    }[name]


class MLPArchitecture(Architecture):
    """Fully connected network with `hidden_layers` hidden layers of one width.

    For the Gauss-net each hidden unit is exp(z) / sqrt(E[exp(2 z) | previous layer]),
    with the expectation taken exactly over the law of that layer's weights and bias,
    so at one hidden layer and Gaussian laws its NNGP kernel is
    sigma_b^2 + sigma_W^2 exp(-sigma_W^2 |x - x'|^2 / (2 d_in)).
    """

    def __init__(self, config: EnsembleConfig, width: int | None):
        self.config = config
        self.d_in = config.d_in
        self.d_out = config.d_out
        self.activation = config.activation
        self.layers = config.hidden_layers
        sizes = [config.d_in] + [width] * config.hidden_layers + [config.d_out]
        self.specs = []
        self.has_bias = []
        for layer in range(self.layers + 1):
            fan_in, fan_out = sizes[layer], sizes[layer + 1]
            weight_law, bias_law = config.layer_laws(layer)
            where = f"ensemble {config.name!r} layer {layer}"
            self.specs.append(
                TensorSpec(
                    f"W{layer}",
                    ParameterLaw.from_config(
                        weight_law, (fan_out, fan_in), fan_in, f"{where} weights"
                    ),
                    layer,
                    "weight",
                )
            )
            use_bias = bias_law is not None
            self.has_bias.append(use_bias)
            if use_bias:
                self.specs.append(
                    TensorSpec(
                        f"b{layer}",
                        ParameterLaw.from_config(
                            bias_law, (fan_out,), fan_in, f"{where} biases"
                        ),
                        layer,
                        "bias",
                    )
                )
        self._laws = {spec.name: spec.law for spec in self.specs}

    def forward(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        act = None if self.activation == "gauss" else _activation(self.activation)
        h = x
        for layer in range(self.layers + 1):
            z = torch.matmul(h, params[f"W{layer}"].mT)
            # In-place updates of the fresh matmul output each save a pass over
            # memory, with the operations and order of z + b - c. Autograd (the jvp
            # of input tangents) needs the out-of-place forms.
            in_place = not torch.is_grad_enabled()
            if self.has_bias[layer]:
                bias = params[f"b{layer}"][:, None, :]
                z = z.add_(bias) if in_place else z + bias
            if layer == self.layers:
                return z
            if act is None:
                half_log_norm = 0.5 * self._gauss_log_norm(layer, h)
                if in_place:
                    h = z.sub_(half_log_norm).exp_()
                else:
                    h = torch.exp(z - half_log_norm)
            else:
                h = act(z)
        raise AssertionError("unreachable")

    def _gauss_log_norm(self, layer: int, h: torch.Tensor) -> torch.Tensor:
        """log E[exp(2 z)] over this layer's parameters given its input h."""
        log_norm = self._laws[f"W{layer}"].log_mgf_rows(2.0 * h)
        if self.has_bias[layer]:
            log_norm = log_norm + self._laws[f"b{layer}"].log_mgf_entries(
                2.0, h.device, h.dtype
            )
        # A divergent E[exp(2 z)] (heavy-tailed laws) leaves the unit undefined: mark
        # it NaN so the finiteness check reports it instead of returning exp(-inf) = 0.
        return torch.where(torch.isfinite(log_norm), log_norm, torch.nan)


def load_architecture(config: EnsembleConfig, width: int | None) -> Architecture:
    """Build the architecture named by `config.architecture`."""
    if config.architecture == "mlp":
        return MLPArchitecture(config, width)
    module_name, _, attribute = config.architecture.partition(":")
    try:
        builder = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise InputError(
            f"ensemble {config.name!r}: cannot import architecture "
            f"{config.architecture!r}: {error}"
        ) from None
    try:
        architecture = builder(config, width)
    except Exception as error:  # a user function can raise anything
        raise InputError(
            f"ensemble {config.name!r}: architecture function {config.architecture!r} "
            f"failed for width {width}: {type(error).__name__}: {error}"
        ) from None
    if not isinstance(architecture, Architecture):
        raise InputError(
            f"ensemble {config.name!r}: {config.architecture!r} returned "
            f"{type(architecture).__name__}, expected a dualsym Architecture"
        )
    return architecture


def stream_key(name: str, width: int | None) -> tuple[int, int]:
    """Stable random-stream key of an (ensemble, width) pair."""
    return (zlib.crc32(name.encode()), 0 if width is None else int(width))


def chunk_generator(
    seed: int, key: Sequence[int], device: torch.device | str
) -> torch.Generator:
    """Seed a torch generator from numpy.random.SeedSequence(seed, spawn_key=key).

    The key identifies the chunk, so a chunk draws the same networks whatever the batch
    size, worker count or order in which chunks run.
    """
    state = np.random.SeedSequence(seed, spawn_key=tuple(int(k) for k in key))
    value = int(state.generate_state(1, dtype=np.uint64)[0])
    generator = torch.Generator(device=torch.device(device))
    generator.manual_seed(value)
    return generator


class Ensemble:
    """A network family at one width, with batched sampling and evaluation.

    Example:
        >>> config = load_config("examples/demo.toml")
        >>> ensemble = Ensemble(config.ensembles[0], width=100)
        >>> params = ensemble.sample(1000, chunk_generator(0, (0,), "cpu"))
        >>> outputs = ensemble.forward(params, torch.zeros(6, 1))  # [1000, 6, d_out]
    """

    def __init__(
        self,
        config: EnsembleConfig,
        width: int | None = None,
        device: str | torch.device = "cpu",
        dtype: str | None = None,
    ):
        if config.hidden_layers == 0:
            width = None
        elif width is None:
            width = config.widths[0]
        self.config = config
        self.name = config.name
        self.width = width
        self.device = resolve_device(device)
        self.dtype = DTYPES[dtype or config.dtype]
        self.architecture = load_architecture(config, width)
        self.d_in = config.d_in
        self.d_out = config.d_out

    @property
    def specs(self) -> list[TensorSpec]:
        """Parameter tensors of one network, in sampling order."""
        return self.architecture.specs

    def parameter_count(self) -> int:
        """Number of scalar parameters of one network."""
        return sum(math.prod(spec.shape) for spec in self.specs)

    def sample(self, networks: int, generator: torch.Generator) -> Params:
        """Draw `networks` independent parameter sets from the law."""
        return {
            spec.name: spec.law.sample(networks, generator, self.device, self.dtype)
            for spec in self.specs
        }

    def sample_chunk(
        self, seed: int, chunk_key: Sequence[int], networks: int
    ) -> Params:
        """Draw the networks of one chunk of a seeded run."""
        key = (*stream_key(self.name, self.width), *chunk_key)
        return self.sample(networks, chunk_generator(seed, key, self.device))

    def forward(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        """Evaluate all networks at points `x` [points, d_in]: [networks, points, d_out]."""
        x = torch.as_tensor(x, device=self.device, dtype=self.dtype)
        return self.architecture.forward(params, x)

    def check_finite(self, outputs: torch.Tensor, x: torch.Tensor) -> None:
        """Raise NonFiniteOutputError naming the width and inputs that overflowed."""
        finite = torch.isfinite(outputs)
        if bool(finite.all()):
            return
        bad_points = (~finite).flatten(start_dim=2).any(-1).any(0).nonzero().flatten()
        examples = [x[i].tolist() for i in bad_points[:5].tolist()]
        raise NonFiniteOutputError(
            f"ensemble {self.name!r} at width {self.width} produced non-finite outputs "
            f"(inf or NaN) at {len(bad_points)} input point(s), e.g. {examples}; the "
            f"activation probably overflowed: use smaller inputs or weight scales, or "
            f"dtype = 'float64'"
        )


def resolve_device(device: str | torch.device) -> torch.device:
    """Parse a torch device name, rejecting unknown names and CUDA where it is absent."""
    try:
        device = torch.device(device)
    except RuntimeError:
        raise InputError(
            f"unknown device {str(device)!r}; use 'cpu', 'cuda' or 'cuda:N'"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(
            f"device {str(device)!r} requested but CUDA is not available on this "
            f"machine; use --device cpu"
        )
    return device
