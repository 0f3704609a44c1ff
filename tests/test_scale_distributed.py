"""Dask runs give the serial run's totals bit for bit, even when a worker dies."""

from __future__ import annotations

import numpy as np
import pytest
from distributed import LocalCluster
from scale_helpers import KILL_MARKER_ENV, small_config

from dualsym.pipeline import Execution, check_job, run_checks


def _assert_same_report(left, right) -> None:
    assert [r.as_dict() for r in left.results] == [r.as_dict() for r in right.results]
    for outcome_left, outcome_right in zip(left.outcomes, right.outcomes, strict=True):
        for width, correlators in outcome_left.correlators.items():
            other = outcome_right.correlators[width]
            for order, estimate in correlators.orders.items():
                assert np.array_equal(
                    estimate.block_means, other.orders[order].block_means
                ), f"order {order} block means differ at width {width}"


def _two_workers() -> LocalCluster:
    return LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )


@pytest.fixture
def two_workers(subprocess_env):
    with _two_workers() as cluster:
        yield cluster


def test_dask_two_workers_equal_serial(two_workers):
    config = small_config(widths=(8, 16))
    serial = run_checks(config)
    distributed = run_checks(
        config, execution=Execution(scheduler=two_workers.scheduler_address)
    )

    _assert_same_report(serial, distributed)


def test_dask_workers_option_equal_serial(subprocess_env):
    config = small_config(networks=300, chunk_networks=20)
    serial = run_checks(config)
    chunks = []
    distributed = run_checks(
        config, on_chunk=chunks.append, execution=Execution(workers=1)
    )

    _assert_same_report(serial, distributed)
    plan_keys = [chunk.key for chunk in check_job(config, 0, 8).job.plan.chunks()]
    assert [chunk.key for chunk in chunks] == plan_keys


def test_killed_worker_chunk_retried_once(tmp_path, monkeypatch, subprocess_env):
    marker = tmp_path / "killed"
    # Set before the workers start, so that they inherit it.
    monkeypatch.setenv(KILL_MARKER_ENV, str(marker))
    config = small_config(architecture="scale_helpers:kill_once_mlp")

    with _two_workers() as cluster:
        distributed = run_checks(
            config, execution=Execution(scheduler=cluster.scheduler_address)
        )
    assert marker.exists(), "no worker ran the killing forward pass"
    serial = run_checks(config)

    # A chunk counted twice or lost would change its block's sums and counts.
    _assert_same_report(serial, distributed)
