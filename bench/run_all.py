"""Run every benchmark (what `make bench` calls) and print a summary of the targets.

Results go to bench/results/*.json; BENCHMARKS.md records them. Each measurement
waits until other processes keep fewer than 0.3 cores busy (for up to 2 minutes) and
records the load it saw. Usage: python bench/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from common import BENCH_DIR, RESULTS_DIR


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--quick", action="store_true", help="stop the throughput run at 10^5 networks"
    )
    args = parser.parse_args()
    throughput = [sys.executable, str(BENCH_DIR / "bench_throughput.py")]
    if args.quick:
        throughput += ["--max-networks", "100000"]
    commands = [
        throughput,
        [sys.executable, str(BENCH_DIR / "bench_correlators.py")],
        [sys.executable, str(BENCH_DIR / "bench_scaling.py")],
    ]
    for command in commands:
        print(f"$ {' '.join(command)}", flush=True)
        subprocess.run(command, check=True)
    print("\ntargets:")
    for name in ("throughput", "correlators"):
        path = RESULTS_DIR / f"{name}.json"
        for target, value in json.loads(path.read_text())["targets"].items():
            status = "met" if value["met"] else "MISSED"
            print(f"  {name}.{target}: {status} ({value})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
