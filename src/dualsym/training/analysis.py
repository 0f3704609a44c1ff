"""Symmetry breaking by a readout mean: residual group, size, target alignment, effect.

For an initialization whose readout weights have mean matrix M [d_out, width], the
readout mean vector is the average column m = M 1 / width. It is the direction of the
mean output E f(x) = M E h(x), because the hidden units' law is exchangeable, so E h(x)
has equal entries. With rows 0..k-1 of mean mu, m = mu 1_k and:

- residual symmetry: the subgroup of O(d_out) fixing M, O(d_out - 1) when M != 0;
- breaking size: |m| = mu sqrt(k);
- alignment: the mean over classes c of cos(m, t_c), with t_c the target vector of
  class c. With m along 1_k it is sqrt(k) / 10 for one-hot targets and 0.3 sqrt(k)
  for one-cold targets (10 classes), so it separates the two encodings, whose mean
  targets (1/10 and 9/10 times the all-ones vector) point the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy import stats

from dualsym.symmetry.certificate import orthogonal_stabilizer
from dualsym.training.fmnist import readout_mean_matrix

CONFIDENCE = 0.95


def target_vectors(encoding: str, classes: int = 10) -> np.ndarray:
    """Return the target vector of each class as rows [classes, classes]."""
    if encoding == "one-hot":
        return np.eye(classes)
    if encoding == "one-cold":
        return 1.0 - np.eye(classes)
    raise ValueError(f"unknown target encoding {encoding!r}; use one-hot or one-cold")


def readout_mean_vector(mean_matrix: np.ndarray) -> np.ndarray:
    """Return the average column of the readout mean matrix [d_out, width]."""
    return np.asarray(mean_matrix, dtype=np.float64).mean(axis=1)


def breaking_size(mean_matrix: np.ndarray) -> float:
    """Return the norm of the readout mean vector (mu sqrt(k) for k rows of mean mu)."""
    return float(np.linalg.norm(readout_mean_vector(mean_matrix)))


def target_alignment(mean_matrix: np.ndarray, encoding: str) -> float:
    """Return the mean over classes of cos(readout mean vector, class target).

    NaN when the readout mean is zero, since no direction is then singled out.
    """
    vector = readout_mean_vector(mean_matrix)
    norm = np.linalg.norm(vector)
    if norm == 0.0:
        return math.nan
    targets = target_vectors(encoding, len(vector))
    cosines = targets @ vector / (np.linalg.norm(targets, axis=1) * norm)
    return float(cosines.mean())


def residual_symmetry(mean_matrix: np.ndarray) -> str:
    """Return the name of the subgroup of O(d_out) that fixes the readout mean."""
    return orthogonal_stabilizer(np.asarray(mean_matrix, dtype=np.float64)).name


@dataclass(frozen=True)
class Comparison:
    """Difference of mean accuracy between two groups of runs, with Welch's test.

    `hedges_g` is the standardized difference (pooled standard deviation, small-sample
    corrected); `low` and `high` bound the difference at `confidence`.
    """

    label: str
    n_broken: int
    n_symmetric: int
    mean_broken: float
    mean_symmetric: float
    difference: float
    low: float
    high: float
    p_value: float
    hedges_g: float
    confidence: float = CONFIDENCE


def compare_means(
    broken: np.ndarray,
    symmetric: np.ndarray,
    label: str,
    confidence: float = CONFIDENCE,
) -> Comparison:
    """Compare mean accuracy of broken and symmetric runs (Welch t-test, two-sided).

    Raises:
        ValueError: a group has fewer than 2 runs.
    """
    broken = np.asarray(broken, dtype=np.float64)
    symmetric = np.asarray(symmetric, dtype=np.float64)
    if len(broken) < 2 or len(symmetric) < 2:
        raise ValueError(
            f"{label}: Welch's test needs at least 2 runs per group, got "
            f"{len(broken)} broken and {len(symmetric)} symmetric"
        )
    result = stats.ttest_ind(broken, symmetric, equal_var=False)
    interval = result.confidence_interval(confidence)
    difference = float(broken.mean() - symmetric.mean())
    return Comparison(
        label=label,
        n_broken=len(broken),
        n_symmetric=len(symmetric),
        mean_broken=float(broken.mean()),
        mean_symmetric=float(symmetric.mean()),
        difference=difference,
        low=float(interval.low),
        high=float(interval.high),
        p_value=float(result.pvalue),
        hedges_g=hedges_g(broken, symmetric),
        confidence=confidence,
    )


def hedges_g(first: np.ndarray, second: np.ndarray) -> float:
    """Return Hedges' g, the bias-corrected standardized difference of means."""
    n1, n2 = len(first), len(second)
    pooled = ((n1 - 1) * first.var(ddof=1) + (n2 - 1) * second.var(ddof=1)) / (
        n1 + n2 - 2
    )
    if pooled == 0.0:
        return math.nan
    correction = 1.0 - 3.0 / (4.0 * (n1 + n2) - 9.0)
    return float((first.mean() - second.mean()) / math.sqrt(pooled) * correction)


