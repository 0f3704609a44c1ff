"""False-alarm rate of invariance verdicts on ensembles that are exactly invariant."""

import numpy as np
import pytest
from conftest import make_ensemble

from dualsym.config import GroupConfig, RunConfig
from dualsym.ensemble import Ensemble
from dualsym.groups import make_group
from dualsym.symmetry import test_invariance as invariance_test

ALPHA = 0.05
SEEDS = 200


def false_alarms(config, group, acts_on, points, orders, networks):
    ensemble = Ensemble(config, config.widths[0])
    alarms = {order: 0 for order in orders}
    for seed in range(SEEDS):
        run = RunConfig(networks=networks, seed=seed, alpha=ALPHA, blocks=30)
        results = invariance_test(
            ensemble,
            points,
            make_group(group),
            acts_on,
            list(orders),
            elements=3,
            run=run,
        )
        for result in results:
            alarms[result.order] += result.verdict == "broken"
    return alarms


@pytest.mark.slow
def test_output_rotation_false_alarms_at_most_2_alpha():
    # Zero-mean Gaussian readout: the density is exactly SO(3) invariant.
    config = make_ensemble(activation="relu", d_in=1, d_out=3, widths=[4])
    points = np.array([[0.2], [-0.7]])
    alarms = false_alarms(
        config, GroupConfig(kind="SO", n=3), "output", points, (2, 4), networks=900
    )
    for order, count in alarms.items():
        assert count <= 2 * ALPHA * SEEDS, f"order {order}: {count} alarms"


@pytest.mark.slow
def test_input_rotation_false_alarms_at_most_2_alpha():
    config = make_ensemble(activation="erf", d_in=2, d_out=1, widths=[4])
    points = np.array([[0.5, -0.3], [-1.0, 0.4]])
    alarms = false_alarms(
        config, GroupConfig(kind="SO", n=2), "input", points, (2, 4), networks=900
    )
    for order, count in alarms.items():
        assert count <= 2 * ALPHA * SEEDS, f"order {order}: {count} alarms"
