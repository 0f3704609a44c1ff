"""Breaking size, alignment, residual symmetry and the claim statistics."""

import math

import numpy as np
import pytest
from scipy import stats

from dualsym.training.analysis import (
    assess_claims,
    breaking_size,
    compare_means,
    hedges_g,
    residual_symmetry,
    slope_with_interval,
    target_alignment,
)
from dualsym.training.fmnist import readout_mean_matrix


@pytest.mark.parametrize("k", range(1, 11))
def test_alignment_matches_closed_form(k):
    mean = readout_mean_matrix(k, 0.05)

    # With m along 1_k: cos(m, e_c) = 1/sqrt(k) for c < k, else 0, so the mean over
    # 10 classes is sqrt(k)/10; cos(m, 1 - e_c) = (k - [c < k]) / (3 sqrt(k)), whose
    # mean is 9k / (30 sqrt(k)) = 0.3 sqrt(k).
    assert target_alignment(mean, "one-hot") == pytest.approx(math.sqrt(k) / 10)
    assert target_alignment(mean, "one-cold") == pytest.approx(0.3 * math.sqrt(k))


def test_alignment_depends_on_mu_sign_only():
    assert target_alignment(readout_mean_matrix(4, 0.2), "one-cold") == pytest.approx(
        target_alignment(readout_mean_matrix(4, 0.01), "one-cold")
    )
    assert target_alignment(readout_mean_matrix(4, -0.1), "one-hot") == pytest.approx(
        -0.2
    )


def test_alignment_undefined_without_breaking():
    assert math.isnan(target_alignment(readout_mean_matrix(0, 0.1), "one-hot"))
    assert math.isnan(target_alignment(readout_mean_matrix(6, 0.0), "one-cold"))


@pytest.mark.parametrize(("k", "mu"), [(0, 0.1), (3, 0.0), (4, 0.05), (10, 0.2)])
def test_breaking_size_is_mu_sqrt_k(k, mu):
    assert breaking_size(readout_mean_matrix(k, mu)) == pytest.approx(mu * math.sqrt(k))


def test_residual_symmetry_names():
    assert residual_symmetry(readout_mean_matrix(0, 0.2)) == "O(10)"
    assert residual_symmetry(readout_mean_matrix(8, 0.0)) == "O(10)"
    assert residual_symmetry(readout_mean_matrix(1, 0.1)) == "O(9)"
    assert residual_symmetry(readout_mean_matrix(10, 0.2)) == "O(9)"


def test_compare_means_against_welch_formula():
    broken = np.array([0.80, 0.82, 0.85, 0.79])
    symmetric = np.array([0.75, 0.74, 0.78, 0.76, 0.73])
    comparison = compare_means(broken, symmetric, "test")

    var_b = broken.var(ddof=1) / len(broken)
    var_s = symmetric.var(ddof=1) / len(symmetric)
    dof = (var_b + var_s) ** 2 / (
        var_b**2 / (len(broken) - 1) + var_s**2 / (len(symmetric) - 1)
    )
    half = stats.t.ppf(0.975, dof) * math.sqrt(var_b + var_s)
    difference = broken.mean() - symmetric.mean()
    assert comparison.difference == pytest.approx(difference)
    assert comparison.low == pytest.approx(difference - half)
    assert comparison.high == pytest.approx(difference + half)
    assert 0 < comparison.p_value < 0.05


def test_compare_means_needs_two_runs():
    with pytest.raises(ValueError, match="at least 2 runs"):
        compare_means(np.array([0.8]), np.array([0.7, 0.71]), "test")


def test_hedges_g_equal_spread():
    first = np.array([1.0, 2.0, 3.0])
    second = np.array([3.0, 4.0, 5.0])

    # Pooled std is 1 and the difference -2; the small-sample factor is 1 - 3/15.
    assert hedges_g(first, second) == pytest.approx(-2.0 * (1 - 3 / 15))