@dataclass(frozen=True)
class Slope:
    """Least-squares slope of accuracy on breaking size, with its interval."""

    slope: float
    low: float
    high: float
    p_value: float
    runs: int
    confidence: float = CONFIDENCE


def slope_with_interval(
    x: np.ndarray, y: np.ndarray, confidence: float = CONFIDENCE
) -> Slope | None:
    """Fit y = a + b x over runs; None when x takes fewer than 2 values or n < 3."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(x) < 3 or len(np.unique(x)) < 2:
        return None
    fit = stats.linregress(x, y)
    quantile = stats.t.ppf(0.5 + confidence / 2.0, len(x) - 2)
    half_width = quantile * fit.stderr
    return Slope(
        float(fit.slope),
        float(fit.slope - half_width),
        float(fit.slope + half_width),
        float(fit.pvalue),
        len(x),
        confidence,
    )


def run_table(results: xr.Dataset, width: int) -> dict[str, np.ndarray]:
    """Return per-run arrays: targets, k, mu, run, max accuracy, size, alignment.

    `results` is the Dataset of a sweep (dims record, epoch); the max is over epochs.
    """
    targets = results["targets"].values.astype(str)
    k = results["k"].values.astype(int)
    mu = results["mu"].values.astype(float)
    size = np.zeros(len(k))
    alignment = np.zeros(len(k))
    cache: dict[tuple[str, int, float], tuple[float, float]] = {}
    for i, cell in enumerate(zip(targets, k, mu)):
        if cell not in cache:
            mean = readout_mean_matrix(int(cell[1]), float(cell[2]), width)
            cache[cell] = (breaking_size(mean), target_alignment(mean, cell[0]))
        size[i], alignment[i] = cache[cell]
    return {
        "targets": targets,
        "k": k,
        "mu": mu,
        "run": results["run"].values.astype(int),
        "max_accuracy": results["test_accuracy"].max(dim="epoch").values,
        "breaking_size": size,
        "alignment": alignment,
    }


def cell_summaries(table: dict[str, np.ndarray], width: int) -> list[dict]:
    """Summarize each (targets, k, mu) cell: runs, mean and std of max accuracy."""
    cells = sorted(set(zip(table["targets"], table["k"], table["mu"])))
    summaries = []
    for targets, k, mu in cells:
        mask = (table["targets"] == targets) & (table["k"] == k) & (table["mu"] == mu)
        accuracy = table["max_accuracy"][mask]
        mean = readout_mean_matrix(int(k), float(mu), width)
        alignment = target_alignment(mean, targets)
        summaries.append(
            {
                "targets": str(targets),
                "k": int(k),
                "mu": float(mu),
                "runs": int(mask.sum()),
                "mean_accuracy": float(accuracy.mean()),
                "std_accuracy": float(accuracy.std(ddof=1)) if mask.sum() > 1 else None,
                "breaking_size": breaking_size(mean),
                "alignment": None if math.isnan(alignment) else alignment,
                "residual_symmetry": residual_symmetry(mean),
            }
        )
    return summaries


def assess_claims(table: dict[str, np.ndarray]) -> list[dict]:
    """Test the reference's two claims on the runs of `table`.

    Claim 1: breaking along the targets helps one-cold targets. Claim 2: breaking
    hurts, or does not help, one-hot targets. For each, the runs at the largest
    breaking size of that encoding are compared with its symmetric runs (size 0)
    by Welch's test, and the slope of accuracy on breaking size is fitted over its
    runs. An encoding without runs on both sides gets a statement saying so.
    """
    statements = []
    for encoding, claim in (
        ("one-cold", "breaking along the targets helps one-cold targets"),
        ("one-hot", "breaking hurts or does not help one-hot targets"),
    ):
        statements.append(_assess_one(table, encoding, claim))
    return statements


def _assess_one(table: dict[str, np.ndarray], encoding: str, claim: str) -> dict:
    mine = table["targets"] == encoding
    size = table["breaking_size"]
    accuracy = table["max_accuracy"]
    statement: dict = {"claim": claim, "targets": encoding}
    if encoding == "one-cold":
        # Only breaking with positive alignment points along the one-cold targets.
        mine = mine & ((size == 0) | (table["alignment"] > 0))
    symmetric = mine & (size == 0)
    largest = float(size[mine].max()) if mine.any() else 0.0
    broken = mine & np.isclose(size, largest) & (size > 0)
    if symmetric.sum() < 2 or broken.sum() < 2:
        statement["verdict"] = "not tested"
        statement["text"] = (
            f"{encoding}: not tested, the grid has {int(symmetric.sum())} symmetric "
            f"and {int(broken.sum())} maximally broken runs; both need at least 2"
        )
        return statement

    comparison = compare_means(accuracy[broken], accuracy[symmetric], encoding)
    slope = slope_with_interval(size[mine], accuracy[mine])
    cells = sorted(
        {(int(k), float(m)) for k, m in zip(table["k"][broken], table["mu"][broken])}
    )
    statement["broken_cells"] = [{"k": k, "mu": m} for k, m in cells]
    statement["breaking_size"] = largest
    statement["alignment"] = float(np.nanmean(table["alignment"][broken]))
    statement["comparison"] = vars(comparison)
    statement["slope"] = None if slope is None else vars(slope)
    statement["cells"] = cell_effects(table, mine, symmetric)
    statement["verdict"] = _verdict(encoding, comparison)
    statement["text"] = _describe(encoding, comparison, slope, statement)
    helping = [cell for cell in statement["cells"] if cell["helps"]]
    if helping:
        best = max(helping, key=lambda cell: cell["difference"])
        statement["text"] += (
            f" Cell by cell (Welch, Holm-corrected over {len(statement['cells'])} "
            f"cells), breaking helps at {len(helping)} cell(s); the largest gain is at "
            f"k = {best['k']}, mu = {best['mu']:g}: {100 * best['difference']:+.2f} "
            f"points, CI [{100 * best['low']:+.2f}, {100 * best['high']:+.2f}], "
            f"Holm p = {best['p_holm']:.3g}."
        )
    return statement


def cell_effects(
    table: dict[str, np.ndarray], mine: np.ndarray, symmetric: np.ndarray
) -> list[dict]:
    """Compare every broken (k, mu) cell with the symmetric runs, Holm-corrected.

    Each cell gets Welch's difference of mean accuracy with its confidence interval
    and a Holm-adjusted p-value over all cells of the encoding; `helps` and `hurts`
    are set where the adjusted p-value is below 1 - confidence.
    """
    keys = sorted(
        {
            (int(k), float(mu))
            for k, mu, size in zip(
                table["k"][mine], table["mu"][mine], table["breaking_size"][mine]
            )
            if size > 0
        }
    )
    cells = []
    for k, mu in keys:
        runs = mine & (table["k"] == k) & np.isclose(table["mu"], mu)
        runs &= table["breaking_size"] > 0
        if runs.sum() < 2:
            continue
        comparison = compare_means(
            table["max_accuracy"][runs], table["max_accuracy"][symmetric], f"k={k}"
        )
        cells.append(
            {
                "k": k,
                "mu": mu,
                "difference": comparison.difference,
                "low": comparison.low,
                "high": comparison.high,
                "p_value": comparison.p_value,
            }
        )
    if not cells:
        return cells
    p_values = np.array([cell["p_value"] for cell in cells])
    holm = _holm(p_values)
    for cell, p_holm in zip(cells, holm):
        cell["p_holm"] = float(p_holm)
        significant = p_holm < 1.0 - CONFIDENCE
        cell["helps"] = bool(significant and cell["difference"] > 0)
        cell["hurts"] = bool(significant and cell["difference"] < 0)
    return cells


def _holm(p_values: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control)."""
    order = np.argsort(p_values)
    count = len(p_values)
    adjusted = np.empty(count)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, (count - rank) * p_values[index])
        adjusted[index] = min(1.0, running)
    return adjusted


