"""Batched training of many one-hidden-layer ReLU networks as one model.

Every run has its own weights (a leading runs axis, as in `Ensemble`) and its own
shuffling generator, so each run trains on its own mini-batch order. The loss is the sum
over runs of each run's mean squared error, so the gradient of a run's weights is
exactly the gradient of its own loss. Adam acts elementwise and the learning-rate
schedule is shared, so one Adam over the batched tensors gives every run the update it
would get if trained alone: the trainer equals a per-run `nn.Module` loop up to
floating-point summation order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

logger = logging.getLogger(__name__)

# The CLI's progress bar is advanced about this often, in steps of the batch.
PROGRESS_EVERY_STEPS = 25


@dataclass(frozen=True)
class TrainSettings:
    """Optimizer and schedule: Adam, learning rate times `lr_decay` after each epoch."""

    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 1e-3
    lr_decay: float = 0.7
    eval_points: int = 2000  # test points per evaluation chunk; memory only


@dataclass
class TrainingHistory:
    """Per-run, per-epoch metrics [runs, epochs] and the final weights."""

    train_loss: np.ndarray
    test_loss: np.ndarray
    test_accuracy: np.ndarray
    params: dict[str, torch.Tensor]


def forward(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Evaluate x -> W1 relu(W0 x) for every run.

    `x` is [runs, points, d_in] (one batch per run) or [points, d_in] (shared); the
    result is [runs, points, d_out].
    """
    hidden = torch.relu(torch.matmul(x, params["W0"].mT))
    return torch.matmul(hidden, params["W1"].mT)


def train_batched(
    params: dict[str, torch.Tensor],
    train_inputs: torch.Tensor,
    train_targets: torch.Tensor,
    test_inputs: torch.Tensor,
    test_targets: torch.Tensor,
    test_labels: torch.Tensor,
    predict: Callable[[torch.Tensor], torch.Tensor],
    shuffle_generators: Sequence[torch.Generator],
    settings: TrainSettings,
    progress: Callable[[int], None] | None = None,
) -> TrainingHistory:
    """Train every run of `params` and evaluate it on the test set after each epoch.

    Args:
        params: "W0" [runs, hidden, d_in] and "W1" [runs, d_out, hidden]; copied, not
            modified.
        train_inputs, train_targets: [samples, d_in] and [samples, d_out], shared by
            all runs; each run visits them in its own order.
        test_inputs, test_targets, test_labels: the test set, targets as trained on
            and labels as integers.
        predict: maps outputs [..., d_out] to predicted labels (argmax for one-hot
            targets, argmin for one-cold).
        shuffle_generators: one CPU generator per run; epoch e of run r visits the
            samples in the order torch.randperm(samples, generator=generators[r]).
        settings: optimizer and schedule.
        progress: called with the number of run-steps done since its last call.

    Returns:
        Per-epoch mean training loss (over that epoch's mini-batches, weighted by
        their size), test loss and test accuracy of every run, and the final weights.
    """
    runs = params["W0"].shape[0]
    if len(shuffle_generators) != runs:
        raise ValueError(
            f"got {len(shuffle_generators)} shuffle generators for {runs} runs"
        )
    device = params["W0"].device
    weights = {
        name: tensor.detach().clone().requires_grad_(True)
        for name, tensor in params.items()
    }
    # The fused kernel updates all runs in one pass; it is elementwise like the
    # reference Adam, so per-run updates are unchanged.
    optimizer = torch.optim.Adam(
        list(weights.values()), lr=settings.learning_rate, fused=True
    )
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, settings.lr_decay)

    samples = train_inputs.shape[0]
    d_in = train_inputs.shape[1]
    d_out = train_targets.shape[1]
    epochs = settings.epochs
    train_loss = np.zeros((runs, epochs))
    test_loss = np.zeros((runs, epochs))
    test_accuracy = np.zeros((runs, epochs))

    for epoch in range(epochs):
        order = torch.stack(
            [torch.randperm(samples, generator=g) for g in shuffle_generators]
        ).to(device)
        loss_sum = torch.zeros(runs, device=device, dtype=train_inputs.dtype)
        pending_steps = 0
        for start in range(0, samples, settings.batch_size):
            index = order[:, start : start + settings.batch_size].reshape(-1)
            batch = index.numel() // runs
            inputs = train_inputs.index_select(0, index).view(runs, batch, d_in)
            targets = train_targets.index_select(0, index).view(runs, batch, d_out)

            outputs = forward(weights, inputs)
            per_run_loss = (outputs - targets).square().mean(dim=(1, 2))
            optimizer.zero_grad(set_to_none=True)
            per_run_loss.sum().backward()
            optimizer.step()

            loss_sum += per_run_loss.detach() * batch
            pending_steps += 1
            if progress is not None and pending_steps == PROGRESS_EVERY_STEPS:
                progress(pending_steps * runs)
                pending_steps = 0
        if progress is not None and pending_steps:
            progress(pending_steps * runs)
        schedule.step()

        train_loss[:, epoch] = (loss_sum / samples).cpu().numpy()
        loss, accuracy = evaluate(
            weights, test_inputs, test_targets, test_labels, predict, settings
        )
        test_loss[:, epoch] = loss
        test_accuracy[:, epoch] = accuracy
        logger.debug(
            "epoch %d of %d runs: mean test accuracy %.4f",
            epoch + 1,
            runs,
            accuracy.mean(),
        )

    final = {name: tensor.detach() for name, tensor in weights.items()}
    return TrainingHistory(train_loss, test_loss, test_accuracy, final)


@torch.no_grad()
def evaluate(
    params: dict[str, torch.Tensor],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    labels: torch.Tensor,
    predict: Callable[[torch.Tensor], torch.Tensor],
    settings: TrainSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the mean squared error and accuracy of every run on one data set."""
    runs = params["W0"].shape[0]
    squared_error = torch.zeros(runs, dtype=torch.float64, device=inputs.device)
    correct = torch.zeros(runs, dtype=torch.int64, device=inputs.device)
    for start in range(0, inputs.shape[0], settings.eval_points):
        stop = start + settings.eval_points
        outputs = forward(params, inputs[start:stop])
        error = (outputs - targets[start:stop]).square().sum(dim=(1, 2))
        squared_error += error.to(torch.float64)
        correct += (predict(outputs) == labels[start:stop]).sum(dim=1)
    points = inputs.shape[0]
    mean_squared_error = squared_error / (points * targets.shape[1])
    accuracy = correct.to(torch.float64) / points
    return mean_squared_error.cpu().numpy(), accuracy.cpu().numpy()
