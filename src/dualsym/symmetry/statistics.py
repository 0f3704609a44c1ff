"""Calibrated invariance statistics from batch means.

For each tested transformation (a group element g or a Lie generator A) and each unique
entry i of G^(n), the deviation is Delta_i = G_i(g) - G_i (or L_A G_i), estimated per
block on common random numbers. With B blocks, z_i = mean_i / se_i follows Student's t
with B - 1 degrees of freedom under invariance; normal quantiles would inflate false
alarms. The family of all m entries and transformations is combined with Bonferroni:
p = min(1, m * min_i p_i), so the false-alarm rate is at most alpha.

Only unique entries (multisets of sites) are tested, so tensor index symmetry does not
double count. Entries with zero batch-means variance are structural: if their
deviation is zero too they are left out of m; if not, the deviation is exact and the
entry counts as infinitely significant.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

ZERO_VARIANCE = 1e-12
ZERO_DEVIATION = 1e-9


@dataclass
class DeviationSummary:
    """Outcome of one invariance test (one order, all tested transformations)."""

    verdict: str
    p_value: float
    max_abs_z: float
    relative_deviation: float | None
    relative_deviation_error: float | None
    resolution: float | None
    raw_relative_deviation: float | None
    noise_floor: float | None
    lie_relative_deviation: float | None
    entries_tested: int
    structural_zeros: int
    exact_deviations: int
    critical_z: float | None

    def as_dict(self) -> dict:
        """Plain dict for JSON reports; an infinite |z| (exact deviation) is None."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, float) and not math.isfinite(value):
                data[key] = None
        return data


def multiplicities(entries: np.ndarray) -> np.ndarray:
    """Number of index orderings of each multiset: n! / prod_s c_s!."""
    entries = np.asarray(entries)
    order = entries.shape[1]
    # In a sorted row, the product over positions of (1 + earlier equal sites) is
    # prod_s c_s!, the number of orderings that leave the row unchanged.
    repeats = np.ones(len(entries), dtype=np.float64)
    for k in range(order):
        earlier = (entries[:, :k] == entries[:, k : k + 1]).sum(1)
        repeats *= 1 + earlier
    return math.factorial(order) / repeats


def _t_two_sided(z: np.ndarray, dof: int) -> np.ndarray:
    return 2.0 * stats.t.sf(np.abs(z), dof)


