"""Shared fixtures: small configs, and an environment for spawned processes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import dualsym

from dualsym.config import EnsembleConfig, LawConfig, LayerOverride, MeanRows


def make_ensemble(**fields) -> EnsembleConfig:
    """Ensemble config with float64 defaults suited to exact comparisons."""
    defaults = {
        "name": "net",
        "d_in": 2,
        "d_out": 2,
        "widths": [20],
        "dtype": "float64",
    }
    if fields.get("architecture", "mlp") == "mlp":
        defaults["activation"] = "relu"
    defaults.update(fields)
    return EnsembleConfig(**defaults)


def readout_mean_rows(k: int, value: float) -> dict[str, LayerOverride]:
    """Layer override giving readout rows 0..k-1 mean `value`."""
    law = LawConfig(std=1.0, fan_in_scaling=True, mean_rows=MeanRows(k=k, value=value))
    return {"readout": LayerOverride(weights=law)}


@pytest.fixture
def points_2d() -> np.ndarray:
    return np.array([[0.3, -0.5], [1.0, 0.2], [-0.4, 0.9]])


SOURCE_DIR = Path(dualsym.__file__).resolve().parents[1]
TESTS_DIR = Path(__file__).resolve().parent


@pytest.fixture
def subprocess_env(monkeypatch) -> dict[str, str]:
    """Environment in which child processes (CLI runs, Dask workers) import dualsym."""
    paths = [str(SOURCE_DIR), str(TESTS_DIR)]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    return dict(os.environ)
