"""Invariance tests of an ensemble's correlators under a group action."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dualsym.config import RunConfig
from dualsym.correlators import Correlators, correlators_from
from dualsym.correlators.moments import MomentAccumulator
from dualsym.correlators.runner import Chunk, CorrelatorJob, accumulate, make_job
from dualsym.ensemble import Ensemble
from dualsym.errors import InputError
from dualsym.groups import Group
from dualsym.symmetry.actions import InputActionProgram, OutputActionProgram
from dualsym.symmetry.statistics import DeviationSummary, deviation_test


@dataclass
class InvarianceResult:
    """Verdict and effect size for one (ensemble, width, group, action, order)."""

    name: str
    width: int | None
    group: str
    acts_on: str
    order: int
    networks: int
    elements_tested: int
    generators_tested: int
    alpha: float
    blocks: int
    summary: DeviationSummary
    certificate: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """'invariant' or 'broken' at level alpha."""
        return self.summary.verdict

    def as_dict(self) -> dict:
        """Flat dict with the JSON report fields."""
        return {
            "name": self.name,
            "width": self.width,
            "group": self.group,
            "acts_on": self.acts_on,
            "order": self.order,
            "networks": self.networks,
            "elements_tested": self.elements_tested,
            "generators_tested": self.generators_tested,
            "alpha": self.alpha,
            "blocks": self.blocks,
            "certificate": self.certificate,
            **self.summary.as_dict(),
            **self.extra,
        }


def element_rng(seed: int, label: str) -> np.random.Generator:
    """Generator for choosing group elements, independent of the network streams."""
    key = (zlib.crc32(b"group-elements"), zlib.crc32(label.encode()))
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def build_program(
    points, group: Group, acts_on: str, elements: np.ndarray, use_generators: bool
):
    """Batch program computing the views and tangents of one test."""
    generators = group.lie_algebra if use_generators else group.lie_algebra[:0]
    if acts_on == "output":
        if group.translation:
            raise InputError(f"{group.name} acts on inputs only")
        return OutputActionProgram(points, elements, generators)
    return InputActionProgram(points, elements, generators, group.translation)


def test_invariance(
    ensemble: Ensemble,
    points,
    group: Group,
    acts_on: str,
    orders: list[int] = (2, 4),
    elements: int = 8,
    generators: bool = True,
    run: RunConfig | None = None,
    tuples: list[list[tuple[int, int]]] | None = None,
    label: str = "",
    on_chunk: Callable[[Chunk], None] | None = None,
) -> list[InvarianceResult]:
    """Test whether G^(n) of `ensemble` is invariant under `group` for each order.

    Finite elements are sampled (Haar for compact Lie groups; all of a small finite
    group) and, for continuous groups, every Lie algebra generator is tested too. The
    verdict of each order controls the false-alarm rate at `run.alpha` over all its
    entries, elements and generators.

    Example:
        >>> group = make_group(GroupConfig(kind="SO", n=5))
        >>> results = test_invariance(ensemble, [[0.0], [0.01]], group, "output")
        >>> [(r.order, r.verdict) for r in results]
    """
    results, _ = run_invariance(
        ensemble,
        points,
        group,
        acts_on,
        orders,
        elements,
        generators,
        run,
        tuples,
        label,
        on_chunk,
    )
    return results


@dataclass
class InvarianceJob:
    """A planned invariance test: the chunk job plus what its summary needs."""

    job: CorrelatorJob
    group: Group
    acts_on: str
    points: np.ndarray
    run: RunConfig

    def summarize(
        self, accumulator: MomentAccumulator
    ) -> tuple[list[InvarianceResult], Correlators]:
        """Turn filled totals into per-order results and the untransformed correlators."""
        job = self.job
        results = summarize(
            accumulator,
            job.ensemble,
            self.group,
            self.acts_on,
            job.plan,
            self.run,
            job.program,
        )
        correlators = correlators_from(
            accumulator, job.ensemble, self.points, job.plan, self.run.seed
        )
        return results, correlators


def prepare_invariance(
    ensemble: Ensemble,
    points,
    group: Group,
    acts_on: str,
    orders: list[int] = (2, 4),
    elements: int = 8,
    generators: bool = True,
    run: RunConfig | None = None,
    tuples: list[list[tuple[int, int]]] | None = None,
    label: str = "",
) -> InvarianceJob:
    """Choose the group elements, build the batch program and plan the chunks.

    Nothing is sampled yet. The elements come from a generator seeded by `run.seed` and
    `label`, so every process that prepares the same test tests the same elements.
    """
    run = run or RunConfig()
    points = np.asarray(points, dtype=np.float64).reshape(-1, ensemble.d_in)
    dimension = ensemble.d_in if acts_on == "input" else ensemble.d_out
    if group.dimension != dimension:
        raise InputError(
            f"{group.name} acts on dimension {group.dimension}, but the {acts_on} of "
            f"ensemble {ensemble.name!r} has dimension {dimension}"
        )
    orders = sorted(set(orders))
    rng = element_rng(run.seed, f"{label}/{group.name}/{acts_on}")
    chosen = group.elements_to_test(elements, rng)
    use_generators = generators and group.continuous
    program = build_program(points, group, acts_on, chosen, use_generators)
    flat_tuples = [
        [point * ensemble.d_out + output for point, output in site_tuple]
        for site_tuple in (tuples or [])
    ]
    job = make_job(ensemble, program, orders, flat_tuples, run)
    return InvarianceJob(job, group, acts_on, points, run)


def run_invariance(
    ensemble: Ensemble,
    points,
    group: Group,
    acts_on: str,
    orders: list[int] = (2, 4),
    elements: int = 8,
    generators: bool = True,
    run: RunConfig | None = None,
    tuples: list[list[tuple[int, int]]] | None = None,
    label: str = "",
    on_chunk: Callable[[Chunk], None] | None = None,
) -> tuple[list[InvarianceResult], Correlators]:
    """Like `test_invariance`, also returning the untransformed correlators."""
    prepared = prepare_invariance(
        ensemble,
        points,
        group,
        acts_on,
        orders,
        elements,
        generators,
        run,
        tuples,
        label,
    )
    job = prepared.job
    accumulator = accumulate(job, job.new_totals(), job.plan.chunks(), on_chunk)
    return prepared.summarize(accumulator)


def summarize(accumulator, ensemble, group, acts_on, plan, run, program):
    """Turn a filled accumulator into one InvarianceResult per order."""
    results = []
    for order in sorted(accumulator.entries):
        views = accumulator.block_means(order, "view")
        lie = accumulator.block_means(order, "tangent")
        summary = deviation_test(
            views[:, 0], views[:, 1:], lie, accumulator.entries[order], run.alpha
        )
        results.append(
            InvarianceResult(
                name=ensemble.name,
                width=ensemble.width,
                group=group.name,
                acts_on=acts_on,
                order=order,
                networks=plan.total_networks,
                elements_tested=program.views - 1,
                generators_tested=program.tangents,
                alpha=run.alpha,
                blocks=plan.blocks,
                summary=summary,
            )
        )
    return results


# The name starts with "test_", so keep pytest from collecting it when imported.
test_invariance.__test__ = False
