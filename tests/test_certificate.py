import numpy as np
from conftest import make_ensemble, readout_mean_rows

from dualsym.config import GroupConfig, LawConfig, LayerOverride
from dualsym.symmetry import certify, orthogonal_stabilizer


def test_gaussian_readout_certified():
    config = make_ensemble(d_out=5)
    certificate = certify(config, GroupConfig(kind="SO", n=5), "output")
    assert certificate.certified
    assert certificate.stabilizer == "O(5)"


def test_readout_mean_not_certified():
    config = make_ensemble(d_out=10, layers=readout_mean_rows(3, 0.1))
    certificate = certify(config, GroupConfig(kind="O", n=10), "output")
    assert certificate.status == "not certified"
    assert "mean" in certificate.reason
    assert certificate.stabilizer == "O(9)"


def test_uniform_readout_certified_for_permutations_only():
    uniform = LawConfig(law="uniform", low=-1.0, high=1.0)
    config = make_ensemble(d_out=3, layers={"readout": LayerOverride(weights=uniform)})
    assert certify(
        config, GroupConfig(kind="signed_permutations", n=3), "output"
    ).certified
    rotation = certify(config, GroupConfig(kind="SO", n=3), "output")
    assert not rotation.certified
    assert "Gaussian" in rotation.reason


def test_cos_translation_needs_whole_periods():
    whole = LawConfig(law="uniform", low=-np.pi, high=np.pi)
    half = LawConfig(law="uniform", low=0.0, high=np.pi)
    group = GroupConfig(kind="translations", box=[[-1, 1]])
    for bias, expected in ((whole, True), (half, False)):
        config = make_ensemble(
            activation="cos", d_in=1, d_out=1, layers={"0": LayerOverride(biases=bias)}
        )
        assert certify(config, group, "input").certified is expected
    relu = make_ensemble(activation="relu", d_in=1, d_out=1)
    assert not certify(relu, group, "input").certified


def test_stabilizer_of_vectors():
    assert orthogonal_stabilizer(np.zeros((4, 1))).name == "O(4)"
    assert orthogonal_stabilizer(np.eye(4)[:, :2]).name == "O(2)"
    stabilizer = orthogonal_stabilizer(np.ones((10, 1)))
    assert stabilizer.fixed_rank == 1
    assert np.allclose(stabilizer.basis.T @ np.ones(10), 0)
    assert orthogonal_stabilizer(np.eye(3)).name == "trivial"


def test_stabilizer_of_non_gaussian_law():
    uniform = LawConfig(law="uniform", low=-1.0, high=1.0)
    config = make_ensemble(d_out=3, layers={"readout": LayerOverride(weights=uniform)})
    certificate = certify(config, GroupConfig(kind="SO", n=3), "output")
    assert certificate.stabilizer == "B_3"
    shifted = LawConfig(law="laplace", scale=1.0, mean_rows={"k": 2, "value": 0.5})
    config = make_ensemble(
        d_out=5, output_bias=False, layers={"readout": LayerOverride(weights=shifted)}
    )
    certificate = certify(config, GroupConfig(kind="SO", n=5), "output")
    assert certificate.stabilizer == "B_3 x S_2"
