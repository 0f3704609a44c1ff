"""dualsym against the research-code baseline: time and peak memory of G^(2), G^(4).

Gauss-net of width 1000, 6 inputs, d_out 5 (30 sites), at 10^3 and 4x10^3 networks.
Each case runs in a fresh process. Usage: python bench/bench_correlators.py
"""

from __future__ import annotations

import sys
import time

import numpy as np
from common import emit, points, run_case, write_results

NETWORKS = (1000, 4000)
ORDERS = (2, 4)
SEED = 0


def dualsym_case(networks: int, order: int) -> dict:
    from common import current_rss_mib, ensemble_config, peak_rss_mib

    from dualsym.config import RunConfig
    from dualsym.correlators import estimate_correlators
    from dualsym.ensemble import Ensemble

    ensemble = Ensemble(ensemble_config())
    run = RunConfig(networks=networks, seed=SEED, blocks=40, chunk_networks=1000)
    rss_before = current_rss_mib()
    start = time.perf_counter()
    estimate = estimate_correlators(ensemble, points(), [order], run)
    seconds = time.perf_counter() - start
    return {
        "method": "dualsym",
        "networks": estimate.networks,
        "order": order,
        "seconds": seconds,
        "rss_before_mib": rss_before,
        "peak_rss_mib": peak_rss_mib(),
    }


def baseline_case(networks: int, order: int) -> dict:
    import torch
    from baseline import moment, sample_outputs
    from common import current_rss_mib, peak_rss_mib

    torch.manual_seed(SEED)
    x = torch.as_tensor(points(), dtype=torch.float32)
    rss_before = current_rss_mib()
    start = time.perf_counter()
    outputs = sample_outputs(networks, x)
    sampled = time.perf_counter()
    estimate = moment(outputs, order)
    seconds = time.perf_counter() - start
    return {
        "method": "baseline",
        "networks": networks,
        "order": order,
        "seconds": seconds,
        "sampling_seconds": sampled - start,
        "product_elements": networks * estimate.numel(),
        "rss_before_mib": rss_before,
        "peak_rss_mib": peak_rss_mib(),
    }


def agreement_case(networks: int, order: int) -> dict:
    """Max |z| between baseline and dualsym estimates on the unique entries."""
    import torch
    from baseline import moment, sample_outputs
    from common import ensemble_config

    from dualsym.config import RunConfig
    from dualsym.correlators import estimate_correlators
    from dualsym.ensemble import Ensemble

    torch.manual_seed(SEED + 1)
    x = torch.as_tensor(points(), dtype=torch.float32)
    dense = moment(sample_outputs(networks, x), order).double().numpy()
    run = RunConfig(networks=networks, seed=SEED, blocks=40, chunk_networks=1000)
    estimate = estimate_correlators(Ensemble(ensemble_config()), points(), [order], run)
    entries = estimate.orders[order].entries
    baseline_values = dense[tuple(entries.T)]
    error = estimate.orders[order].standard_error * np.sqrt(2.0)
    z = np.abs(baseline_values - estimate.orders[order].mean) / error
    return {
        "networks": networks,
        "order": order,
        "entries": len(entries),
        "max_abs_z": float(z.max()),
        "mean_abs_z": float(z.mean()),
    }


def main() -> None:
    rows = []
    for networks in NETWORKS:
        for order in ORDERS:
            ours = run_case(
                "bench_correlators.py", "dualsym", str(networks), str(order)
            )
            theirs = run_case(
                "bench_correlators.py", "baseline", str(networks), str(order)
            )
            row = {
                "networks": networks,
                "order": order,
                "dualsym": ours,
                "baseline": theirs,
                "speedup": theirs["seconds"] / ours["seconds"],
                "peak_memory_ratio": theirs["peak_rss_mib"] / ours["peak_rss_mib"],
                "work_memory_ratio": (theirs["peak_rss_mib"] - theirs["rss_before_mib"])
                / max(ours["peak_rss_mib"] - ours["rss_before_mib"], 1.0),
            }
            rows.append(row)
            print(
                f"n={networks:>5} order {order}: dualsym {ours['seconds']:.3f} s "
                f"{ours['peak_rss_mib']:.0f} MiB, baseline {theirs['seconds']:.2f} s "
                f"{theirs['peak_rss_mib']:.0f} MiB: {row['speedup']:.0f}x faster, "
                f"{row['peak_memory_ratio']:.1f}x less peak memory",
                flush=True,
            )
    agreement = [
        run_case("bench_correlators.py", "agreement", "1000", str(order))
        for order in ORDERS
    ]
    target = next(r for r in rows if r["networks"] == 4000 and r["order"] == 4)
    path = write_results(
        "correlators",
        {
            "rows": rows,
            "agreement": agreement,
            "targets": {
                "speedup_4pt_4000": {
                    "target": 100,
                    "measured": target["speedup"],
                    "met": target["speedup"] >= 100,
                },
                "memory_ratio_4pt_4000": {
                    "target": 20,
                    "measured": target["peak_memory_ratio"],
                    "met": target["peak_memory_ratio"] >= 20,
                },
            },
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "case":
        kind, networks, order = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        cases = {
            "dualsym": dualsym_case,
            "baseline": baseline_case,
            "agreement": agreement_case,
        }
        emit(cases[kind](networks, order))
    else:
        main()
