"""The CLI end to end: results, and every class of invalid input (exit 2, no output)."""

import json
from pathlib import Path

import pytest

from dualsym.cli import main

VALID = """
[run]
networks = 600
blocks = 30
seed = 1

[[ensembles]]
name = "net"
activation = "erf"
d_in = 2
d_out = 3
widths = [4, 16]

[[checks]]
ensemble = "net"
group = { kind = "SO", n = 3 }
acts_on = "output"
orders = [2, 4]
points = [[0.1, 0.2], [0.5, -0.4]]
elements = 2
"""


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def run_cli(tmp_path: Path, config_text: str, *extra: str) -> tuple[int, Path, Path]:
    config = write_config(tmp_path, config_text)
    out_dir = tmp_path / "out"
    json_path = tmp_path / "report.json"
    code = main(
        ["check", str(config), "--out", str(out_dir), "--json", str(json_path), *extra]
    )
    return code, out_dir, json_path


def test_check_writes_report(tmp_path):
    code, out_dir, json_path = run_cli(tmp_path, VALID)
    assert code == 0
    report = json.loads(json_path.read_text())
    results = report["results"]
    assert len(results) == 4  # 2 widths x 2 orders
    required = {
        "name",
        "width",
        "group",
        "acts_on",
        "order",
        "verdict",
        "p_value",
        "max_abs_z",
        "relative_deviation",
        "relative_deviation_error",
        "resolution",
        "networks",
    }
    for result in results:
        assert required <= set(result)
        assert result["verdict"] in ("invariant", "broken")
        assert result["name"] == "net"
    assert {r["width"] for r in results} == {4, 16}
    assert (out_dir / "report.json").exists()
    assert (out_dir / "check0-net-w4.nc").exists()
    assert (out_dir / "check0-net-widths.png").exists()


def test_overrides_apply(tmp_path):
    code, _, json_path = run_cli(tmp_path, VALID, "--networks", "900", "--seed", "5")
    assert code == 0
    report = json.loads(json_path.read_text())
    assert report["run"]["seed"] == 5
    assert all(result["networks"] == 900 for result in report["results"])


BAD_CONFIGS = {
    "unknown activation": (VALID.replace('"erf"', '"sigmoid"'), "unknown activation"),
    "width zero": (VALID.replace("[4, 16]", "[4, 0]"), "positive integer"),
    "nan std": (
        VALID.replace("d_out = 3", "d_out = 3\nweights = { std = nan }"),
        "finite",
    ),
    "points dimension": (VALID.replace("[0.5, -0.4]", "[0.5, -0.4, 1.0]"), "d_in=2"),
    "group dimension": (VALID.replace("n = 3 }", "n = 4 }"), "dimension 4"),
    "too few networks": (
        VALID.replace("networks = 600", "networks = 100"),
        "too few for error bars",
    ),
    "unknown key": (VALID.replace("seed = 1", "seed = 1\nsamples = 5"), "samples"),
    "not toml": ("[run\nnetworks = ", "not valid TOML"),
    "missing ensemble": (
        VALID.replace('ensemble = "net"', 'ensemble = "other"'),
        "no ensemble named 'other'",
    ),
    "translations on outputs": (
        VALID.replace(
            '{ kind = "SO", n = 3 }', '{ kind = "translations", box = [[0, 1]] }'
        ),
        "inputs only",
    ),
    "memory budget": (
        VALID.replace("seed = 1", "seed = 1\nmemory_budget_mb = 0.01"),
        "budget",
    ),
    "overflow": (
        VALID.replace('"erf"', '"relu"').replace(
            "d_out = 3", "d_out = 3\nhidden_layers = 4\nweights = { std = 1e12 }"
        ),
        "non-finite outputs",
    ),
    "divergent gauss normalization": (
        VALID.replace('"erf"', '"gauss"').replace(
            "d_out = 3", 'd_out = 3\nweights = { law = "laplace", scale = 2.0 }'
        ),
        "non-finite outputs",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_exits_2(tmp_path, capsys, case):
    text, message = BAD_CONFIGS[case]
    code, out_dir, json_path = run_cli(tmp_path, text)
    error = capsys.readouterr().err
    assert code == 2
    assert message in " ".join(error.split())
    assert not out_dir.exists()
    assert not json_path.exists()


def test_missing_config_exits_2(tmp_path, capsys):
    code = main(["check", str(tmp_path / "nope.toml")])
    assert code == 2
    assert "cannot read config" in capsys.readouterr().err


def test_bad_option_exits_2(tmp_path):
    config = write_config(tmp_path, VALID)
    assert main(["check", str(config), "--networks", "many"]) == 2


def test_inspect_reads_result(tmp_path, capsys):
    code, out_dir, _ = run_cli(tmp_path, VALID)
    assert code == 0
    assert main(["inspect", str(out_dir / "check0-net-w4.nc")]) == 0
    assert "G4" in capsys.readouterr().out


def test_inspect_unreadable_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.nc"
    bad.write_bytes(b"\x89HDF garbage")
    assert main(["inspect", str(bad)]) == 2
    assert "cannot read result file" in capsys.readouterr().err


def test_override_errors_exit_2(tmp_path, capsys):
    config = write_config(tmp_path, VALID)
    for option in (
        ["--networks", "0"],
        ["--networks", "100"],
        ["--seed", "-1"],
        ["--device", "tpu"],
    ):
        assert main(["check", str(config), *option]) == 2
        assert "--networks/--seed/--device" in capsys.readouterr().err


def test_unwritable_outputs_rejected_first(tmp_path, capsys):
    config = write_config(tmp_path, VALID)
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    json_path = tmp_path / "j.json"
    assert (
        main(["check", str(config), "--out", str(blocker), "--json", str(json_path)])
        == 2
    )
    assert "not a directory" in capsys.readouterr().err
    assert not json_path.exists()
    assert (
        main(
            [
                "check",
                str(config),
                "--out",
                str(tmp_path / "o"),
                "--json",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert not (tmp_path / "o").exists()


def test_brackets_survive_in_messages(tmp_path, capsys):
    text = VALID.replace("orders = [2, 4]", "orders = [2, 5]")
    code, _, _ = run_cli(tmp_path, text)
    assert code == 2
    assert "[point, output]" in capsys.readouterr().err


def test_published_files_readable(tmp_path):
    code, out_dir, json_path = run_cli(tmp_path, VALID)
    assert code == 0
    for path in [json_path, *out_dir.iterdir()]:
        assert path.stat().st_mode & 0o044 == 0o044, path
    assert not list(tmp_path.glob(".out.*"))
