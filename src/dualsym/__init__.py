"""dualsym: symmetries of network densities from parameter-space correlators.

The public API mirrors the CLI: load a validated config, build an `Ensemble`, estimate
its correlators with batch-means error bars, and test invariance under a group.
"""

from dualsym.config import DualsymConfig, load_config
from dualsym.correlators import Correlators, estimate_correlators, load_correlators
from dualsym.ensemble import Ensemble
from dualsym.errors import DualsymError, InputError
from dualsym.groups import Group, make_group
from dualsym.symmetry import certify, test_invariance

__all__ = [
    "Correlators",
    "DualsymConfig",
    "DualsymError",
    "Ensemble",
    "Group",
    "InputError",
    "certify",
    "estimate_correlators",
    "load_config",
    "load_correlators",
    "make_group",
    "test_invariance",
]

__version__ = "0.1.0"
