"""Networks per second and peak memory from 10^4 to 10^6 networks, against GEMM rate.

Gauss-net of width 1000, 6 inputs, d_out 5, orders 2 and 4, serial on all cores.
The machine's rates come from torch microbenchmarks: float64 and float32 matmul, and
float32 torch.randn (the sampler dualsym uses), so the achieved rate can be read
against the hardware. Usage: python bench/bench_throughput.py [--max-networks N]
"""

from __future__ import annotations

import argparse
import math
import sys
import time

from common import D_OUT, POINTS, WIDTH, emit, points, run_case, write_results

SIZES = (10_000, 100_000, 1_000_000)
CHUNK_NETWORKS = 1000


def throughput_case(networks: int) -> dict:
    from common import current_rss_mib, ensemble_config, peak_rss_mib

    from dualsym.config import RunConfig
    from dualsym.correlators import estimate_correlators
    from dualsym.ensemble import Ensemble

    ensemble = Ensemble(ensemble_config())
    run = RunConfig(networks=networks, seed=0, blocks=40, chunk_networks=CHUNK_NETWORKS)
    rss_before = current_rss_mib()
    start = time.perf_counter()
    estimate = estimate_correlators(ensemble, points(), [2, 4], run)
    seconds = time.perf_counter() - start
    return {
        "networks": estimate.networks,
        "seconds": seconds,
        "networks_per_second": estimate.networks / seconds,
        "rss_before_mib": rss_before,
        "peak_rss_mib": peak_rss_mib(),
    }


def machine_rates_case() -> dict:
    """Measured GFLOP/s of matmul and normal draws per second of torch.randn."""
    import torch

    rates = {}
    for name, dtype in (("float64", torch.float64), ("float32", torch.float32)):
        a = torch.randn(2048, 2048, dtype=dtype)
        b = torch.randn(2048, 2048, dtype=dtype)
        torch.matmul(a, b)
        repeats = 5
        start = time.perf_counter()
        for _ in range(repeats):
            torch.matmul(a, b)
        seconds = (time.perf_counter() - start) / repeats
        rates[f"gemm_{name}_gflops"] = 2 * 2048**3 / seconds / 1e9
    # The shape of dualsym's order-4 product: [465, batch] @ [batch, 465], float64.
    left = torch.randn(465, 1000, dtype=torch.float64)
    torch.matmul(left, left.T)
    start = time.perf_counter()
    for _ in range(20):
        torch.matmul(left, left.T)
    seconds = (time.perf_counter() - start) / 20
    rates["gemm_order4_shape_gflops"] = 2 * 465 * 465 * 1000 / seconds / 1e9
    generator = torch.Generator().manual_seed(0)
    torch.randn(1000, 5, 1000, generator=generator)
    start = time.perf_counter()
    for _ in range(10):
        torch.randn(1000, 5, 1000, generator=generator)
    seconds = (time.perf_counter() - start) / 10
    rates["randn_float32_per_second"] = 5e6 / seconds
    rates["torch_threads"] = torch.get_num_threads()
    return rates


def work_per_network(width: int = WIDTH, d_out: int = D_OUT, count: int = POINTS):
    """Normal draws and floating-point operations per network of the benchmark run."""
    sites = count * d_out
    pairs = math.comb(sites + 1, 2)
    draws = width * 2 + d_out * width + d_out
    forward_flops = 2 * count * width * (1 + d_out)
    moment_flops = 2 * pairs * pairs + 2 * sites * sites
    return {
        "normal_draws": draws,
        "forward_flops": forward_flops,
        "moment_gemm_flops": moment_flops,
        "flops": forward_flops + moment_flops,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-networks", type=int, default=max(SIZES))
    args = parser.parse_args()
    rates = run_case("bench_throughput.py", "rates")
    work = work_per_network()
    rows = []
    for networks in SIZES:
        if networks > args.max_networks:
            continue
        row = run_case("bench_throughput.py", "run", str(networks), timeout=3600)
        rate = row["networks_per_second"]
        row["gflops"] = rate * work["flops"] / 1e9
        row["fraction_of_gemm_float64"] = row["gflops"] / rates["gemm_float64_gflops"]
        row["fraction_of_randn_rate"] = (
            rate * work["normal_draws"] / rates["randn_float32_per_second"]
        )
        rows.append(row)
        print(
            f"{row['networks']:>9,} networks: {row['seconds']:7.2f} s, "
            f"{rate:8,.0f} networks/s, peak {row['peak_rss_mib']:.0f} MiB, "
            f"{row['gflops']:.1f} GFLOP/s ({row['fraction_of_gemm_float64']:.0%} of "
            f"float64 GEMM), RNG at {row['fraction_of_randn_rate']:.0%} of randn",
            flush=True,
        )
    largest = rows[-1]
    peaks = [row["peak_rss_mib"] for row in rows]
    path = write_results(
        "throughput",
        {
            "rows": rows,
            "machine_rates": rates,
            "work_per_network": work,
            "targets": {
                "networks_per_second_20000": {
                    "target": 20_000,
                    "measured": largest["networks_per_second"],
                    "met": largest["networks_per_second"] >= 20_000,
                },
                "networks_per_second_10000": {
                    "target": 10_000,
                    "measured": largest["networks_per_second"],
                    "met": largest["networks_per_second"] >= 10_000,
                },
                "peak_memory_flat": {
                    "peaks_mib": peaks,
                    "spread_mib": max(peaks) - min(peaks),
                    "met": max(peaks) - min(peaks) <= 0.1 * min(peaks),
                },
            },
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "case":
        if sys.argv[2] == "rates":
            emit(machine_rates_case())
        else:
            emit(throughput_case(int(sys.argv[3])))
    else:
        main()
