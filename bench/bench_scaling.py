"""Scaling with Dask workers, and a cost model of time per network checked on data.

1. Workers: one invariance check (Gauss-net width 1000, 6 inputs, d_out 5, orders 2
   and 4, one SO(5) element) run serially and on a local Dask cluster of 1 and 2
   workers. Cluster start-up is timed separately.
2. Cost model: seconds per network = c_draw * draws + c_forward * forward
   + c_gemm * gemm_flops + c_fixed, fitted by non-negative least squares to runs
   that vary width, points, d_out and order one at a time.

Usage: python bench/bench_scaling.py
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
from common import emit, run_case, write_results

WORKER_NETWORKS = 200_000
MODEL_NETWORKS = 20_000
BASE = {"width": 1000, "points": 6, "d_out": 5, "order": 4}
VARIATIONS = {
    "width": (100, 300, 1000, 3000),
    "points": (3, 6, 10),
    "d_out": (2, 5, 8),
    "order": (2, 3, 4),
}


def check_config_data(networks: int) -> dict:
    return {
        "run": {"networks": networks, "seed": 0, "blocks": 40, "chunk_networks": 1000},
        "ensembles": [
            {
                "name": "gauss-net",
                "activation": "gauss",
                "d_in": 1,
                "d_out": 5,
                "widths": [1000],
                "weights": {"law": "normal", "std": 1.0, "fan_in_scaling": True},
                "biases": {"law": "normal", "std": 1.0},
            }
        ],
        "checks": [
            {
                "ensemble": "gauss-net",
                "group": {"kind": "SO", "n": 5},
                "acts_on": "output",
                "orders": [2, 4],
                "linspace": {"start": -0.01, "stop": 0.01, "num": 6},
                "elements": 1,
                "generators": False,
            }
        ],
    }


def workers_case(workers: int) -> dict:
    from dualsym.config import parse_config
    from dualsym.pipeline import Execution, run_checks

    config = parse_config(check_config_data(WORKER_NETWORKS), "benchmark")
    execution = Execution(workers=workers if workers > 0 else None)
    start = time.perf_counter()
    report = run_checks(config, execution=execution)
    seconds = time.perf_counter() - start
    startup = 0.0
    if workers > 0:
        from dualsym.distributed import dask_client

        started = time.perf_counter()
        with dask_client(workers):
            startup = time.perf_counter() - started
    networks = report.results[0].networks
    return {
        "workers": workers,
        "networks": networks,
        "seconds": seconds,
        "cluster_startup_seconds": startup,
        "networks_per_second": networks / seconds,
        "networks_per_second_without_startup": networks / max(seconds - startup, 1e-9),
    }


def features(width: int, points: int, d_out: int, order: int) -> dict:
    """Work per network that the cost model charges time to."""
    sites = points * d_out
    low = order // 2
    rows = math.comb(sites + low - 1, low)
    columns = math.comb(sites + order - low - 1, order - low)
    return {
        "draws": 2 * width + d_out * width + d_out,
        "forward": points * width * (2 + d_out),
        "gemm_flops": 2 * rows * columns,
    }


def model_case() -> dict:
    import torch
    from common import ensemble_config
    from common import points as make_points

    from dualsym.config import RunConfig
    from dualsym.correlators import estimate_correlators
    from dualsym.ensemble import Ensemble

    cases = [dict(BASE)]
    for key, values in VARIATIONS.items():
        for value in values:
            case = {**BASE, key: value}
            if case not in cases:
                cases.append(case)
    run = RunConfig(networks=MODEL_NETWORKS, seed=0, blocks=40, chunk_networks=1000)
    rows = []
    for case in cases:
        ensemble = Ensemble(ensemble_config(case["width"], case["d_out"]))
        inputs = make_points(case["points"])
        small = RunConfig(networks=400, seed=1, blocks=40, chunk_networks=1000)
        estimate_correlators(ensemble, inputs, [case["order"]], small)  # warm-up
        start = time.perf_counter()
        estimate = estimate_correlators(ensemble, inputs, [case["order"]], run)
        seconds = time.perf_counter() - start
        rows.append(
            {
                **case,
                **features(case["width"], case["points"], case["d_out"], case["order"]),
                "seconds_per_network": seconds / estimate.networks,
            }
        )
    return {"rows": rows, "torch_threads": torch.get_num_threads()}


def fit_model(rows: list[dict]) -> dict:
    """Fit the non-negative cost coefficients and compare predictions with runs."""
    from scipy.optimize import nnls

    names = ["draws", "forward", "gemm_flops"]
    matrix = np.array([[row[name] for name in names] + [1.0] for row in rows])
    measured = np.array([row["seconds_per_network"] for row in rows])
    # Weight by 1/measured so that the fit minimizes relative, not absolute, error.
    coefficients, _ = nnls(matrix / measured[:, None], np.ones(len(rows)))
    predicted = matrix @ coefficients
    for row, value in zip(rows, predicted, strict=True):
        row["predicted_seconds_per_network"] = float(value)
        row["relative_error"] = float(value / row["seconds_per_network"] - 1.0)
    return {
        "coefficients": dict(
            zip([*names, "fixed"], coefficients.tolist(), strict=True)
        ),
        "max_abs_relative_error": float(np.abs(predicted / measured - 1).max()),
        "median_abs_relative_error": float(np.median(np.abs(predicted / measured - 1))),
    }


def main() -> None:
    workers = []
    for count in (0, 1, 2):
        row = run_case("bench_scaling.py", "workers", str(count), timeout=3600)
        workers.append(row)
        label = "serial" if count == 0 else f"{count} worker(s)"
        print(
            f"{label:>11}: {row['seconds']:.1f} s, {row['networks_per_second']:,.0f} "
            f"networks/s ({row['networks_per_second_without_startup']:,.0f} without "
            f"{row['cluster_startup_seconds']:.1f} s cluster start-up)",
            flush=True,
        )
    model = run_case("bench_scaling.py", "model", timeout=3600)
    fit = fit_model(model["rows"])
    for row in model["rows"]:
        print(
            f"width {row['width']:>5} points {row['points']:>2} d_out {row['d_out']} "
            f"order {row['order']}: {row['seconds_per_network'] * 1e6:7.1f} us/network,"
            f" model {row['predicted_seconds_per_network'] * 1e6:7.1f} "
            f"({row['relative_error']:+.0%})",
            flush=True,
        )
    print(f"coefficients: {fit['coefficients']}")
    path = write_results("scaling", {"workers": workers, "model": model, "fit": fit})
    print(f"wrote {path}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "case":
        if sys.argv[2] == "workers":
            emit(workers_case(int(sys.argv[3])))
        else:
            emit(model_case())
    else:
        main()
