import numpy as np
import pytest
from conftest import make_ensemble
from scipy import stats

from dualsym.config import LawConfig, RunConfig
from dualsym.correlators import estimate_correlators, load_correlators
from dualsym.ensemble import Ensemble
from dualsym.errors import ResultFileError
from dualsym.theory import linear_network_connected_4pt, site_covariance, wick_moments

# Bonferroni level for comparisons with exact values: a correct implementation fails
# one of these tests with probability below FAMILY_ALPHA (and never, for fixed seeds).
FAMILY_ALPHA = 1e-3


def max_z(estimate_mean, standard_error, expected):
    return float(np.max(np.abs((estimate_mean - expected) / standard_error)))


def critical_z(entries: int, blocks: int) -> float:
    return float(stats.t.isf(FAMILY_ALPHA / (2 * entries), blocks - 1))


@pytest.mark.parametrize("activation", ["gauss", "erf", "relu"])
@pytest.mark.parametrize("width", [2, 10, 200])
def test_two_point_equals_nngp_kernel(activation, width, points_2d):
    config = make_ensemble(activation=activation, widths=[width])
    ensemble = Ensemble(config, width)
    run = RunConfig(networks=20_000, seed=width)
    correlators = estimate_correlators(ensemble, points_2d, [2], run)
    estimate = correlators.orders[2]
    covariance = site_covariance(config, points_2d, width)
    expected = covariance[estimate.entries[:, 0], estimate.entries[:, 1]]
    # Within 4 sigma, as every width has the same exact 2-pt function.
    assert max_z(estimate.mean, estimate.standard_error, expected) < 4.0


def test_gauss_kernel_closed_form():
    config = make_ensemble(activation="gauss", d_in=1, d_out=1)
    x = np.array([[-0.7], [0.1], [0.9]])
    kernel = site_covariance(config, x, 50)
    expected = 1.0 + np.exp(-((x - x.T) ** 2) / 2.0)
    assert np.allclose(kernel, expected)


def test_single_linear_layer_four_point_is_wick(points_2d):
    config = make_ensemble(activation="linear", hidden_layers=0, d_out=2)
    ensemble = Ensemble(config)
    run = RunConfig(networks=40_000, seed=3)
    estimate = estimate_correlators(ensemble, points_2d, [4], run).orders[4]
    expected = wick_moments(site_covariance(config, points_2d), estimate.entries)
    bound = critical_z(len(expected), estimate.blocks)
    assert max_z(estimate.mean, estimate.standard_error, expected) < bound


def test_linear_network_four_point_has_width_correction(points_2d):
    width = 3
    config = make_ensemble(activation="linear", widths=[width])
    ensemble = Ensemble(config, width)
    run = RunConfig(networks=100_000, seed=4)
    estimate = estimate_correlators(ensemble, points_2d, [4], run).orders[4]
    wick = wick_moments(site_covariance(config, points_2d, width), estimate.entries)
    connected = linear_network_connected_4pt(config, points_2d, width, estimate.entries)
    bound = critical_z(len(wick), estimate.blocks)
    assert max_z(estimate.mean, estimate.standard_error, wick + connected) < bound
    # The Wick term alone misses the 1/width part, and the sample size resolves it.
    assert max_z(estimate.mean, estimate.standard_error, wick) > 2 * bound


def test_connected_four_point_matches_cumulant(points_2d):
    width = 3
    config = make_ensemble(activation="linear", widths=[width])
    ensemble = Ensemble(config, width)
    run = RunConfig(networks=100_000, seed=5)
    correlators = estimate_correlators(ensemble, points_2d, [1, 2, 3, 4], run)
    connected = correlators.connected(4)
    expected = linear_network_connected_4pt(config, points_2d, width, connected.entries)
    bound = critical_z(len(expected), correlators.blocks)
    assert not connected.assumes_zero_mean
    assert max_z(connected.mean, connected.standard_error, expected) < bound


def test_batch_size_does_not_change_result(points_2d):
    config = make_ensemble(activation="erf", widths=[30])
    ensemble = Ensemble(config, 30)
    small = RunConfig(networks=1_200, chunk_networks=30, batch_networks=7)
    large = RunConfig(networks=1_200, chunk_networks=30)
    first = estimate_correlators(ensemble, points_2d, [2, 4], small)
    second = estimate_correlators(ensemble, points_2d, [2, 4], large)
    for order in (2, 4):
        assert np.allclose(
            first.orders[order].block_means,
            second.orders[order].block_means,
            rtol=1e-12,
            atol=0,
        )


