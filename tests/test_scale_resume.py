"""Checkpoints: a run killed with SIGKILL resumes to the uninterrupted totals."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr
from scale_helpers import small_config, small_config_data, write_toml

from dualsym.cli import main
from dualsym.correlators.checkpoint import load_checkpoint
from dualsym.pipeline import Execution, check_job, run_checks

LABEL = "check0-gauss-net"


def _block_sums(path) -> dict[str, np.ndarray]:
    with xr.open_dataset(path, engine="h5netcdf") as dataset:
        return {
            name: dataset[name].values.copy()
            for name in dataset.data_vars
            if name.endswith("_block_means")
        }


def _finished_chunks(path) -> int:
    try:
        with xr.open_dataset(path, engine="h5netcdf") as dataset:
            return int(dataset.sizes["finished"])
    except (OSError, ValueError):
        return 0


def _cli(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "dualsym.cli", *args]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_resume_after_sigkill_equals_uninterrupted(tmp_path, subprocess_env):
    data = small_config_data(networks=3000, chunk_networks=5, widths=(40,))
    config_path = write_toml(data, tmp_path / "run.toml")
    out = tmp_path / "out"
    checkpoint = out / "checkpoints" / f"{LABEL}-w40.nc"

    killed = _cli(
        ["check", str(config_path), "--out", str(out), "--checkpoint-every", "20"],
        subprocess_env,
    )
    deadline = time.monotonic() + 120
    while _finished_chunks(checkpoint) == 0:
        assert killed.poll() is None, killed.communicate()[1]
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    assert killed.returncode == -signal.SIGKILL
    done_before_resume = _finished_chunks(checkpoint)
    total_chunks = len(
        check_job(small_config(**_overrides(data)), 0, 40).job.plan.chunks()
    )
    assert 0 < done_before_resume < total_chunks, "the run was not killed mid-way"

    resumed = _cli(
        ["check", str(config_path), "--out", str(out), "--resume"], subprocess_env
    )
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    assert (
        f"resumed {LABEL}-w40 at chunk {done_before_resume} of {total_chunks}" in stderr
    )
    assert not checkpoint.exists(), "checkpoints are removed after a finished run"

    uninterrupted = tmp_path / "uninterrupted"
    run = _cli(["check", str(config_path), "--out", str(uninterrupted)], subprocess_env)
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr
    expected = _block_sums(uninterrupted / f"{LABEL}-w40.nc")
    actual = _block_sums(out / f"{LABEL}-w40.nc")
    assert expected.keys() == actual.keys()
    for name, values in expected.items():
        assert np.array_equal(actual[name], values), f"{name} differs after resume"


def _overrides(data: dict) -> dict:
    run = data["run"]
    return {
        "networks": run["networks"],
        "chunk_networks": run["chunk_networks"],
        "widths": tuple(data["ensembles"][0]["widths"]),
        "seed": run["seed"],
    }


@pytest.fixture
def checkpointed_run(tmp_path):
    """A finished in-process run whose checkpoints stay in tmp_path/out/checkpoints."""
    data = small_config_data(networks=300, chunk_networks=20)
    config_path = write_toml(data, tmp_path / "run.toml")
    out = tmp_path / "out"
    run_checks(
        small_config(networks=300, chunk_networks=20),
        execution=Execution(checkpoint_dir=out / "checkpoints", checkpoint_every=3),
    )
    return config_path, out


def test_checkpoint_roundtrip_restores_totals(checkpointed_run):
    _, out = checkpointed_run
    config = small_config(networks=300, chunk_networks=20)
    job = check_job(config, 0, 8).job
    restored = load_checkpoint(
        out / "checkpoints" / f"{LABEL}-w8.nc", config, job.new_totals()
    )

    expected = job.new_totals()
    for chunk in job.plan.chunks():
        expected.add_block(chunk.block, job.chunk_partial(chunk))
    assert restored.finished == {chunk.key for chunk in job.plan.chunks()}
    for name, values in expected.state().items():
        assert np.array_equal(restored.state[name], values), name


def test_resume_rejects_other_seed(checkpointed_run, capsys):
    config_path, out = checkpointed_run

    code = main(
        ["check", str(config_path), "--out", str(out), "--resume", "--seed", "6"]
    )

    assert code == 2
    message = " ".join(capsys.readouterr().err.split())
    assert "seed 5 differs from the requested seed 6" in message
    assert "use a new --out, or delete" in message


def test_resume_rejects_other_config(checkpointed_run, capsys):
    config_path, out = checkpointed_run
    data = small_config_data(networks=300, chunk_networks=20)
    data["checks"][0]["elements"] = 3
    write_toml(data, config_path)

    code = main(["check", str(config_path), "--out", str(out), "--resume"])

    assert code == 2
    message = " ".join(capsys.readouterr().err.split())
    assert "different config" in message
    assert "checks[0].elements" in message


def test_resume_rejects_other_networks(checkpointed_run, capsys):
    config_path, out = checkpointed_run

    code = main(
        ["check", str(config_path), "--out", str(out), "--resume", "--networks", "600"]
    )

    assert code == 2
    message = " ".join(capsys.readouterr().err.split())
    assert "networks 300 differs from the requested networks 600" in message


def test_resume_without_checkpoints_starts_over(tmp_path, capsys):
    config_path = write_toml(small_config_data(), tmp_path / "run.toml")

    code = main(["check", str(config_path), "--out", str(tmp_path / "new"), "--resume"])

    assert code == 0
    assert "no checkpoints to resume" in capsys.readouterr().err


def test_leftover_checkpoints_need_resume(tmp_path, capsys):
    config_path = write_toml(small_config_data(), tmp_path / "run.toml")
    checkpoints = tmp_path / "old" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "check0-gauss-net-w8.nc").write_bytes(b"")

    code = main(["check", str(config_path), "--out", str(tmp_path / "old")])

    assert code == 2
    assert "pass --resume to continue it" in " ".join(capsys.readouterr().err.split())


def test_out_of_order_chunks_checkpoint_consistently(tmp_path, monkeypatch):
    # Dask returns chunks out of order, so one merge can release several at once.
    # Every checkpoint must list exactly the chunks its sums contain.
    import dualsym.pipeline as pipeline

    config = small_config(networks=600, chunk_networks=10)
    original = pipeline._partials

    def shuffled(config, check_index, width, job, source, chunks):
        pairs = list(original(config, check_index, width, job, source, chunks))
        order = np.random.default_rng(0).permutation(len(pairs))
        for index in order:
            yield pairs[index]

    saved = []
    real_save = pipeline.save_checkpoint

    def recording_save(path, totals, finished, config, label):
        counts = totals.counts.cpu().numpy()
        saved.append((int(counts.sum()), 10 * len(finished)))
        return real_save(path, totals, finished, config, label)

    monkeypatch.setattr(pipeline, "_partials", shuffled)
    monkeypatch.setattr(pipeline, "save_checkpoint", recording_save)
    execution = Execution(checkpoint_dir=tmp_path / "checkpoints", checkpoint_every=3)
    run_checks(config, execution=execution)
    assert len(saved) > 3
    for networks_in_sums, networks_listed in saved:
        assert networks_in_sums == networks_listed
