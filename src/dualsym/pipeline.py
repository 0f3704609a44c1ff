"""Run every check of a config over its widths: the engine behind `dualsym check`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dualsym.config import CheckConfig, DualsymConfig
from dualsym.correlators import Chunk, ChunkPlan, Correlators
from dualsym.correlators.checkpoint import load_checkpoint, save_checkpoint
from dualsym.correlators.moments import MomentAccumulator
from dualsym.correlators.runner import CorrelatorJob, OrderedMerge
from dualsym.ensemble import Ensemble
from dualsym.errors import InputError
from dualsym.groups import make_group
from dualsym.symmetry.certificate import Certificate, certify
from dualsym.symmetry.invariance import (
    InvarianceJob,
    InvarianceResult,
    prepare_invariance,
)

logger = logging.getLogger(__name__)

DEFAULT_CHECKPOINT_EVERY = 20


@dataclass
class CheckOutcome:
    """Results of one check at every width of its ensemble."""

    index: int
    check: CheckConfig
    certificate: Certificate
    results: list[InvarianceResult] = field(default_factory=list)
    correlators: dict[int | None, Correlators] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Short name used in file names and tables."""
        return f"check{self.index}-{self.check.ensemble}"


@dataclass
class RunReport:
    """Everything a `dualsym check` run produced, before anything is written."""

    config: DualsymConfig
    outcomes: list[CheckOutcome]
    seconds: float
    checkpoints: list[Path] = field(default_factory=list)
    resumed: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def results(self) -> list[InvarianceResult]:
        """All results, in check, width and order."""
        return [result for outcome in self.outcomes for result in outcome.results]

    def as_dict(self) -> dict:
        """JSON-ready report with a `results` list, one object per tested order."""
        from dualsym.correlators.estimates import _version

        return {
            "dualsym_version": _version(),
            "seconds": round(self.seconds, 3),
            "run": self.config.run.model_dump(mode="json"),
            "certificates": [
                {
                    "check": outcome.index,
                    "name": outcome.check.ensemble,
                    "group": make_group(outcome.check.group).name,
                    "acts_on": outcome.check.acts_on,
                    "status": outcome.certificate.status,
                    "reason": outcome.certificate.reason,
                    "stabilizer": outcome.certificate.stabilizer,
                }
                for outcome in self.outcomes
            ],
            "results": [result.as_dict() for result in self.results],
        }


def total_chunks(config: DualsymConfig) -> int:
    """Number of chunks all checks of `config` will process (for progress bars)."""
    chunks = len(ChunkPlan.from_run(config.run).chunks())
    total = 0
    for check in config.checks:
        ensemble = config.ensemble(check.ensemble)
        widths = ensemble.widths if ensemble.hidden_layers else [None]
        total += chunks * len(widths)
    return total


def override_run(
    config: DualsymConfig,
    networks: int | None = None,
    seed: int | None = None,
    device: str | None = None,
) -> DualsymConfig:
    """Return a copy of `config` with CLI overrides applied and re-validated."""
    run = config.run.model_dump()
    if networks is not None:
        run["networks"] = networks
    if seed is not None:
        run["seed"] = seed
    if device is not None:
        run["device"] = device
    data = config.model_dump()
    data["run"] = run
    from dualsym.config import parse_config

    # Keys under `run` named in the message are the --networks, --seed, --device flags.
    return parse_config(data, "(config with --networks/--seed/--device applied)")


@dataclass(frozen=True)
class Execution:
    """Execution settings of a run: where its chunks are computed, where it saves progress.

    With neither `workers` nor `scheduler` the chunks run serially in this process.
    `workers` starts a local Dask cluster on 127.0.0.1; `scheduler` is the address of
    a running Dask scheduler. Checkpoints go to `checkpoint_dir` every
    `checkpoint_every` chunks; `resume` continues from the checkpoints found there.
    """

    workers: int | None = None
    scheduler: str | None = None
    checkpoint_dir: Path | None = None
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    resume: bool = False

    def validate(self) -> None:
        """Raise InputError for a combination of settings that cannot run."""
        if self.workers is not None and self.workers < 1:
            raise InputError(f"--workers must be at least 1, got {self.workers}")
        if self.workers is not None and self.scheduler is not None:
            raise InputError(
                "give either --workers (start a local cluster) or --scheduler (use a "
                "running one), not both"
            )
        if self.checkpoint_every < 1:
            raise InputError(
                f"--checkpoint-every must be at least 1 chunk, got "
                f"{self.checkpoint_every}"
            )
        if self.resume and self.checkpoint_dir is None:
            raise InputError(
                "--resume needs --out DIR: the checkpoints of the run to resume are "
                "read from DIR/checkpoints"
            )
        saved = (
            sorted(self.checkpoint_dir.glob("*.nc"))
            if self.checkpoint_dir is not None and self.checkpoint_dir.is_dir()
            else []
        )
        if saved and not self.resume:
            raise InputError(
                f"{self.checkpoint_dir} contains checkpoints of an unfinished run "
                f"({len(saved)} file(s)); pass --resume to continue it, or choose "
                f"another --out or remove that directory to start over"
            )

    @property
    def distributed(self) -> bool:
        """True when chunks run on Dask workers."""
        return self.workers is not None or self.scheduler is not None


