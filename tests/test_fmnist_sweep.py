"""Sweep storage and resume: interrupted sweeps finish with the same results."""

import json

import numpy as np
import pytest
import xarray as xr

from dualsym.errors import InputError
from dualsym.training.data import DEFAULT_DATA_DIR, load_fashion_mnist
from dualsym.training.fmnist import (
    RunStore,
    build_sweep_config,
    plan_sweep,
    requested_results,
    run_sweep,
)


class Interrupt(Exception):
    pass


@pytest.fixture(scope="module")
def small_data():
    return load_fashion_mnist(DEFAULT_DATA_DIR, train_limit=256, test_limit=128)


def small_config(**changes):
    options = {"k": [0, 10], "mu": [0.0, 0.1], "runs": 2, "epochs": 2}
    options.update(changes)
    return build_sweep_config(
        ["one-hot", "one-cold"],
        dtype="float64",
        train_limit=256,
        test_limit=128,
        **options,
    )


def sweep(folder, data, batch_runs, resume=False, stop_after=None, config=None):
    """Run a sweep and return (results or None, run keys trained by this call)."""
    config = config or small_config()
    store = RunStore(folder, config, resume)
    plan = plan_sweep(config, store, batch_runs)
    trained = []

    def on_batch_stored(keys, path):
        trained.extend(keys)
        if stop_after is not None and len(trained) >= stop_after:
            raise Interrupt

    try:
        results = run_sweep(config, data, store, plan, on_batch_stored=on_batch_stored)
    except Interrupt:
        return None, trained
    return results, trained


def test_resume_finishes_without_retraining(tmp_path, small_data):
    reference, trained_once = sweep(tmp_path / "whole", small_data, batch_runs=16)
    assert len(trained_once) == 16

    _, first = sweep(tmp_path / "split", small_data, batch_runs=3, stop_after=5)
    assert len(first) == 6  # two batches of 3 were stored before the interrupt
    resumed, second = sweep(tmp_path / "split", small_data, batch_runs=3, resume=True)

    first_ids = {key.identity() for key in first}
    second_ids = {key.identity() for key in second}
    assert len(second) == 10
    assert not first_ids & second_ids
    assert resumed.sizes["record"] == 16
    for name in ("train_loss", "test_loss", "test_accuracy"):
        assert np.allclose(resumed[name].values, reference[name].values, rtol=1e-9)
    assert np.array_equal(resumed["k"].values, reference["k"].values)
    assert np.array_equal(resumed["targets"].values, reference["targets"].values)


def test_resume_of_finished_sweep_trains_nothing(tmp_path, small_data):
    sweep(tmp_path, small_data, batch_runs=8)
    files = sorted(path.name for path in (tmp_path / "runs").iterdir())

    results, trained = sweep(tmp_path, small_data, batch_runs=8, resume=True)

    assert trained == []
    assert results.sizes["record"] == 16
    assert sorted(path.name for path in (tmp_path / "runs").iterdir()) == files


def test_stored_files_describe_protocol(tmp_path, small_data):
    config = small_config()
    sweep(tmp_path, small_data, batch_runs=8, config=config)
    files = sorted((tmp_path / "runs").glob("*.nc"))

    assert len(files) == 2
    assert not list((tmp_path / "runs").glob("*.tmp"))
    with xr.open_dataset(files[0], engine="h5netcdf") as stored:
        protocol = json.loads(stored.attrs["protocol"])
        assert stored["test_accuracy"].shape == (8, 2)
    assert protocol["epochs"] == 2
    assert protocol["learning_rate"] == 1e-3
    assert protocol["lr_decay"] == 0.7
    assert protocol["batch_size"] == 64
    assert json.loads((tmp_path / "protocol.json").read_text()) == protocol


def test_resume_rejects_other_protocol(tmp_path, small_data):
    sweep(tmp_path, small_data, batch_runs=16)

    with pytest.raises(InputError) as error:
        RunStore(tmp_path, small_config(epochs=3), resume=True)
    assert "epochs: stored 2, requested 3" in str(error.value)
    with pytest.raises(InputError, match="grids"):
        RunStore(tmp_path, small_config(runs=3), resume=True)


def test_non_empty_folder_needs_resume(tmp_path):
    (tmp_path / "notes.txt").write_text("unrelated")

    with pytest.raises(InputError, match="pass --resume"):
        RunStore(tmp_path, small_config(), resume=False)
    with pytest.raises(InputError, match="not a dualsym fmnist output folder"):
        RunStore(tmp_path, small_config(), resume=True)


def test_missing_runs_are_reported(tmp_path, small_data):
    sweep(tmp_path, small_data, batch_runs=4, stop_after=1)
    store = RunStore(tmp_path, small_config(), resume=True)

    with pytest.raises(InputError, match="12 runs of the grid are not stored"):
        requested_results(small_config(), store)
    assert plan_sweep(small_config(), store, batch_runs=5).pending == 12


def test_grid_values_are_checked():
    with pytest.raises(InputError, match="between 0 and 10"):
        build_sweep_config(["one-hot"], k=[11])
    with pytest.raises(InputError, match="lists a value twice"):
        build_sweep_config(["one-hot"], mu=[0.1, 0.1])
    with pytest.raises(InputError, match="runs"):
        build_sweep_config(["one-hot"], runs=0)


def test_reference_and_quick_grids():
    reference = build_sweep_config(["one-hot", "one-cold"])
    quick = build_sweep_config(["one-hot", "one-cold"], quick=True)

    assert reference.grids["one-hot"].k == [0, 2, 4, 6, 8, 10]
    assert len(reference.grids["one-hot"].mu) == 21
    assert reference.grids["one-hot"].mu[-1] == pytest.approx(0.2)
    assert reference.grids["one-hot"].runs == 10
    assert reference.grids["one-cold"].k == [10]
    assert reference.grids["one-cold"].runs == 20
    assert reference.epochs == 20
    assert len(reference.run_keys()) == 6 * 21 * 10 + 21 * 20
    assert quick.epochs == 3
    assert len(quick.run_keys()) == 2 * 3 * 3 * 2