def test_slope_interval_brackets_true_slope():
    x = np.repeat([0.0, 0.1, 0.2, 0.3], 5)
    noise = np.tile([-0.01, 0.005, 0.0, 0.01, -0.005], 4)
    slope = slope_with_interval(x, 0.8 - 0.5 * x + noise)

    assert slope.slope == pytest.approx(-0.5, abs=0.05)
    assert slope.low < -0.5 < slope.high
    assert slope.runs == 20
    assert slope_with_interval(np.zeros(5), np.arange(5.0)) is None


def claim_table(one_cold_shift, one_hot_shift):
    """Build a run table: symmetric runs near 0.84, broken runs shifted."""
    rng = np.random.default_rng(3)
    rows = []
    for targets, shift in (("one-cold", one_cold_shift), ("one-hot", one_hot_shift)):
        for k, mu in ((0, 0.0), (10, 0.0), (10, 0.1), (10, 0.2)):
            mean = readout_mean_matrix(k, mu)
            size = breaking_size(mean)
            for _ in range(6):
                accuracy = 0.84 + shift * size / 0.632 + rng.normal(0, 0.002)
                rows.append(
                    (targets, k, mu, accuracy, size, target_alignment(mean, targets))
                )
    columns = list(zip(*rows))
    return {
        "targets": np.array(columns[0]),
        "k": np.array(columns[1]),
        "mu": np.array(columns[2]),
        "max_accuracy": np.array(columns[3]),
        "breaking_size": np.array(columns[4]),
        "alignment": np.array(columns[5]),
    }


def test_claims_supported_when_data_agree():
    one_cold, one_hot = assess_claims(claim_table(+0.02, -0.05))

    assert one_cold["verdict"] == "supported"
    assert one_cold["comparison"]["difference"] == pytest.approx(0.02, abs=0.003)
    assert one_cold["broken_cells"] == [{"k": 10, "mu": 0.2}]
    assert one_cold["alignment"] == pytest.approx(0.3 * math.sqrt(10))
    assert one_cold["slope"]["low"] > 0
    assert one_hot["verdict"] == "supported: breaking hurts"
    assert one_hot["alignment"] == pytest.approx(math.sqrt(10) / 10)


def test_claims_contradicted_when_data_disagree():
    one_cold, one_hot = assess_claims(claim_table(-0.03, +0.02))

    assert one_cold["verdict"] == "contradicted: breaking hurts"
    assert one_hot["verdict"] == "contradicted: breaking helps"
    assert "contradicted" in one_hot["text"]


def test_claims_without_effect_are_unresolved():
    one_cold, one_hot = assess_claims(claim_table(0.0, 0.0))

    assert one_cold["verdict"] == "not resolved: the interval contains 0"
    assert one_hot["verdict"] == "consistent: no effect resolved"


def test_claim_not_tested_without_runs():
    table = claim_table(0.0, 0.0)
    keep = table["targets"] == "one-hot"
    one_hot_only = {name: values[keep] for name, values in table.items()}

    one_cold, one_hot = assess_claims(one_hot_only)
    assert one_cold["verdict"] == "not tested"
    assert one_hot["verdict"] == "consistent: no effect resolved"


def test_holm_adjustment_matches_hand_values():
    from dualsym.training.analysis import _holm

    adjusted = _holm(np.array([0.01, 0.04, 0.03]))
    # Sorted 0.01, 0.03, 0.04 get factors 3, 2, 1 and a running maximum.
    assert np.allclose(adjusted, [0.03, 0.06, 0.06])


def test_cell_effects_flag_helping_cell():
    from dualsym.training.analysis import cell_effects

    rng = np.random.default_rng(0)
    size = np.repeat([0.0, 0.1, 0.5], 20)
    accuracy = np.concatenate(
        [
            0.85 + 0.003 * rng.normal(size=20),
            0.86 + 0.003 * rng.normal(size=20),
            0.70 + 0.003 * rng.normal(size=20),
        ]
    )
    table = {
        "k": np.full(60, 10),
        "mu": np.repeat([0.0, 0.03, 0.16], 20),
        "breaking_size": size,
        "max_accuracy": accuracy,
    }
    mine = np.ones(60, dtype=bool)
    cells = cell_effects(table, mine, size == 0)
    assert [cell["helps"] for cell in cells] == [True, False]
    assert [cell["hurts"] for cell in cells] == [False, True]
