"""dualsym: symmetries of network densities from parameter-space correlators.

The public API mirrors the CLI: load a validated config, build an `Ensemble`, estimate
its correlators with batch-means error bars, and test invariance under a group.
"""

from dualsym.config import DualsymConfig, load_config
from dualsym.correlators import Correlators, estimate_correlators, load_correlators
from dualsym.ensemble import Ensemble
from dualsym.errors import DualsymError, InputError
from dualsym.groups import Group, make_group


__all__ = [
    "Correlators",
    "DualsymConfig",
    "DualsymError",
    "Ensemble",
    "Group",
    "InputError",
    "estimate_correlators",
    "load_config",
    "load_correlators",
    "make_group",
]

__version__ = "0.1.0"
