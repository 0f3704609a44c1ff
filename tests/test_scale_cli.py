"""Invalid combinations of the scale options exit with code 2 before any work."""

from __future__ import annotations

import pytest
from scale_helpers import small_config_data, write_toml

from dualsym.cli import main


@pytest.fixture
def config_path(tmp_path):
    return write_toml(small_config_data(), tmp_path / "run.toml")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--workers", "0"], "--workers must be at least 1, got 0"),
        (["--workers", "-3"], "--workers must be at least 1, got -3"),
        (
            ["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"],
            "either --workers",
        ),
        (["--resume"], "--resume needs --out DIR"),
        (["--checkpoint-every", "5"], "--checkpoint-every needs --out DIR"),
        (
            ["--checkpoint-every", "0", "--out", "OUT"],
            "--checkpoint-every must be at least 1 chunk, got 0",
        ),
    ],
)
@pytest.mark.parametrize("command", ["check", "demo"])
def test_invalid_scale_options_exit_2(
    command, options, message, config_path, tmp_path, capsys
):
    options = [str(tmp_path / "out") if item == "OUT" else item for item in options]
    arguments = [command, str(config_path)] if command == "check" else [command]

    code = main([*arguments, *options])

    assert code == 2
    assert message in " ".join(capsys.readouterr().err.split())


def test_help_documents_scale_options(capsys):
    assert main(["check", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--workers", "--scheduler", "--resume", "--checkpoint-every"):
        assert option in text
    assert "float64" in text
