"""Wick contractions and the exact finite-width 4-pt function of deep linear networks.

For a zero-mean Gaussian process, the n-point function is the sum over perfect
matchings of products of the covariance; odd orders vanish. At finite width a network
is not Gaussian: the first correction is a connected 4-pt part of order 1/width.
"""

from __future__ import annotations

import numpy as np

from dualsym.config import EnsembleConfig
from dualsym.errors import InputError
from dualsym.theory.kernels import _entry_variance


def perfect_matchings(items: list[int]):
    """Yield every pairing of an even-length list as a list of index pairs."""
    if not items:
        yield []
        return
    first = items[0]
    for index in range(1, len(items)):
        pair = (first, items[index])
        rest = items[1:index] + items[index + 1 :]
        for matching in perfect_matchings(rest):
            yield [pair, *matching]


def wick_moments(covariance: np.ndarray, entries: np.ndarray) -> np.ndarray:
    """Gaussian moments E[F_s1 ... F_sn] on each row of `entries` [E, n]."""
    entries = np.asarray(entries)
    order = entries.shape[1]
    if order % 2:
        return np.zeros(len(entries))
    total = np.zeros(len(entries))
    for matching in perfect_matchings(list(range(order))):
        product = np.ones(len(entries))
        for i, j in matching:
            product = product * covariance[entries[:, i], entries[:, j]]
        total += product
    return total


def linear_network_connected_4pt(
    ensemble: EnsembleConfig, points, width: int, entries: np.ndarray
) -> np.ndarray:
    """Exact connected 4-pt function of a linear network with one hidden layer.

    With readout weights of variance v, hidden width N and hidden-unit covariance
    k(x, y) = sigma_b0^2 + v0 x.y, the cumulant is
    v^2 N [d_ab d_cd (k13 k24 + k14 k23) + d_ac d_bd (k12 k34 + k14 k23)
           + d_ad d_bc (k12 k34 + k13 k24)],
    which is of order 1/N when v = sigma^2 / N. Independent Gaussian output biases
    add nothing to a cumulant of order 4.
    """
    if ensemble.activation != "linear" or ensemble.hidden_layers != 1:
        raise InputError(
            "the exact finite-width 4-pt function is implemented for linear networks "
            "with one hidden layer"
        )
    points = np.asarray(points, dtype=np.float64).reshape(-1, ensemble.d_in)
    where = f"ensemble {ensemble.name!r} layer 0"
    weight_law, bias_law = ensemble.layer_laws(0)
    kernel = _entry_variance(weight_law, ensemble.d_in, f"{where} weights") * (
        points @ points.T
    )
    if bias_law is not None:
        kernel = kernel + _entry_variance(bias_law, ensemble.d_in, f"{where} biases")
    readout, _ = ensemble.layer_laws(1)
    v = _entry_variance(readout, width, f"ensemble {ensemble.name!r} readout weights")
    d_out = ensemble.d_out
    entries = np.asarray(entries)
    point = entries // d_out
    output = entries % d_out

    def k(i, j):
        return kernel[point[:, i], point[:, j]]

    def delta(i, j):
        return (output[:, i] == output[:, j]).astype(np.float64)

    value = (
        delta(0, 1) * delta(2, 3) * (k(0, 2) * k(1, 3) + k(0, 3) * k(1, 2))
        + delta(0, 2) * delta(1, 3) * (k(0, 1) * k(2, 3) + k(0, 3) * k(1, 2))
        + delta(0, 3) * delta(1, 2) * (k(0, 1) * k(2, 3) + k(0, 2) * k(1, 3))
    )
    return v**2 * width * value
