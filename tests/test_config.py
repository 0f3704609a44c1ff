import pytest

from dualsym.config import parse_config
from dualsym.errors import InputError


def base(**run):
    return {
        "run": {"networks": 600, "blocks": 30, **run},
        "ensembles": [{"name": "a", "d_in": 1, "d_out": 2}],
        "checks": [
            {
                "ensemble": "a",
                "group": {"kind": "SO", "n": 2},
                "acts_on": "output",
                "linspace": {"start": 0, "stop": 1, "num": 3},
            }
        ],
    }


def test_defaults_fill_in():
    config = parse_config(base())
    assert config.run.alpha == 0.01
    assert config.checks[0].orders == [2, 4]
    assert config.checks[0].point_array() == [[0.0], [0.5], [1.0]]


def test_error_names_key_and_value():
    data = base()
    data["ensembles"][0]["widths"] = [10, -3]
    with pytest.raises(InputError) as error:
        parse_config(data, "my.toml")
    message = str(error.value)
    assert "my.toml" in message
    assert "ensembles[0].widths" in message
    assert "-3" in message


def test_blocks_below_30_rejected():
    with pytest.raises(InputError, match="greater than or equal to 30"):
        parse_config(base(blocks=10))


def test_order_five_needs_tuples():
    data = base()
    data["checks"][0]["orders"] = [2, 5]
    with pytest.raises(InputError, match="add `tuples`"):
        parse_config(data)


def test_tuple_site_out_of_range():
    data = base()
    data["checks"][0]["orders"] = [5]
    data["checks"][0]["tuples"] = [[[0, 0], [0, 1], [1, 0], [1, 1], [2, 2]]]
    with pytest.raises(InputError, match="output index 2 is out of range"):
        parse_config(data)


def test_mean_rows_larger_than_tensor():
    from dualsym.ensemble import Ensemble

    data = base()
    data["ensembles"][0]["layers"] = {
        "readout": {"weights": {"mean_rows": {"k": 3, "value": 0.1}}}
    }
    config = parse_config(data)
    with pytest.raises(InputError, match="exceeds the 2 rows"):
        Ensemble(config.ensembles[0], 10)


def test_custom_architecture_rejects_mlp_keys():
    from dualsym.ensemble import Ensemble

    data = base()
    data["ensembles"][0]["architecture"] = "dualsym.examples.custom_architecture:build"
    data["ensembles"][0]["hidden_layers"] = 4
    config = parse_config(data)
    with pytest.raises(InputError, match="hidden_layers do not apply"):
        Ensemble(config.ensembles[0], 10)


def test_empty_points_rejected():
    data = base()
    del data["checks"][0]["linspace"]
    data["checks"][0]["points"] = []
    with pytest.raises(InputError, match="`points` is empty"):
        parse_config(data)


def test_unknown_device_rejected():
    with pytest.raises(InputError, match="unknown device 'tpu'"):
        parse_config(base(device="tpu"))


def test_unknown_key_named():
    with pytest.raises(InputError, match="run.sede: unknown key"):
        parse_config(base(sede=1))
