import numpy as np
import pytest
from conftest import make_ensemble, readout_mean_rows

from dualsym.config import GroupConfig, LawConfig, LayerOverride, RunConfig
from dualsym.ensemble import Ensemble
from dualsym.groups import make_group
from dualsym.symmetry import test_invariance as invariance_test

POINTS_1D = np.linspace(-0.01, 0.01, 4)[:, None]


def verdicts(
    config, group, acts_on, points, orders=(2, 4), networks=8_000, seed=0, **kwargs
):
    ensemble = Ensemble(config, config.widths[0])
    run = RunConfig(networks=networks, seed=seed)
    results = invariance_test(
        ensemble, points, make_group(group), acts_on, list(orders), run=run, **kwargs
    )
    return {result.order: result for result in results}


@pytest.mark.parametrize("width", [5, 100])
def test_gaussian_readout_output_invariant(width):
    config = make_ensemble(activation="gauss", d_in=1, d_out=4, widths=[width])
    results = verdicts(config, GroupConfig(kind="SO", n=4), "output", POINTS_1D)
    assert results[2].verdict == "invariant"
    assert results[4].verdict == "invariant"
    assert results[2].elements_tested == 8
    assert results[2].generators_tested == 6


def test_readout_mean_rows_broken():
    config = make_ensemble(
        activation="gauss",
        d_in=1,
        d_out=4,
        widths=[50],
        layers=readout_mean_rows(2, 0.02),
    )
    results = verdicts(config, GroupConfig(kind="SO", n=4), "output", POINTS_1D)
    assert results[2].verdict == "broken"
    assert results[4].verdict == "broken"
    assert (
        results[2].summary.relative_deviation
        > 3 * results[2].summary.relative_deviation_error
    )


def test_readout_mean_keeps_permutations_of_other_rows():
    # Rows 0 and 1 share mean mu; swapping rows 2 and 3 leaves the law invariant.
    config = make_ensemble(
        activation="relu",
        d_in=1,
        d_out=4,
        widths=[20],
        layers=readout_mean_rows(2, 0.3),
    )
    swap = [[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]]
    results = verdicts(
        config,
        GroupConfig(kind="matrices", matrices=swap),
        "output",
        POINTS_1D,
        orders=(1, 2),
    )
    assert results[1].verdict == "invariant"
    assert results[2].verdict == "invariant"


def test_input_rotation_invariant_relu():
    config = make_ensemble(activation="relu", d_in=3, d_out=2, widths=[30])
    points = np.array([[0.5, -0.3, 0.8], [-1.0, 0.4, 0.2], [0.1, 0.9, -0.6]])
    results = verdicts(config, GroupConfig(kind="SO", n=3), "input", points)
    assert results[2].verdict == "invariant"
    assert results[4].verdict == "invariant"
    assert results[2].generators_tested == 3


def test_input_rotation_broken_by_first_layer_mean():
    mean = [[1.0, 0.0, 0.0]] * 30
    first = {
        "0": LayerOverride(
            weights=LawConfig(std=1.0, fan_in_scaling=True, mean_matrix=mean)
        )
    }
    config = make_ensemble(
        activation="relu", d_in=3, d_out=2, widths=[30], layers=first
    )
    points = np.array([[0.5, -0.3, 0.8], [-1.0, 0.4, 0.2], [0.1, 0.9, -0.6]])
    results = verdicts(
        config, GroupConfig(kind="SO", n=3), "input", points, orders=(2,)
    )
    assert results[2].verdict == "broken"


def test_cos_net_translation_invariant():
    bias = LawConfig(law="uniform", low=-np.pi, high=np.pi)
    config = make_ensemble(
        activation="cos",
        d_in=2,
        d_out=1,
        widths=[10],
        layers={"0": LayerOverride(biases=bias)},
    )
    points = np.array([[0.0, 0.0], [0.5, -0.2], [1.0, 0.3]])
    group = GroupConfig(kind="translations", box=[[-2, 2], [-2, 2]])
    results = verdicts(config, group, "input", points)
    assert results[2].verdict == "invariant"
    assert results[4].verdict == "invariant"


def test_relu_translation_broken():
    config = make_ensemble(activation="relu", d_in=1, d_out=1, widths=[10])
    points = np.array([[0.0], [0.5], [1.0]])
    group = GroupConfig(kind="translations", vectors=[[1.0], [-1.5]])
    results = verdicts(config, group, "input", points, orders=(2,))
    assert results[2].verdict == "broken"


def test_sixth_order_tuples_tested():
    config = make_ensemble(activation="erf", d_in=1, d_out=2, widths=[10])
    tuples = [[(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)], [(0, 0)] * 6]
    results = verdicts(
        config,
        GroupConfig(kind="SO", n=2),
        "output",
        np.array([[0.1], [0.4], [-0.3]]),
        orders=(2, 6),
        tuples=tuples,
    )
    assert results[6].verdict == "invariant"
    assert results[6].summary.entries_tested > 0
