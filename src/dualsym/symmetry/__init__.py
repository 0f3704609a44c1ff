"""Symmetry of network densities: certificates, invariance tests and their actions."""

from dualsym.symmetry.certificate import (
    Certificate,
    Stabilizer,
    certify,
    orthogonal_stabilizer,
)
from dualsym.symmetry.invariance import InvarianceResult, test_invariance
from dualsym.symmetry.statistics import DeviationSummary, deviation_test

__all__ = [
    "Certificate",
    "DeviationSummary",
    "InvarianceResult",
    "Stabilizer",
    "certify",
    "deviation_test",
    "orthogonal_stabilizer",
    "test_invariance",
]
