"""Streaming correlator estimation with batch-means errors and NetCDF I/O."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dualsym.config import RunConfig
from dualsym.correlators.estimates import (
    ConnectedEstimate,
    Correlators,
    OrderEstimate,
    load_correlators,
    write_netcdf_atomic,
)
from dualsym.correlators.runner import (
    BatchProgram,
    Chunk,
    ChunkPlan,
    CorrelatorJob,
    accumulate,
    choose_batch_size,
    chunk_partial,
    make_accumulator,
    make_job,
)
from dualsym.ensemble import Ensemble


def estimate_correlators(
    ensemble: Ensemble,
    points,
    orders: list[int] = (1, 2, 3, 4),
    run: RunConfig | None = None,
    tuples: list[list[tuple[int, int]]] | None = None,
    on_chunk: Callable[[Chunk], None] | None = None,
) -> Correlators:
    """Estimate G^(n) of `ensemble` at `points` for each order in `orders`.

    Orders up to 4 are dense (every point and output index); higher orders need
    `tuples`, lists of (point, output) sites. Errors come from `run.blocks`
    batch-means blocks.

    Example:
        >>> ensemble = Ensemble(config.ensembles[0], width=100)
        >>> G = estimate_correlators(ensemble, [[0.0], [0.5]], [2, 4], RunConfig())
        >>> G.value([(0, 0), (1, 0)])  # (estimate, standard error) of G^(2)_00(x0, x1)
    """
    run = run or RunConfig()
    points = np.asarray(points, dtype=np.float64).reshape(-1, ensemble.d_in)
    orders = sorted(set(orders))
    flat_tuples = [
        [point * ensemble.d_out + output for point, output in site_tuple]
        for site_tuple in (tuples or [])
    ]
    job = make_job(ensemble, BatchProgram(points), orders, flat_tuples, run)
    accumulator = accumulate(job, job.new_totals(), job.plan.chunks(), on_chunk)
    return correlators_from(accumulator, ensemble, points, job.plan, run.seed)


def correlators_from(
    accumulator, ensemble, points, plan, seed, view: int = 0, config_json: str = "{}"
) -> Correlators:
    """Wrap one view of a filled accumulator as a `Correlators` estimate."""
    orders = {
        order: OrderEstimate(
            order, accumulator.entries[order], accumulator.block_means(order)[:, view]
        )
        for order in accumulator.entries
    }
    return Correlators(
        points=np.asarray(points),
        d_out=ensemble.d_out,
        orders=orders,
        networks=plan.total_networks,
        seed=seed,
        ensemble=ensemble.name,
        width=ensemble.width,
        config_json=config_json,
    )


__all__ = [
    "BatchProgram",
    "Chunk",
    "ChunkPlan",
    "ConnectedEstimate",
    "CorrelatorJob",
    "Correlators",
    "OrderEstimate",
    "accumulate",
    "choose_batch_size",
    "chunk_partial",
    "correlators_from",
    "estimate_correlators",
    "load_correlators",
    "make_accumulator",
    "make_job",
    "write_netcdf_atomic",
]
