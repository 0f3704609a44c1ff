"""Chunked, seeded, memory-bounded accumulation of correlators over many networks.

A run of N networks with B blocks has B * ceil(N / B) networks; block b is split into
chunks of at most `chunk_networks`. Chunk (b, j) draws its networks from a generator
seeded by SeedSequence(seed, spawn_key=(ensemble, width, b, j)), so a result does not
depend on the batch size, the number of workers or the order in which chunks finish.
Within a chunk the networks are evaluated in batches sized to the memory budget.

On a GPU (`RunConfig.device = "cuda"`, or `--device cuda`) sampling, the forward pass
and accumulation all stay on the device. The forward pass runs in the ensemble dtype
(float32 by default) and moment sums accumulate in float64. Per batch, only a
finiteness flag is read back. Chunk sums leave the device for Dask transfers and
checkpoints, and totals at the end.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch

from dualsym.config import RunConfig
from dualsym.correlators.moments import (
    MAX_DENSE_ORDER,
    MomentAccumulator,
    entries_for,
    feature_width,
    multiset_count,
)
from dualsym.ensemble import Ensemble, Params
from dualsym.errors import MemoryBudgetError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chunk:
    """Networks index `index` of block `block`, `size` networks."""

    block: int
    index: int
    size: int

    @property
    def key(self) -> tuple[int, int]:
        """Random-stream key of the chunk within its (ensemble, width) stream."""
        return (self.block, self.index)


@dataclass(frozen=True)
class ChunkPlan:
    """Division of a run's networks into blocks and chunks."""

    networks: int
    blocks: int
    chunk_networks: int

    @classmethod
    def from_run(cls, run: RunConfig, networks: int | None = None) -> ChunkPlan:
        """Build the plan of a run config, with an optional networks override."""
        return cls(networks or run.networks, run.blocks, run.chunk_networks)

    @property
    def per_block(self) -> int:
        """Networks in each block."""
        return math.ceil(self.networks / self.blocks)

    @property
    def total_networks(self) -> int:
        """Networks actually drawn: blocks * per_block (>= the request)."""
        return self.blocks * self.per_block

    def chunks(self) -> list[Chunk]:
        """Return all chunks, block-major."""
        out = []
        per_chunk_count = math.ceil(self.per_block / self.chunk_networks)
        for block in range(self.blocks):
            for index in range(per_chunk_count):
                start = index * self.chunk_networks
                size = min(self.chunk_networks, self.per_block - start)
                out.append(Chunk(block, index, size))
        return out


