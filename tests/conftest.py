"""Test setup: make dualsym and the test helpers importable in spawned processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import dualsym

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
