"""Analytic predictions: NNGP kernels, Wick contractions and 1/width corrections."""

from dualsym.theory.kernels import (
    activation_expectation,
    output_kernel,
    site_covariance,
)
from dualsym.theory.wick import (
    linear_network_connected_4pt,
    perfect_matchings,
    wick_moments,
)

__all__ = [
    "activation_expectation",
    "linear_network_connected_4pt",
    "output_kernel",
    "perfect_matchings",
    "site_covariance",
    "wick_moments",
]