def test_seed_changes_result(points_2d):
    ensemble = Ensemble(make_ensemble(), 20)
    first = estimate_correlators(
        ensemble, points_2d, [2], RunConfig(networks=400, seed=1)
    )
    second = estimate_correlators(
        ensemble, points_2d, [2], RunConfig(networks=400, seed=2)
    )
    assert not np.allclose(first.orders[2].mean, second.orders[2].mean)


def test_higher_orders_on_tuples(points_2d):
    config = make_ensemble(activation="linear", hidden_layers=0)
    ensemble = Ensemble(config)
    tuples = [
        [(0, 0)] * 6,
        [(0, 0), (1, 0), (2, 0), (0, 0), (1, 1), (1, 1)],
        [(0, 1), (1, 1), (2, 0), (2, 0), (0, 0)],
    ]
    run = RunConfig(networks=60_000, seed=6)
    correlators = estimate_correlators(ensemble, points_2d, [5, 6], run, tuples)
    covariance = site_covariance(config, points_2d)
    for order in (5, 6):
        estimate = correlators.orders[order]
        expected = wick_moments(covariance, estimate.entries)
        bound = critical_z(len(expected), estimate.blocks)
        se = np.where(estimate.standard_error > 0, estimate.standard_error, 1.0)
        assert max_z(estimate.mean, se, expected) < bound


def test_dense_tensor_symmetric_and_labeled(points_2d):
    ensemble = Ensemble(make_ensemble(), 20)
    correlators = estimate_correlators(
        ensemble, points_2d, [4], RunConfig(networks=400)
    )
    dense = correlators.dense(4)
    assert dense.dims == (
        "point_1",
        "out_1",
        "point_2",
        "out_2",
        "point_3",
        "out_3",
        "point_4",
        "out_4",
    )
    swapped = dense.transpose(
        "point_3", "out_3", "point_2", "out_2", "point_1", "out_1", "point_4", "out_4"
    )
    assert np.array_equal(dense.values, swapped.values)
    value, _ = correlators.value([(0, 1), (2, 0), (0, 1), (1, 1)])
    assert value == dense.values[0, 1, 2, 0, 0, 1, 1, 1]


def test_netcdf_roundtrip(tmp_path, points_2d):
    ensemble = Ensemble(make_ensemble(), 20)
    correlators = estimate_correlators(
        ensemble, points_2d, [2, 4], RunConfig(networks=400)
    )
    path = correlators.save(tmp_path / "g.nc")
    loaded = load_correlators(path)
    for order in (2, 4):
        assert np.array_equal(
            loaded.orders[order].block_means, correlators.orders[order].block_means
        )
    assert loaded.width == 20
    assert loaded.networks == correlators.networks
    dataset = correlators.to_dataset()
    assert "G4_connected" in dataset
    assert dataset.attrs["format"] == "dualsym-correlators-1"
    assert list(tmp_path.iterdir()) == [path]


def test_unreadable_result_file(tmp_path):
    bad = tmp_path / "bad.nc"
    bad.write_text("not a netcdf file")
    with pytest.raises(ResultFileError, match="cannot read result file"):
        load_correlators(bad)
    with pytest.raises(ResultFileError, match="not found"):
        load_correlators(tmp_path / "missing.nc")


def test_non_gaussian_laws_sample_their_moments():
    laws = {
        "uniform": (LawConfig(law="uniform", low=-1.0, high=3.0), 1.0, 4.0 / 3.0),
        "laplace": (LawConfig(law="laplace", mean=0.5, scale=2.0), 0.5, 8.0),
        "constant": (LawConfig(law="constant", value=0.25), 0.25, 0.0),
    }
    for name, (law, mean, variance) in laws.items():
        config = make_ensemble(
            activation="linear",
            hidden_layers=0,
            d_in=1,
            d_out=1,
            weights=law,
            biases=None,
            output_bias=False,
        )
        ensemble = Ensemble(config)
        from dualsym.ensemble import chunk_generator

        weights = ensemble.sample(200_000, chunk_generator(0, (1,), "cpu"))["W0"]
        assert abs(float(weights.mean()) - mean) < 0.03, name
        assert abs(float(weights.var()) - variance) < 0.05 * max(variance, 1), name
