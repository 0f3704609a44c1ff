"""The CUDA path: sampling, forward and accumulation stay on the GPU.

Skipped on machines without CUDA. A CUDA generator draws other numbers than a CPU
generator with the same seed, so CUDA and CPU runs agree within Monte Carlo error,
not bitwise.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scale_helpers import small_config_data

from dualsym.config import parse_config
from dualsym.pipeline import check_job, run_checks

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="CUDA is not available on this machine"
)


def _config(device: str):
    data = small_config_data(networks=6000, chunk_networks=200)
    data["run"]["device"] = device
    return parse_config(data, "test config")


def test_cuda_totals_stay_on_gpu():
    job = check_job(_config("cuda"), 0, 8).job

    partial = job.chunk_partial(job.plan.chunks()[0])

    assert all(t.is_cuda for t in partial.view_sums.values())
    assert all(t.is_cuda for t in partial.tangent_sums.values())
    assert partial.view_sums[4].dtype == torch.float64


def test_cuda_matches_cpu_within_error():
    cpu = run_checks(_config("cpu")).outcomes[0].correlators[8]
    cuda = run_checks(_config("cuda")).outcomes[0].correlators[8]

    for order in (2, 4):
        difference = cuda.orders[order].mean - cpu.orders[order].mean
        error = np.hypot(
            cuda.orders[order].standard_error, cpu.orders[order].standard_error
        )
        z = np.abs(difference) / np.maximum(error, 1e-12)
        # Bonferroni bound over the entries at a 1e-4 false-alarm rate.
        assert z.max() < 6.0, f"order {order}: max |z| = {z.max():.2f}"
