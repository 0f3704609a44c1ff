"""Parameter laws: sampling batched tensors and their moment generating functions.

Each entry of a tensor is `center + offset[entry] + spread * noise`, where `noise` is
standard (normal, Laplace with unit scale, uniform on [-1, 1]) and `offset` is the
structured mean (a full matrix, or the first k rows). The log moment generating function
gives the exact normalization of Gauss-net activations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from dualsym.config import LawConfig
from dualsym.errors import InputError


@dataclass(frozen=True)
class ParameterLaw:
    """Law of one parameter tensor of shape `shape` (per network)."""

    kind: str
    center: float
    spread: float
    shape: tuple[int, ...]
    offset: np.ndarray | None = None

    @classmethod
    def from_config(
        cls, config: LawConfig, shape: tuple[int, ...], fan_in: int, where: str
    ) -> ParameterLaw:
        """Build the law of a tensor of `shape`; `where` names it in error messages."""
        if config.law == "normal":
            center, spread = config.mean, config.std
        elif config.law == "laplace":
            center, spread = config.mean, config.scale
        elif config.law == "uniform":
            center = 0.5 * (config.low + config.high)
            spread = 0.5 * (config.high - config.low)
        else:
            center, spread = config.value, 0.0
        if config.fan_in_scaling:
            spread = spread / math.sqrt(fan_in)
        offset = _structured_mean(config, shape, where)
        return cls(config.law, float(center), float(spread), tuple(shape), offset)

    @property
    def mean(self) -> np.ndarray:
        """Mean of every entry, shape `shape`."""
        mean = np.full(self.shape, self.center, dtype=np.float64)
        if self.offset is not None:
            mean = mean + self.offset
        return mean

    @property
    def variance(self) -> float:
        """Variance of every entry (the same for all entries)."""
        if self.kind == "normal":
            return self.spread**2
        if self.kind == "laplace":
            return 2.0 * self.spread**2
        if self.kind == "uniform":
            return self.spread**2 / 3.0
        return 0.0

    def sample(
        self,
        networks: int,
        generator: torch.Generator,
        device: torch.device,
        dtype: torch.dtype,
    ) -> torch.Tensor:
        """Draw `networks` independent tensors, shape [networks, *shape]."""
        size = (networks, *self.shape)
        if self.kind == "normal":
            noise = torch.randn(size, generator=generator, device=device, dtype=dtype)
        elif self.kind == "uniform":
            noise = torch.rand(size, generator=generator, device=device, dtype=dtype)
            noise = 2.0 * noise - 1.0
        elif self.kind == "laplace":
            # Inverse CDF of the standard Laplace law on u uniform in (-1/2, 1/2).
            u = torch.rand(size, generator=generator, device=device, dtype=dtype) - 0.5
            tiny = torch.finfo(dtype).tiny
            noise = -torch.sign(u) * torch.log1p(-2.0 * u.abs()).clamp_max(-tiny)
        else:
            noise = torch.zeros(size, device=device, dtype=dtype)
        # In place, because sampling is the largest memory traffic of a run. Skipping
        # the addition of a zero center changes no value except -0.0 to +0.0.
        values = noise.mul_(self.spread)
        if self.center != 0.0:
            values.add_(self.center)
        if self.offset is not None:
            values.add_(torch.as_tensor(self.offset, device=device, dtype=dtype))
        return values

    def log_mgf_centered(self, t: torch.Tensor) -> torch.Tensor:
        """Return log E[exp(t * spread * noise)] elementwise (inf where it diverges)."""
        x = self.spread * t
        if self.kind == "normal":
            return 0.5 * x * x
        if self.kind == "uniform":
            # log(sinh(x)/x), written to neither overflow nor lose precision near 0.
            a = x.abs()
            large = a + torch.log1p(-torch.exp(-2.0 * a)) - math.log(2.0) - torch.log(a)
            return torch.where(a < 1e-4, a * a / 6.0, large)
        if self.kind == "laplace":
            inside = 1.0 - x * x
            return torch.where(
                inside > 0, -torch.log(inside.clamp_min(1e-300)), torch.inf
            )
        return torch.zeros_like(x)

    def log_mgf_rows(self, t: torch.Tensor) -> torch.Tensor:
        """Return sum_j log E[exp(t_j W_ij)] for each row i of a weight matrix.

        `t` has shape [..., fan_in]; the result has shape [..., rows].
        """
        per_row = (self.center * t + self.log_mgf_centered(t)).sum(-1, keepdim=True)
        result = per_row.expand(*t.shape[:-1], self.shape[0])
        if self.offset is not None:
            offset = torch.as_tensor(self.offset, device=t.device, dtype=t.dtype)
            result = result + t @ offset.T
        return result

    def log_mgf_entries(self, t: float, device, dtype) -> torch.Tensor:
        """Return log E[exp(t b_i)] for each entry of a bias vector, shape [rows]."""
        t_tensor = torch.full(self.shape, t, device=device, dtype=dtype)
        result = self.center * t_tensor + self.log_mgf_centered(t_tensor)
        if self.offset is not None:
            result = result + t * torch.as_tensor(
                self.offset, device=device, dtype=dtype
            )
        return result


def _structured_mean(
    config: LawConfig, shape: tuple[int, ...], where: str
) -> np.ndarray | None:
    if config.mean_rows is not None:
        k = config.mean_rows.k
        if k > shape[0]:
            raise InputError(
                f"{where}.mean_rows.k = {k} exceeds the {shape[0]} rows of the tensor; "
                f"use k <= {shape[0]}"
            )
        offset = np.zeros(shape, dtype=np.float64)
        offset[:k] = config.mean_rows.value
        return offset
    if config.mean_matrix is not None:
        matrix = np.asarray(config.mean_matrix, dtype=np.float64)
        if len(shape) == 1:
            matrix = matrix.reshape(-1)
        if matrix.shape != shape:
            raise InputError(
                f"{where}.mean_matrix has shape {list(matrix.shape)} but the tensor has "
                f"shape {list(shape)}"
            )
        return matrix
    return None
