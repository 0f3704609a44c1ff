"""Run every check of a config over its widths: the engine behind `dualsym check`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dualsym.config import CheckConfig, DualsymConfig, RunConfig
from dualsym.correlators import Chunk, ChunkPlan, Correlators
from dualsym.ensemble import Ensemble
from dualsym.groups import make_group
from dualsym.symmetry.certificate import Certificate, certify
from dualsym.symmetry.invariance import InvarianceResult, run_invariance

logger = logging.getLogger(__name__)


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
    data["run"] = RunConfig.model_validate(run).model_dump()
    from dualsym.config import parse_config

    return parse_config(data, "command-line options")


def run_checks(
    config: DualsymConfig,
    on_chunk: Callable[[Chunk], None] | None = None,
    on_width: Callable[[str, int | None], None] | None = None,
) -> RunReport:
    """Run every check at every width of its ensemble; nothing is written to disk."""
    if not config.checks:
        from dualsym.errors import InputError

        raise InputError("the config has no [[checks]]: add at least one check")
    start = time.perf_counter()
    outcomes = []
    for index, check in enumerate(config.checks):
        ensemble_config = config.ensemble(check.ensemble)
        group = make_group(check.group)
        certificate = certify(ensemble_config, check.group, check.acts_on)
        outcome = CheckOutcome(index, check, certificate)
        widths = ensemble_config.widths if ensemble_config.hidden_layers else [None]
        for width in widths:
            if on_width is not None:
                on_width(outcome.label, width)
            ensemble = Ensemble(ensemble_config, width, device=config.run.device)
            tuples = [[tuple(site) for site in t] for t in check.tuples]
            results, correlators = run_invariance(
                ensemble,
                check.point_array(),
                group,
                check.acts_on,
                check.orders,
                check.elements,
                check.generators,
                config.run,
                tuples,
                label=f"check{index}",
                on_chunk=on_chunk,
            )
            for result in results:
                result.certificate = certificate.status
            outcome.results.extend(results)
            correlators.config_json = config.to_json()
            outcome.correlators[width] = correlators
            logger.info("finished %s at width %s", outcome.label, width)
        outcomes.append(outcome)
    return RunReport(config, outcomes, time.perf_counter() - start)
