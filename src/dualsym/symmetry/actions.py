"""Group actions as batch programs: transformed views and tangents of one ensemble.

Every view is computed on the same sampled networks as the untransformed outputs, so a
deviation G(g) - G is measured with common random numbers and its batch-means error
already includes the correlation between the two.

- Output action: view f -> R f (every output index contracted with R); tangent A f.
- Input action: view f(g x) (or f(x + c)); tangent d/dt f(x + t A x) at t = 0, or
  d/dt f(x + t e) for translations, computed with torch.func.jvp.
"""

from __future__ import annotations

import numpy as np
import torch

from dualsym.correlators.runner import BatchProgram
from dualsym.ensemble import Ensemble, Params


class OutputActionProgram(BatchProgram):
    """Views R f for each element R and tangents A f for each generator A."""

    def __init__(self, points, elements: np.ndarray, generators: np.ndarray):
        super().__init__(points)
        self.elements = np.asarray(elements, dtype=np.float64)
        self.generators = np.asarray(generators, dtype=np.float64)
        self.views = 1 + len(self.elements)
        self.tangents = len(self.generators)

    def __call__(
        self, ensemble: Ensemble, params: Params
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        outputs = self.evaluate(ensemble, params)
        networks = outputs.shape[0]
        matrices = self.on_device("elements", outputs.device, torch.float64)
        views = [outputs] + [outputs @ matrix.T for matrix in matrices]
        features = torch.stack(views).reshape(self.views, networks, -1)
        if not self.tangents:
            return features, None
        generators = self.on_device("generators", outputs.device, torch.float64)
        tangents = torch.stack([outputs @ generator.T for generator in generators])
        return features, tangents.reshape(self.tangents, networks, -1)


class InputActionProgram(BatchProgram):
    """Views f(g x) for each element g and tangents along each generator.

    For translations, `elements` are shift vectors [K, d_in] and `generators` are shift
    directions [L, d_in]; otherwise both are matrices acting as x -> g x.
    """

    def __init__(
        self, points, elements: np.ndarray, generators: np.ndarray, translation: bool
    ):
        super().__init__(points)
        self.elements = np.asarray(elements, dtype=np.float64)
        self.generators = np.asarray(generators, dtype=np.float64)
        self.translation = translation
        self.views = 1 + len(self.elements)
        self.tangents = len(self.generators)
        moved = [self.points] + [self._move(element) for element in self.elements]
        self.all_points = np.concatenate(moved)
        if translation:
            self.directions = [
                np.broadcast_to(d, self.points.shape).copy() for d in self.generators
            ]
        else:
            self.directions = [self.points @ a.T for a in self.generators]

    def _move(self, element: np.ndarray) -> np.ndarray:
        if self.translation:
            return self.points + element
        return self.points @ element.T

    @property
    def forward_points(self) -> int:
        return len(self.all_points)

    def __call__(
        self, ensemble: Ensemble, params: Params
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        device, dtype = ensemble.device, ensemble.dtype
        outputs = self.evaluate(ensemble, params, "all_points")
        networks = outputs.shape[0]
        features = outputs.reshape(
            networks, self.views, len(self.points) * ensemble.d_out
        )
        features = features.permute(1, 0, 2).contiguous()
        if not self.tangents:
            return features, None
        x = self.on_device("points", device, dtype)
        tangents = []
        for direction in self.directions:
            tangent_in = torch.as_tensor(direction, device=device, dtype=dtype)
            _, derivative = torch.func.jvp(
                lambda inputs: ensemble.forward(params, inputs), (x,), (tangent_in,)
            )
            tangents.append(derivative.to(torch.float64).reshape(networks, -1))
        return features, torch.stack(tangents)
