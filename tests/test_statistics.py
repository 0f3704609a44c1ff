import numpy as np
import pytest
from scipy import stats

from dualsym.correlators.moments import dense_entries
from dualsym.symmetry.statistics import deviation_test, multiplicities


def synthetic_blocks(rng, blocks, entries, shift=0.0, elements=1):
    base = 1.0 + rng.normal(size=(blocks, entries))
    noise = rng.normal(size=(blocks, elements, entries))
    moved = base[:, None, :] + noise + shift
    return base, moved


def false_alarm_rate(alpha, replicates, blocks=30, entries=1, seed=0):
    rng = np.random.default_rng(seed)
    entry_list = np.arange(entries)[:, None]
    empty = np.zeros((blocks, 0, entries))
    alarms = 0
    for _ in range(replicates):
        base, moved = synthetic_blocks(rng, blocks, entries)
        summary = deviation_test(base, moved, empty, entry_list, alpha)
        alarms += summary.verdict == "broken"
    return alarms / replicates


def test_single_entry_rate_is_exact_with_t_quantiles():
    # With Gaussian block means, the batch-means z is Student t with B - 1 dof, so a
    # single test has false-alarm rate exactly alpha. Normal quantiles would give
    # about 0.0597 at alpha = 0.05 and B = 30, outside this tolerance.
    rate = false_alarm_rate(alpha=0.05, replicates=10_000)
    assert abs(rate - 0.05) < 0.0065


def test_multiple_entries_stay_below_alpha():
    rate = false_alarm_rate(alpha=0.05, replicates=2_000, entries=40, seed=1)
    # Bonferroni bounds the family-wise rate by alpha; allow binomial noise.
    assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 2_000)


def test_shift_is_detected():
    rng = np.random.default_rng(2)
    base, moved = synthetic_blocks(rng, 40, 10, shift=1.0)
    summary = deviation_test(
        base, moved, np.zeros((40, 0, 10)), np.arange(10)[:, None], 0.01
    )
    assert summary.verdict == "broken"
    assert summary.p_value < 1e-6
    # The true relative deviation is |shift| / |base| = 1 / 1 on every entry.
    assert abs(summary.relative_deviation - 1.0) < 4 * summary.relative_deviation_error


def test_resolution_matches_critical_value():
    rng = np.random.default_rng(3)
    base, moved = synthetic_blocks(rng, 30, 5)
    summary = deviation_test(
        base, moved, np.zeros((30, 0, 5)), np.arange(5)[:, None], 0.01
    )
    critical = stats.t.isf(0.01 / (2 * 5), 29)
    assert summary.critical_z == pytest.approx(critical)
    assert summary.resolution == pytest.approx(critical * summary.noise_floor)


def test_structural_zero_excluded():
    rng = np.random.default_rng(4)
    base, moved = synthetic_blocks(rng, 30, 3)
    moved[:, :, 0] = base[:, None, 0]  # no deviation and no variance in entry 0
    summary = deviation_test(
        base, moved, np.zeros((30, 0, 3)), np.arange(3)[:, None], 0.01
    )
    assert summary.structural_zeros == 1
    assert summary.entries_tested == 2
    assert np.isfinite(summary.max_abs_z)


def test_exact_deviation_is_broken():
    rng = np.random.default_rng(5)
    base, moved = synthetic_blocks(rng, 30, 3)
    moved[:, :, 1] = base[:, None, 1] + 0.5  # deterministic shift, zero variance
    summary = deviation_test(
        base, moved, np.zeros((30, 0, 3)), np.arange(3)[:, None], 0.01
    )
    assert summary.verdict == "broken"
    assert summary.exact_deviations == 1
    assert summary.as_dict()["max_abs_z"] is None


def test_lie_derivatives_count_in_family():
    rng = np.random.default_rng(6)
    base, moved = synthetic_blocks(rng, 30, 4)
    lie = rng.normal(size=(30, 3, 4))
    summary = deviation_test(base, moved, lie, np.arange(4)[:, None], 0.01)
    assert summary.entries_tested == 4 * (1 + 3)
    assert summary.lie_relative_deviation is not None


def test_multiplicities_count_orderings():
    entries = dense_entries(3, 4)
    counts = multiplicities(entries)
    assert counts.sum() == 3**4
    assert counts[0] == 1  # (0, 0, 0, 0)
    index = int(np.flatnonzero((entries == [0, 0, 1, 2]).all(1))[0])
    assert counts[index] == 12
