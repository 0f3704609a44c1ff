import math

import numpy as np
import pytest
from scipy import linalg, stats

from dualsym.config import GroupConfig
from dualsym.groups import make_group


def haar(kind: str, n: int, count: int, seed: int = 0) -> np.ndarray:
    group = make_group(GroupConfig(kind=kind, n=n))
    return group.sample(count, np.random.default_rng(seed))


def test_so2_angles_uniform():
    rotations = haar("SO", 2, 4000)
    angles = np.arctan2(rotations[:, 1, 0], rotations[:, 0, 0])
    result = stats.kstest(angles, stats.uniform(loc=-math.pi, scale=2 * math.pi).cdf)
    assert result.pvalue > 1e-3


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_so_trace_moments(n):
    rotations = haar("SO", n, 20000, seed=n)
    traces = np.trace(rotations, axis1=1, axis2=2)
    error = traces.std() / math.sqrt(len(traces))
    assert abs(traces.mean()) < 4 * error
    # E (tr R)^2 counts invariants of V x V: 1 for n >= 3, but 2 for SO(2), where the
    # antisymmetric form epsilon_ij is invariant too.
    expected = 2.0 if n == 2 else 1.0
    square_error = (traces**2).std() / math.sqrt(len(traces))
    assert abs((traces**2).mean() - expected) < 4 * square_error


@pytest.mark.parametrize("n", [2, 3, 5])
def test_so_elements_are_rotations(n):
    rotations = haar("SO", n, 50)
    identity = np.broadcast_to(np.eye(n), rotations.shape)
    assert np.allclose(rotations @ rotations.transpose(0, 2, 1), identity)
    assert np.allclose(np.linalg.det(rotations), 1.0)


@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_o_determinant_signs_balanced(n):
    matrices = haar("O", n, 4000, seed=10 + n)
    determinants = np.linalg.det(matrices)
    assert np.allclose(np.abs(determinants), 1.0)
    positives = int((determinants > 0).sum())
    assert stats.binomtest(positives, len(determinants), 0.5).pvalue > 1e-3


@pytest.mark.parametrize("n", [2, 3, 4])
def test_lie_algebra_flows_stay_in_so(n):
    group = make_group(GroupConfig(kind="SO", n=n))
    assert len(group.lie_algebra) == n * (n - 1) // 2
    for generator in group.lie_algebra:
        assert np.allclose(generator, -generator.T)
        flow = linalg.expm(0.3 * generator)
        assert np.allclose(flow @ flow.T, np.eye(n))
        assert np.isclose(np.linalg.det(flow), 1.0)


@pytest.mark.parametrize(
    "config, size",
    [
        (GroupConfig(kind="permutations", n=4), 24),
        (GroupConfig(kind="signed_permutations", n=3), 48),
        (GroupConfig(kind="cyclic", order=6), 6),
        (GroupConfig(kind="dihedral", order=5), 10),
    ],
)
def test_finite_group_closed(config, size):
    group = make_group(config)
    elements = group.elements
    assert len(elements) == size
    keys = {tuple(np.round(g, 9).ravel()) for g in elements}
    assert len(keys) == size
    for g in elements[:8]:
        for h in elements[:8]:
            assert tuple(np.round(g @ h, 9).ravel()) in keys
    assert not group.continuous


def test_finite_group_tests_every_element():
    group = make_group(GroupConfig(kind="cyclic", order=4))
    chosen = group.elements_to_test(10, np.random.default_rng(0))
    assert len(chosen) == 3
    assert not any(np.allclose(g, np.eye(2)) for g in chosen)


def test_translations_from_box():
    group = make_group(GroupConfig(kind="translations", box=[[-1, 1], [2, 3]]))
    shifts = group.sample(500, np.random.default_rng(1))
    assert shifts.shape == (500, 2)
    assert shifts[:, 0].min() >= -1
    assert shifts[:, 0].max() <= 1
    assert shifts[:, 1].min() >= 2
    assert shifts[:, 1].max() <= 3
    assert group.translation
    assert np.allclose(group.lie_algebra, np.eye(2))


def test_translations_from_vectors():
    group = make_group(GroupConfig(kind="translations", vectors=[[0.5], [1.5]]))
    assert np.allclose(
        group.elements_to_test(2, np.random.default_rng(0)), [[0.5], [1.5]]
    )


def test_singular_matrix_rejected():
    from dualsym.errors import InputError

    with pytest.raises(InputError, match="singular"):
        make_group(GroupConfig(kind="matrices", matrices=[[[1, 0], [0, 0]]]))
