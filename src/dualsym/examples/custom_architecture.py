"""A custom architecture: one tanh layer plus a linear skip connection.

f(x) = V tanh(W x + b) + U x, written for a single network and vectorized over the
networks axis with torch.func.vmap. Select it in a config with
`architecture = "dualsym.examples.custom_architecture:build"`.
"""

from __future__ import annotations

import torch

from dualsym.config import EnsembleConfig, LawConfig
from dualsym.ensemble import FunctionArchitecture, ParameterLaw, TensorSpec


def _forward(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    hidden = torch.tanh(x @ params["W"].T + params["b"])
    return hidden @ params["V"].T + x @ params["U"].T


def build(config: EnsembleConfig, width: int) -> FunctionArchitecture:
    """Build the skip-connection family at `width` from the config's weight law.

    The builder receives the whole ensemble config and uses d_in, d_out, weights and
    biases; it rejects the MLP keys it cannot honor instead of ignoring them.
    """
    unused = sorted(
        {"hidden_layers", "layers", "output_bias"} & config.model_fields_set
    )
    if unused:
        raise ValueError(
            f"{', '.join(unused)} do not apply to the skip-connection architecture "
            f"(one tanh layer plus a linear skip); remove them from the config"
        )
    weight_law = config.weights
    bias_law = config.biases or LawConfig(std=1.0)
    shapes = {
        "W": (weight_law, (width, config.d_in), config.d_in),
        "b": (bias_law, (width,), config.d_in),
        "V": (weight_law, (config.d_out, width), width),
        "U": (weight_law, (config.d_out, config.d_in), config.d_in),
    }
    specs = [
        TensorSpec(
            name,
            ParameterLaw.from_config(law, shape, fan_in, name),
            0,
            "bias" if name == "b" else "weight",
        )
        for name, (law, shape, fan_in) in shapes.items()
    ]
    return FunctionArchitecture(
        specs, _forward, config.d_in, config.d_out, batched=False
    )
