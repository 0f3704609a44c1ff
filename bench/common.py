"""Shared helpers of the benchmarks: the benchmark config, machine facts, subprocesses.

Each measurement runs in a fresh Python process, so its peak resident memory
(ru_maxrss) belongs to that case alone.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
SOURCE_DIR = BENCH_DIR.parent / "src"

# The benchmark ensemble: Gauss-net of width 1000, d_in 1, d_out 5, six points.
WIDTH = 1000
D_OUT = 5
POINTS = 6
SIGMA_W = 1.0
SIGMA_B = 1.0


def points(count: int = POINTS):
    """Evenly spaced inputs in [-0.01, 0.01], shape [count, 1], as in the demo."""
    import numpy as np

    return np.linspace(-0.01, 0.01, count)[:, None]


def ensemble_config(width: int = WIDTH, d_out: int = D_OUT):
    """Gauss-net with W ~ N(0, sigma_W^2 / fan_in) and b ~ N(0, sigma_b^2)."""
    from dualsym.config import EnsembleConfig, LawConfig

    return EnsembleConfig(
        name="gauss-net",
        activation="gauss",
        d_in=1,
        d_out=d_out,
        widths=[width],
        weights=LawConfig(law="normal", std=SIGMA_W, fan_in_scaling=True),
        biases=LawConfig(law="normal", std=SIGMA_B),
    )


def peak_rss_mib() -> float:
    """Peak resident memory of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    """Resident memory of this process now, in MiB."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def machine() -> dict:
    """CPU model, core count, memory, library versions and the date."""
    import torch

    model = "unknown"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as handle:
        total_kib = int(handle.readline().split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(total_kib / 2**20, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
    }


def run_case(script: str, *args: str, timeout: float = 1800) -> dict:
    """Run `python bench/SCRIPT case ARGS` in a fresh process; return its JSON line."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(SOURCE_DIR), str(BENCH_DIR), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    command = [sys.executable, str(BENCH_DIR / script), "case", *args]
    background = wait_for_quiet()
    ticks_start, idle_start = _cpu_ticks()
    children_start = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed with code {completed.returncode}:\n"
            f"{completed.stderr[-4000:]}"
        )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    wall = time.perf_counter() - started
    ticks_end, idle_end = _cpu_ticks()
    children_end = resource.getrusage(resource.RUSAGE_CHILDREN)
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    busy = (ticks_end - ticks_start - (idle_end - idle_start)) / ticks_per_second
    own = (children_end.ru_utime - children_start.ru_utime) + (
        children_end.ru_stime - children_start.ru_stime
    )
    result["process_seconds"] = round(wall, 3)
    result["background_busy_cores"] = round(background, 2)
    # CPU seconds of other processes per wall second while the case ran.
    result["other_busy_cores_during"] = round(max(busy - own, 0.0) / wall, 2)
    return result


def emit(result: dict) -> None:
    """Print a case's result as the last line of stdout, for `run_case`."""
    print(json.dumps(result), flush=True)


def write_results(name: str, data: dict) -> Path:
    """Write bench/results/NAME.json with the machine facts added."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    data = {"machine": machine(), "command": " ".join(sys.argv), **data}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def _cpu_ticks() -> tuple[int, int]:
    """(all, idle) CPU ticks since boot, summed over cores, from /proc/stat."""
    with open("/proc/stat") as handle:
        fields = [int(value) for value in handle.readline().split()[1:]]
    return sum(fields), fields[3] + fields[4]


def busy_cores(seconds: float = 1.0) -> float:
    """Cores kept busy by all processes over `seconds`."""
    total_start, idle_start = _cpu_ticks()
    time.sleep(seconds)
    total_end, idle_end = _cpu_ticks()
    total = total_end - total_start
    busy_fraction = 1.0 - (idle_end - idle_start) / max(total, 1)
    return busy_fraction * (os.cpu_count() or 1)


def wait_for_quiet(max_busy: float = 0.3, timeout: float = 120) -> float:
    """Wait until other processes keep fewer than `max_busy` cores busy.

    Returns the last measured load; after `timeout` seconds it returns anyway, and the
    caller records the load next to its numbers.
    """
    deadline = time.monotonic() + timeout
    load = busy_cores()
    while load > max_busy and time.monotonic() < deadline:
        time.sleep(5)
        load = busy_cores()
    return load
