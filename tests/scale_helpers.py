"""Configs and a fault-injecting architecture shared by the scale tests."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from dualsym.config import parse_config
from dualsym.ensemble import MLPArchitecture

KILL_MARKER_ENV = "DUALSYM_TEST_KILL_MARKER"


def small_config_data(
    networks: int = 600,
    chunk_networks: int = 10,
    widths: tuple[int, ...] = (8,),
    seed: int = 5,
    architecture: str = "mlp",
) -> dict:
    """A Gauss-net SO(2) output check small enough to run in about a second."""
    return {
        "run": {
            "networks": networks,
            "seed": seed,
            "blocks": 30,
            "chunk_networks": chunk_networks,
        },
        "ensembles": [
            {
                "name": "gauss-net",
                "architecture": architecture,
                "activation": "gauss",
                "d_in": 1,
                "d_out": 2,
                "widths": list(widths),
            }
        ],
        "checks": [
            {
                "ensemble": "gauss-net",
                "group": {"kind": "SO", "n": 2},
                "acts_on": "output",
                "orders": [2, 4],
                "linspace": {"start": -0.5, "stop": 0.5, "num": 3},
                "elements": 2,
            }
        ],
    }


def small_config(**overrides):
    """Validated `small_config_data`."""
    return parse_config(small_config_data(**overrides), "test config")


def write_toml(data: dict, path: Path) -> Path:
    """Write a config dict as TOML (only the value types the small config uses)."""
    lines = ["[run]"]
    lines += [f"{key} = {_toml(value)}" for key, value in data["run"].items()]
    for section in ("ensembles", "checks"):
        for table in data[section]:
            lines.append(f"\n[[{section}]]")
            lines += [f"{key} = {_toml(value)}" for key, value in table.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return repr(value)


class KillOnceMLP(MLPArchitecture):
    """An MLP whose first forward pass SIGKILLs its own process.

    The marker file named by $DUALSYM_TEST_KILL_MARKER is created just before the
    kill, so every later forward pass, in any process, runs normally.
    """

    def forward(self, params, x):
        marker = Path(os.environ[KILL_MARKER_ENV])
        if not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().forward(params, x)


def kill_once_mlp(config, width):
    """Architecture builder named in configs as 'scale_helpers:kill_once_mlp'."""
    return KillOnceMLP(config, width)
