"""Symmetry of network densities: certificates, invariance tests and their actions."""

from dualsym.symmetry.certificate import (
    Certificate,
    Stabilizer,
    certify,
    orthogonal_stabilizer,
)

__all__ = ["Certificate", "Stabilizer", "certify", "orthogonal_stabilizer"]
