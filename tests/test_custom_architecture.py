import numpy as np
import torch
from conftest import make_ensemble

from dualsym.config import GroupConfig, RunConfig
from dualsym.ensemble import Ensemble, chunk_generator
from dualsym.groups import make_group
from dualsym.symmetry import certify
from dualsym.symmetry import test_invariance as invariance_test

PATH = "dualsym.examples.custom_architecture:build"


def test_vmapped_forward_matches_loop():
    config = make_ensemble(architecture=PATH, d_in=2, d_out=3, widths=[7])
    ensemble = Ensemble(config, 7)
    params = ensemble.sample(5, chunk_generator(0, (0,), "cpu"))
    x = torch.randn(4, 2, dtype=torch.float64)
    batched = ensemble.forward(params, x)
    for index in range(5):
        single = {name: tensor[index] for name, tensor in params.items()}
        hidden = torch.tanh(x @ single["W"].T + single["b"])
        expected = hidden @ single["V"].T + x @ single["U"].T
        assert torch.allclose(batched[index], expected)


def test_custom_architecture_output_invariance():
    config = make_ensemble(architecture=PATH, d_in=2, d_out=3, widths=[7])
    ensemble = Ensemble(config, 7)
    results = invariance_test(
        ensemble,
        np.array([[0.2, 0.1], [-0.5, 0.3]]),
        make_group(GroupConfig(kind="SO", n=3)),
        "output",
        [2],
        run=RunConfig(networks=3000),
    )
    assert results[0].verdict == "invariant"
    assert not certify(config, GroupConfig(kind="SO", n=3), "output").certified


def test_unknown_architecture_path():
    import pytest

    from dualsym.errors import InputError

    config = make_ensemble(architecture="no_such_module:build")
    with pytest.raises(InputError, match="cannot import architecture"):
        Ensemble(config, 7)


def test_failing_architecture_function():
    from dualsym.errors import InputError
    import pytest

    config = make_ensemble(architecture="os:getcwd")
    with pytest.raises(InputError, match="failed for width 20"):
        Ensemble(config, 20)