class BatchProgram:
    """Turns one batch of sampled networks into views and tangents.

    `__call__` returns features [views, batch, sites] and tangents [L, batch, sites]
    (or None), both float64. The base program has one view: the outputs at the points.
    """

    views = 1
    tangents = 0

    def __init__(self, points: np.ndarray):
        self.points = np.asarray(points, dtype=np.float64)
        self._device_arrays: dict = {}

    def on_device(
        self, name: str, device: torch.device, dtype: torch.dtype
    ) -> torch.Tensor:
        """Return the numpy attribute `name` as a tensor, copied once per device."""
        key = (name, str(device), dtype)
        if key not in self._device_arrays:
            array = getattr(self, name)
            self._device_arrays[key] = torch.as_tensor(
                array, device=device, dtype=dtype
            )
        return self._device_arrays[key]

    @property
    def forward_points(self) -> int:
        """Points per forward pass (more than len(points) when inputs are moved)."""
        return len(self.points)

    def evaluate(
        self, ensemble: Ensemble, params: Params, points: str = "points"
    ) -> torch.Tensor:
        """Return float64 outputs at the named point array, checked to be finite."""
        x = self.on_device(points, ensemble.device, ensemble.dtype)
        outputs = ensemble.forward(params, x)
        ensemble.check_finite(outputs, x)
        return outputs.to(torch.float64)

    def __call__(
        self, ensemble: Ensemble, params: Params
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        outputs = self.evaluate(ensemble, params)
        return outputs.reshape(outputs.shape[0], -1)[None], None


def make_accumulator(
    ensemble: Ensemble,
    program: BatchProgram,
    orders: list[int],
    tuples: list[list[int]] | None,
    blocks: int,
) -> MomentAccumulator:
    """Create an empty accumulator for a program's views and the requested orders."""
    sites = len(program.points) * ensemble.d_out
    entries = entries_for(sites, orders, tuples)
    return MomentAccumulator(
        sites, entries, program.views, program.tangents, blocks, ensemble.device
    )


def entry_counts(
    sites: int, orders: list[int], tuples: list[list[int]] | None
) -> dict[int, tuple[int, bool]]:
    """Unique entries per order and whether the order is dense, without building them."""
    counts = {}
    for order in orders:
        if order <= MAX_DENSE_ORDER:
            counts[order] = (multiset_count(sites, order), True)
        else:
            requested = {tuple(sorted(t)) for t in (tuples or []) if len(t) == order}
            counts[order] = (len(requested), False)
    return counts


def choose_batch_size(
    ensemble: Ensemble,
    program: BatchProgram,
    counts: dict[int, tuple[int, bool]],
    blocks: int,
    chunk_networks: int,
    budget_bytes: float,
) -> int:
    """Largest batch within the memory budget, or MemoryBudgetError with the sizes.

    Runs before anything is allocated. The fixed part counts the per-block totals
    three times (totals, block means, deviation arrays of the summary), the entry
    tables and the per-batch products; the rest is work space per network. The batch
    never exceeds `chunk_networks`, so every chunk is summed in the same batches
    wherever it runs.
    """
    sites = len(program.points) * ensemble.d_out
    item = torch.finfo(ensemble.dtype).bits // 8
    width = max(ensemble.width or 1, ensemble.d_out, ensemble.d_in)
    layers = ensemble.config.hidden_layers + 1
    passes = 1 + program.tangents
    per_network = ensemble.parameter_count() * item
    per_network += 4 * program.forward_points * width * layers * item * passes
    vectors = program.views + program.tangents
    total_entries = sum(count for count, _ in counts.values())
    fixed = 3 * 8 * blocks * vectors * total_entries
    for order, (count, dense) in counts.items():
        fixed += 8 * order * count * 4  # entry tables and gather indices
        if dense:
            low = order // 2
            columns = feature_width(sites, order)
            fixed += (
                8
                * program.views
                * multiset_count(sites, low)
                * multiset_count(sites, order - low)
            )
            if program.tangents:
                columns += multiset_count(sites, order - 1)
                fixed += 8 * program.tangents * sites * multiset_count(sites, order - 1)
            per_network += 8 * (vectors + 1) * columns
        else:
            per_network += 8 * (vectors + 1) * count
    per_network += 8 * vectors * sites * 2
    if fixed >= budget_bytes:
        raise MemoryBudgetError(
            f"ensemble {ensemble.name!r}: orders {sorted(counts)} over {sites} sites "
            f"(points x outputs) have {total_entries:,} unique entries; with "
            f"{program.views} view(s), {program.tangents} tangent(s) and {blocks} "
            f"blocks their sums and products need {_mib(fixed)}, over the budget of "
            f"{_mib(budget_bytes)}. Use fewer points or outputs, fewer group elements "
            f"or blocks, request high orders on `tuples`, or raise `memory_budget_mb`."
        )
    batch = int((budget_bytes - fixed) // per_network)
    if batch < 1:
        raise MemoryBudgetError(
            f"ensemble {ensemble.name!r}: one network needs {_mib(per_network)} of "
            f"work space beyond the {_mib(fixed)} of block sums, over the budget of "
            f"{_mib(budget_bytes)}; raise `memory_budget_mb` or use fewer points, "
            f"orders or elements"
        )
    return min(batch, chunk_networks)


def _mib(size: float) -> str:
    mib = size / 2**20
    return f"{mib:,.0f} MiB" if mib >= 10 else f"{mib:.3g} MiB"


def slice_params(params: Params, start: int, stop: int) -> Params:
    """Select networks start..stop-1 of a parameter batch."""
    return {name: tensor[start:stop] for name, tensor in params.items()}


def chunk_partial(
    ensemble: Ensemble,
    program: BatchProgram,
    template: MomentAccumulator,
    chunk: Chunk,
    seed: int,
    batch_size: int,
) -> MomentAccumulator:
    """Draw one chunk's networks and return their sums in a fresh one-block accumulator.

    The result depends only on the arguments, never on other chunks, so serial, resumed
    and distributed runs compute identical partials for the same chunk.
    """
    partial = template.empty_like(blocks=1)
    # Tangents come from torch.func.jvp, which needs autograd enabled.
    with torch.no_grad() if program.tangents == 0 else contextlib.nullcontext():
        params = ensemble.sample_chunk(seed, chunk.key, chunk.size)
        for start in range(0, chunk.size, batch_size):
            batch = slice_params(params, start, min(start + batch_size, chunk.size))
            features, tangents = program(ensemble, batch)
            partial.add(0, features, tangents)
    return partial


@dataclass
class CorrelatorJob:
    """Everything needed to compute any chunk of one run: what `chunk_partial` takes.

    Every execution path (serial, resumed, Dask) builds its job with `make_job`, so a
    chunk's sums do not depend on where it runs.
    """

    ensemble: Ensemble
    program: BatchProgram
    plan: ChunkPlan
    seed: int
    batch_size: int
    template: MomentAccumulator

    def new_totals(self) -> MomentAccumulator:
        """Return zeroed per-block totals for the whole plan."""
        return self.template.empty_like(self.plan.blocks)

    def chunk_partial(self, chunk: Chunk) -> MomentAccumulator:
        """Return the one-block sums of `chunk`."""
        return chunk_partial(
            self.ensemble,
            self.program,
            self.template,
            chunk,
            self.seed,
            self.batch_size,
        )


def make_job(
    ensemble: Ensemble,
    program: BatchProgram,
    orders: list[int],
    tuples: list[list[int]] | None,
    run: RunConfig,
) -> CorrelatorJob:
    """Plan the chunks, size the batches and create the accumulator of one run."""
    plan = ChunkPlan.from_run(run)
    sites = len(program.points) * ensemble.d_out
    batch_size = choose_batch_size(
        ensemble,
        program,
        entry_counts(sites, orders, tuples),
        plan.blocks,
        min(plan.chunk_networks, run.batch_networks or plan.chunk_networks),
        run.memory_budget_mb * 2**20,
    )
    template = make_accumulator(ensemble, program, orders, tuples, blocks=1)
    return CorrelatorJob(ensemble, program, plan, run.seed, batch_size, template)


def accumulate(
    job: CorrelatorJob,
    accumulator: MomentAccumulator,
    chunks: Iterable[Chunk],
    on_chunk: Callable[[Chunk], None] | None = None,
) -> MomentAccumulator:
    """Add the given chunks' partials into `accumulator` serially, in the given order.

    Each chunk is summed into a fresh partial and then added to its block, exactly as
    the distributed and resumed paths do, so all three give bitwise-equal totals.
    """
    for chunk in chunks:
        accumulator.add_block(chunk.block, job.chunk_partial(chunk))
        if on_chunk is not None:
            on_chunk(chunk)
    return accumulator


class OrderedMerge:
    """Adds chunk partials into totals once per chunk id, in plan order.

    Partials may arrive in any order and more than once, for example from a retried
    task. Each waits until every earlier chunk of the plan has been added, and repeats
    are dropped. So the totals are bitwise equal to a serial run's over the same chunks.
    """

    def __init__(self, totals: MomentAccumulator, chunks: list[Chunk]):
        self.totals = totals
        self.order = list(chunks)
        self.position = 0
        self.waiting: dict[tuple[int, int], MomentAccumulator] = {}
        self.merged: set[tuple[int, int]] = set()

    @property
    def done(self) -> bool:
        """True when every chunk of the plan has been added."""
        return self.position == len(self.order)

    def offer(self, chunk: Chunk, partial: MomentAccumulator) -> list[Chunk]:
        """Take a chunk's partial; return the chunks added to the totals by this call."""
        if chunk.key in self.merged or chunk.key in self.waiting:
            logger.warning("dropped a repeated result of chunk %s", chunk.key)
            return []
        self.waiting[chunk.key] = partial
        added = []
        while not self.done and self.order[self.position].key in self.waiting:
            next_chunk = self.order[self.position]
            self.totals.add_block(next_chunk.block, self.waiting.pop(next_chunk.key))
            self.merged.add(next_chunk.key)
            self.position += 1
            added.append(next_chunk)
        return added
