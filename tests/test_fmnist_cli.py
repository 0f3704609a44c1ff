"""`dualsym fmnist` end to end on a data subset, and its input errors (exit 2)."""

import json

import pytest
import torch

from dualsym.cli import main

TINY = [
    "fmnist",
    "--k",
    "0,10",
    "--mu",
    "0:0.2:0.2",
    "--runs",
    "2",
    "--epochs",
    "2",
    "--train-limit",
    "512",
    "--test-limit",
    "256",
]


def test_tiny_sweep_writes_summary_and_figures(tmp_path, capsys):
    out = tmp_path / "sweep"

    assert main([*TINY, "--out", str(out), "--batch-runs", "5"]) == 0

    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs"] == 16
    assert len(summary["cells"]) == 8
    assert {cell["residual_symmetry"] for cell in summary["cells"]} == {"O(10)", "O(9)"}
    assert [s["targets"] for s in summary["statements"]] == ["one-cold", "one-hot"]
    for statement in summary["statements"]:
        assert statement["verdict"]
        assert "comparison" in statement
    for name in (
        "heatmap_one-hot.png",
        "heatmap_one-cold.png",
        "one-cold_accuracy_vs_mu.png",
        "accuracy_vs_breaking.png",
    ):
        assert name in summary["figures"]
        assert (out / name).stat().st_size > 10_000
    assert "Claim: breaking along the targets helps" in capsys.readouterr().out

    stored = sorted((out / "runs").iterdir())
    assert main([*TINY, "--out", str(out), "--resume"]) == 0
    assert sorted((out / "runs").iterdir()) == stored
    assert json.loads((out / "summary.json").read_text())["cells"] == summary["cells"]


def error_output(capsys) -> str:
    """Return stderr with Rich's line wrapping undone."""
    return " ".join(capsys.readouterr().err.split())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--k", "0,11"], "between 0 and 10"),
        (["--k", "zero"], "invalid --k value 'zero'"),
        (["--mu", "0:0.2"], "use start:stop:step"),
        (["--mu", "0.2:0:0.1"], "stop >= start"),
        (["--mu", "nan"], "must be finite"),
        (["--mu", "0.1,x"], "invalid --mu value 'x'"),
        (["--targets", "one-warm"], "invalid --targets 'one-warm'"),
        (["--runs", "0"], "runs"),
        (["--epochs", "0"], "epochs"),
        (["--batch-runs", "0"], "--batch-runs must be a positive integer"),
        (["--device", "toaster"], "unknown device 'toaster'"),
        (["--data", "/nonexistent/fmnist"], "apt-get install dataset-fashion-mnist"),
        (["--train-limit", "0"], "invalid --train-limit"),
    ],
)
def test_invalid_input_exits_2(tmp_path, capsys, arguments, message):
    code = main(["fmnist", "--quick", "--out", str(tmp_path / "out"), *arguments])

    assert code == 2
    assert message in error_output(capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA exists, so it is valid")
def test_cuda_without_gpu_exits_2(tmp_path, capsys):
    code = main(["fmnist", "--quick", "--out", str(tmp_path), "--device", "cuda"])

    assert code == 2
    assert "CUDA is not available" in error_output(capsys)


def test_existing_output_needs_resume(tmp_path, capsys):
    (tmp_path / "old.txt").write_text("x")

    code = main([*TINY, "--out", str(tmp_path)])

    assert code == 2
    assert "pass --resume" in error_output(capsys)


def test_resume_with_other_protocol_exits_2(tmp_path, capsys):
    assert main([*TINY, "--out", str(tmp_path), "--targets", "one-hot"]) == 0

    code = main([*TINY, "--out", str(tmp_path), "--targets", "one-hot", "--seed", "1"])
    assert code == 2
    code = main(
        [
            *TINY,
            "--out",
            str(tmp_path),
            "--targets",
            "one-hot",
            "--seed",
            "1",
            "--resume",
        ]
    )
    assert code == 2
    assert "seed: stored 0, requested 1" in error_output(capsys)


def test_rejected_batch_runs_writes_nothing(tmp_path):
    out = tmp_path / "sweep"
    assert main(["fmnist", "--quick", "--out", str(out), "--batch-runs", "0"]) == 2
    assert not out.exists()
