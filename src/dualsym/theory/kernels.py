"""NNGP kernels of fully connected networks with Gaussian parameter laws.

The kernel is the recursion over layers of K(x, y) = sigma_b^2 + v * n * E[phi(u) phi(v)],
with (u, v) jointly Gaussian with the previous layer's covariance, v the variance of
one weight and n the fan-in. For one hidden layer it gives the exact 2-pt function at
every width, since the first-layer pre-activations are exactly Gaussian for fixed
inputs; for deeper networks it is the infinite-width limit.

Closed forms: ReLU (arc-cosine kernel of degree 1), erf (Williams 1997), the normalized
Gauss-net exp(k_xy - (k_xx + k_yy) / 2), cos, and linear; tanh and other activations
use Gauss-Hermite quadrature of the 2-D Gaussian expectation.
"""

from __future__ import annotations

import math

import numpy as np

from dualsym.config import EnsembleConfig, LawConfig
from dualsym.errors import InputError

QUADRATURE_POINTS = 80


def _entry_variance(law: LawConfig, fan_in: int, where: str) -> float:
    """Variance of one weight or bias entry; the law must be zero-mean Gaussian."""
    if law.law == "constant" and law.value == 0.0:
        return 0.0
    if law.law != "normal":
        raise InputError(
            f"{where}: the NNGP kernel is implemented for normal laws, got {law.law!r}"
        )
    if law.mean != 0.0 or law.mean_matrix is not None or law.mean_rows is not None:
        raise InputError(f"{where}: the NNGP kernel needs zero-mean laws")
    variance = law.std**2
    return variance / fan_in if law.fan_in_scaling else variance


def _uniform_full_periods(law: LawConfig | None) -> bool:
    if law is None or law.law != "uniform" or law.fan_in_scaling:
        return False
    periods = (law.high - law.low) / (2 * math.pi)
    return (
        law.mean_rows is None
        and law.mean_matrix is None
        and (
            round(periods) >= 1 and math.isclose(periods, round(periods), rel_tol=1e-9)
        )
    )


def gaussian_expectation(phi, kxx: np.ndarray, kxy: np.ndarray, kyy: np.ndarray):
    """E[phi(u) phi(v)] for (u, v) ~ N(0, [[kxx, kxy], [kxy, kyy]]), by quadrature."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(QUADRATURE_POINTS)
    weights = weights / weights.sum()
    sx = np.sqrt(np.maximum(kxx, 0.0))[..., None, None]
    sy = np.sqrt(np.maximum(kyy, 0.0))[..., None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where((sx * sy)[..., 0, 0] > 0, kxy / np.sqrt(kxx * kyy), 0.0)
    rho = np.clip(rho, -1.0, 1.0)[..., None, None]
    z1 = nodes[:, None]
    z2 = nodes[None, :]
    u = sx * z1
    v = sy * (rho * z1 + np.sqrt(1.0 - rho**2) * z2)
    values = phi(u) * phi(v) * weights[:, None] * weights[None, :]
    return values.sum((-1, -2))


def activation_expectation(name: str, kxx, kxy, kyy):
    """E[phi(u) phi(v)] for a named activation and Gaussian (u, v)."""
    if name == "linear":
        return kxy
    if name == "relu":
        norm = np.sqrt(kxx * kyy)
        with np.errstate(invalid="ignore", divide="ignore"):
            cosine = np.clip(np.where(norm > 0, kxy / norm, 1.0), -1.0, 1.0)
        theta = np.arccos(cosine)
        return norm / (2 * math.pi) * (np.sin(theta) + (math.pi - theta) * cosine)
    if name == "erf":
        return 2 / math.pi * np.arcsin(2 * kxy / np.sqrt((1 + 2 * kxx) * (1 + 2 * kyy)))
    if name == "gauss":
        return np.exp(kxy - 0.5 * (kxx + kyy))
    if name == "cos":
        return 0.5 * (
            np.exp(-0.5 * (kxx + kyy - 2 * kxy)) + np.exp(-0.5 * (kxx + kyy + 2 * kxy))
        )
    if name == "tanh":
        return gaussian_expectation(np.tanh, kxx, kxy, kyy)
    raise InputError(f"no NNGP kernel for activation {name!r}")


def output_kernel(
    ensemble: EnsembleConfig, points, width: int | None = None
) -> np.ndarray:
    """Kernel K(x_i, x_j) of each output, [points, points]; outputs are independent.

    For one hidden layer this is the exact 2-pt function at `width`; for deeper
    networks it is the infinite-width NNGP kernel (and `width` only sets the fan-in
    of layers without 1/fan_in scaling).

    Example:
        >>> K = output_kernel(config.ensembles[0], [[0.0], [0.5]], width=100)
    """
    if ensemble.architecture != "mlp":
        raise InputError("the NNGP kernel is defined for 'mlp' architectures only")
    points = np.asarray(points, dtype=np.float64).reshape(-1, ensemble.d_in)
    width = width or ensemble.widths[0]
    sizes = [ensemble.d_in] + [width] * ensemble.hidden_layers + [ensemble.d_out]
    previous = points @ points.T  # E[h_j(x) h_j(y)] summed over j, for the inputs
    for layer in range(ensemble.hidden_layers + 1):
        fan_in = sizes[layer]
        where = f"ensemble {ensemble.name!r} layer {layer}"
        weight_law, bias_law = ensemble.layer_laws(layer)
        use_bias = bias_law is not None
        weight_variance = _entry_variance(weight_law, fan_in, f"{where} weights")
        # Weighted inner products: layer 0 uses sum_j x_j y_j, later layers n * E[h h].
        weight_part = weight_variance * previous
        is_last = layer == ensemble.hidden_layers
        periodic_bias = (
            not is_last
            and use_bias
            and ensemble.activation == "cos"
            and _uniform_full_periods(bias_law)
        )
        if periodic_bias:
            # b uniform over whole periods: E[cos(u + b) cos(v + b)] = E[cos(u - v)] / 2.
            diag = np.diag(weight_part)
            expectation = 0.5 * np.exp(
                -0.5 * (diag[:, None] + diag[None, :] - 2 * weight_part)
            )
            previous = sizes[layer + 1] * expectation
            continue
        bias_variance = (
            _entry_variance(bias_law, fan_in, f"{where} biases") if use_bias else 0.0
        )
        covariance = weight_part + bias_variance
        if is_last:
            return covariance
        diag = np.diag(covariance)
        expectation = activation_expectation(
            ensemble.activation, diag[:, None], covariance, diag[None, :]
        )
        previous = sizes[layer + 1] * expectation
    raise AssertionError("unreachable")


def site_covariance(
    ensemble: EnsembleConfig, points, width: int | None = None
) -> np.ndarray:
    """Covariance of all sites (point, output), [S, S] with site = point * d_out + out."""
    kernel = output_kernel(ensemble, points, width)
    return np.kron(kernel, np.eye(ensemble.d_out))