def check_job(
    config: DualsymConfig,
    check_index: int,
    width: int | None,
    device: str | None = None,
) -> InvarianceJob:
    """Build the ensemble, group, program and accumulator of one check at one width.

    Serial, resumed and Dask runs all build their jobs here, so a chunk's sums are the
    same wherever it runs. `device` overrides `config.run.device`.
    """
    check = config.checks[check_index]
    ensemble_config = config.ensemble(check.ensemble)
    ensemble = Ensemble(ensemble_config, width, device=device or config.run.device)
    tuples = [[tuple(site) for site in site_tuple] for site_tuple in check.tuples]
    return prepare_invariance(
        ensemble,
        check.point_array(),
        make_group(check.group),
        check.acts_on,
        check.orders,
        check.elements,
        check.generators,
        config.run,
        tuples,
        label=f"check{check_index}",
    )


def run_checks(
    config: DualsymConfig,
    on_chunk: Callable[[Chunk], None] | None = None,
    on_width: Callable[[str, int | None], None] | None = None,
    execution: Execution | None = None,
) -> RunReport:
    """Run every check at every width of its ensemble.

    Only checkpoints (when `execution.checkpoint_dir` is set) are written to disk.
    """
    if not config.checks:
        raise InputError("the config has no [[checks]]: add at least one check")
    execution = execution or Execution()
    execution.validate()
    start = time.perf_counter()
    outcomes = []
    checkpoints = []
    resumed = {}
    with _chunk_source(execution) as source:
        for index, check in enumerate(config.checks):
            ensemble_config = config.ensemble(check.ensemble)
            certificate = certify(ensemble_config, check.group, check.acts_on)
            outcome = CheckOutcome(index, check, certificate)
            widths = ensemble_config.widths if ensemble_config.hidden_layers else [None]
            for width in widths:
                if on_width is not None:
                    on_width(outcome.label, width)
                # Dask workers sample on the configured device. The client only adds
                # their sums, so it keeps the totals on the CPU.
                device = "cpu" if execution.distributed else None
                prepared = check_job(config, index, width, device)
                checkpoint = None
                if execution.checkpoint_dir is not None:
                    suffix = "" if width is None else f"-w{width}"
                    name = f"{outcome.label}{suffix}.nc"
                    checkpoint = execution.checkpoint_dir / name
                    checkpoints.append(checkpoint)
                totals = _accumulate_check(
                    config,
                    index,
                    width,
                    prepared.job,
                    source,
                    execution,
                    checkpoint,
                    on_chunk,
                    resumed,
                )
                results, correlators = prepared.summarize(totals)
                for result in results:
                    result.certificate = certificate.status
                outcome.results.extend(results)
                correlators.config_json = config.to_json()
                outcome.correlators[width] = correlators
                logger.info("finished %s at width %s", outcome.label, width)
            outcomes.append(outcome)
    seconds = time.perf_counter() - start
    return RunReport(config, outcomes, seconds, checkpoints, resumed)


@contextmanager
def _chunk_source(execution: Execution):
    """Yield a Dask executor for distributed runs, or None for serial runs."""
    if not execution.distributed:
        yield None
        return
    from dualsym.distributed import DaskExecutor, dask_client

    with dask_client(execution.workers, execution.scheduler) as client:
        yield DaskExecutor(client)


def _accumulate_check(
    config: DualsymConfig,
    check_index: int,
    width: int | None,
    job: CorrelatorJob,
    source,
    execution: Execution,
    checkpoint: Path | None,
    on_chunk: Callable[[Chunk], None] | None,
    resumed: dict[str, tuple[int, int]],
) -> MomentAccumulator:
    """Compute, merge and checkpoint the chunks of one check at one width.

    A resumed checkpoint is recorded in `resumed` as (finished chunks, all chunks)
    under the checkpoint's name.
    """
    totals = job.new_totals()
    chunks = job.plan.chunks()
    finished: list[tuple[int, int]] = []
    if execution.resume and checkpoint is not None and checkpoint.exists():
        restored = load_checkpoint(checkpoint, config, totals)
        totals.load_state(restored.state)
        finished = sorted(restored.finished)
        resumed[checkpoint.stem] = (len(finished), len(chunks))
        logger.info(
            "resuming %s: %d of %d chunks done", checkpoint, len(finished), len(chunks)
        )
    elif execution.resume:
        logger.info("no checkpoint %s; starting it from the first chunk", checkpoint)
    done = set(finished)
    remaining = [chunk for chunk in chunks if chunk.key not in done]
    for chunk in chunks:
        if chunk.key in done and on_chunk is not None:
            on_chunk(chunk)

    merge = OrderedMerge(totals, remaining)
    since_saved = 0
    for chunk, partial in _partials(config, check_index, width, job, source, remaining):
        # One offer can release several waiting chunks into the totals at once; all
        # of them are recorded before a checkpoint, so its sums and its list of
        # finished chunks always agree.
        added = merge.offer(chunk, partial)
        finished.extend(added_chunk.key for added_chunk in added)
        since_saved += len(added)
        if on_chunk is not None:
            for added_chunk in added:
                on_chunk(added_chunk)
        if checkpoint is not None and since_saved >= execution.checkpoint_every:
            save_checkpoint(checkpoint, totals, finished, config, checkpoint.stem)
            since_saved = 0
    if not merge.done:
        raise RuntimeError(
            f"{len(remaining) - len(merge.merged)} chunks never returned"
        )
    if checkpoint is not None:
        save_checkpoint(checkpoint, totals, finished, config, checkpoint.stem)
    return totals


def _partials(config, check_index, width, job: CorrelatorJob, source, chunks):
    """Yield (chunk, one-block partial) from this process or from Dask workers."""
    if source is None:
        for chunk in chunks:
            yield chunk, job.chunk_partial(chunk)
        return
    config_json = config.to_json()
    for chunk, state in source.partials(config_json, check_index, width, chunks):
        partial = job.template.empty_like(blocks=1)
        partial.load_state(state)
        yield chunk, partial