def _norm(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.sqrt(np.sum(weights * values**2, axis=-1))


def _relative_norms(
    base: np.ndarray,
    deviations: np.ndarray,
    weights: np.ndarray,
    variance: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw, bias-corrected and noise-floor relative deviations per transformation.

    `base` [..., E], `deviations` [..., K, E], `variance` [K, E] (of the mean).
    """
    scale = _norm(base, weights)[..., None]
    raw = _norm(deviations, weights) / scale
    excess = np.sum(weights * (deviations**2 - variance), axis=-1)
    corrected = np.sqrt(np.clip(excess, 0.0, None)) / scale
    floor = np.sqrt(np.sum(weights * variance, axis=-1)) / scale
    return raw, corrected, floor


def deviation_test(
    base_blocks: np.ndarray,
    element_blocks: np.ndarray,
    lie_blocks: np.ndarray,
    entries: np.ndarray,
    alpha: float,
) -> DeviationSummary:
    """Test G(g) = G for every element and L_A G = 0 for every generator.

    Args:
        base_blocks: block means of G, [B, E].
        element_blocks: block means of G(g) for each element, [B, K, E].
        lie_blocks: block means of L_A G for each generator, [B, L, E].
        entries: the unique entries (multisets of sites), [E, n].
        alpha: test level; the family-wise false-alarm rate is at most alpha.
    """
    blocks = base_blocks.shape[0]
    dof = blocks - 1
    deviations = np.concatenate(
        [element_blocks - base_blocks[:, None, :], lie_blocks], axis=1
    )  # [B, K + L, E]
    count_elements = element_blocks.shape[1]
    mean = deviations.mean(0)
    se = deviations.std(0, ddof=1) / math.sqrt(blocks)
    base_mean = base_blocks.mean(0)
    weights = multiplicities(entries)
    scale = math.sqrt(np.sum(weights * base_mean**2) / np.sum(weights))
    if scale == 0.0:
        scale = float(np.max(np.abs(element_blocks), initial=0.0)) or 1.0

    structural = se <= ZERO_VARIANCE * scale
    exact_zero = structural & (np.abs(mean) <= ZERO_DEVIATION * scale)
    tested = ~exact_zero
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(structural, np.inf, mean / np.where(structural, 1.0, se))
    z = np.where(exact_zero, 0.0, z)
    m = int(tested.sum())
    if m == 0:
        p_value, max_abs_z, critical = 1.0, 0.0, math.inf
    else:
        p_values = _t_two_sided(z[tested], dof)
        p_value = float(min(1.0, m * p_values.min()))
        max_abs_z = float(np.abs(z[tested]).max())
        critical = float(stats.t.isf(alpha / (2 * m), dof))
    verdict = "broken" if p_value < alpha else "invariant"

    relative, error, resolution, raw, floor, lie_relative = _effect_sizes(
        base_blocks, deviations, count_elements, weights, se, critical, alpha
    )
    return DeviationSummary(
        verdict=verdict,
        p_value=p_value,
        max_abs_z=max_abs_z,
        relative_deviation=relative,
        relative_deviation_error=error,
        resolution=resolution,
        raw_relative_deviation=raw,
        noise_floor=floor,
        lie_relative_deviation=lie_relative,
        entries_tested=m,
        structural_zeros=int(exact_zero.sum()),
        exact_deviations=int((structural & ~exact_zero).sum()),
        critical_z=critical if math.isfinite(critical) else None,
    )


def _resolved_from_zero(blocks_values: np.ndarray, alpha: float) -> bool:
    """Return whether some entry differs from zero (Student t, Bonferroni at alpha)."""
    blocks = blocks_values.shape[0]
    mean = blocks_values.mean(0)
    se = blocks_values.std(0, ddof=1) / math.sqrt(blocks)
    exact = se == 0
    if np.any(exact & (mean != 0)):
        return True
    z = np.abs(mean[~exact] / se[~exact])
    if z.size == 0:
        return False
    p_value = z.size * _t_two_sided(z.max(), blocks - 1)
    return bool(p_value < alpha)


def _effect_sizes(
    base_blocks, deviations, count_elements, weights, se, critical, alpha
):
    """Relative deviation (bias-corrected), its error, resolution, raw, floor.

    The summary is the mean over group elements, or over generators when no element
    was tested. All are None when G itself is not resolved from zero. Resolution is critical_z * noise floor: the relative size of a
    deviation that reaches the critical value in every entry at once.
    """
    blocks = base_blocks.shape[0]
    base_mean = base_blocks.mean(0)
    # A relative size needs G resolved from zero: when no entry of G differs from
    # zero at level alpha (as for odd orders of zero-mean networks) the ratio would
    # be noise over noise.
    if not _resolved_from_zero(base_blocks, alpha):
        return None, None, None, None, None, None
    lie = deviations[:, count_elements:]
    lie_relative = None
    if lie.shape[1]:
        _, lie_corrected, _ = _relative_norms(
            base_mean, lie.mean(0), weights, se[count_elements:] ** 2
        )
        lie_relative = float(lie_corrected.mean())
    chosen = slice(0, count_elements) if count_elements else slice(None)
    chosen_dev = deviations[:, chosen]
    variance = se[chosen] ** 2
    raw, corrected, floor = _relative_norms(
        base_mean, chosen_dev.mean(0), weights, variance
    )
    base_jack = (base_blocks.sum(0) - base_blocks) / (blocks - 1)
    dev_jack = (chosen_dev.sum(0) - chosen_dev) / (blocks - 1)
    raw_jack, _, _ = _relative_norms(
        base_jack, dev_jack, weights, variance * blocks / (blocks - 1)
    )
    # The error is the jackknife error of the raw norm: the corrected one is clipped
    # at zero, so for an invariant ensemble its replicates would all be zero.
    replicate = raw_jack.mean(-1)
    error = math.sqrt(
        (blocks - 1) / blocks * np.sum((replicate - replicate.mean()) ** 2)
    )
    resolution = critical * float(floor.mean()) if math.isfinite(critical) else None
    return (
        float(corrected.mean()),
        float(error),
        resolution,
        float(raw.mean()),
        float(floor.mean()),
        lie_relative,
    )
