"""The usual research-code way of estimating n-point functions, as a baseline.

One `torch.nn.Module` is built and evaluated per network in a Python loop, and the
outputs are joined with `torch.cat`. The order-n moment is then the mean over networks
of the full networks x (points x outputs)^n product tensor. dualsym replaces this with
streaming sums over unique entries.

The baseline runs in float32, torch's default dtype and what such code uses, because
the float64 order-4 product tensor at 4x10^3 networks and 30 sites needs about 26 GB.
"""

from __future__ import annotations

import math

import torch
from common import D_OUT, SIGMA_B, SIGMA_W, WIDTH
from torch import nn


class GaussNet(nn.Module):
    """One Gauss-net: exp(W0 x + b0) / sqrt(E[exp(2 (W0 x + b0))]), linear readout."""

    def __init__(self, d_in: int = 1, width: int = WIDTH, d_out: int = D_OUT):
        super().__init__()
        self.d_in = d_in
        self.hidden = nn.Linear(d_in, width)
        self.readout = nn.Linear(width, d_out)
        nn.init.normal_(self.hidden.weight, std=SIGMA_W / math.sqrt(d_in))
        nn.init.normal_(self.hidden.bias, std=SIGMA_B)
        nn.init.normal_(self.readout.weight, std=SIGMA_W / math.sqrt(width))
        nn.init.normal_(self.readout.bias, std=SIGMA_B)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # E[exp(2 z)] = exp(2 sigma_b^2 + 2 sigma_W^2 |x|^2 / d_in) for Gaussian laws.
        variance = SIGMA_B**2 + SIGMA_W**2 * (x * x).sum(-1, keepdim=True) / self.d_in
        hidden = torch.exp(self.hidden(x)) / torch.sqrt(torch.exp(2 * variance))
        return self.readout(hidden)


def sample_outputs(networks: int, x: torch.Tensor) -> torch.Tensor:
    """Build and evaluate `networks` GaussNets one by one: [networks, points, d_out]."""
    outputs = []
    with torch.no_grad():
        for _ in range(networks):
            net = GaussNet(d_in=x.shape[1])
            outputs.append(net(x)[None])
    return torch.cat(outputs)


def moment(outputs: torch.Tensor, order: int) -> torch.Tensor:
    """Mean over networks of the full product tensor [networks, S, ..., S] (S^order)."""
    features = outputs.reshape(outputs.shape[0], -1)
    sites = features.shape[1]
    product = features
    for k in range(1, order):
        shape = (features.shape[0],) + (1,) * k + (sites,)
        product = product[..., None] * features.reshape(shape)
    return product.mean(0)