def _verdict(encoding: str, comparison: Comparison) -> str:
    helps = comparison.low > 0
    hurts = comparison.high < 0
    if encoding == "one-cold":
        if helps:
            return "supported"
        if hurts:
            return "contradicted: breaking hurts"
        return "not resolved: the interval contains 0"
    if helps:
        return "contradicted: breaking helps"
    if hurts:
        return "supported: breaking hurts"
    return "consistent: no effect resolved"


def _describe(
    encoding: str, comparison: Comparison, slope: Slope | None, statement: dict
) -> str:
    percent = 100.0
    text = (
        f"{encoding}: breaking size {statement['breaking_size']:.3g} (alignment "
        f"{statement['alignment']:.3f}) changes max test accuracy by "
        f"{percent * comparison.difference:+.2f} points "
        f"({percent * comparison.mean_broken:.2f}% vs "
        f"{percent * comparison.mean_symmetric:.2f}%), "
        f"{int(100 * comparison.confidence)}% CI "
        f"[{percent * comparison.low:+.2f}, {percent * comparison.high:+.2f}], "
        f"Welch p = {comparison.p_value:.3g}, Hedges g = {comparison.hedges_g:.2f}, "
        f"n = {comparison.n_broken} vs {comparison.n_symmetric}"
    )
    if slope is not None:
        text += (
            f"; slope {percent * slope.slope:+.2f} points per unit size, CI "
            f"[{percent * slope.low:+.2f}, {percent * slope.high:+.2f}] over "
            f"{slope.runs} runs"
        )
    return f"{text}. Claim: {statement['claim']}: {statement['verdict']}."
