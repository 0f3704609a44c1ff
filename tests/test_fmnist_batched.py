"""Batched training equals training each run alone with a plain nn.Module loop."""

import numpy as np
import torch

from dualsym.training.batched import TrainSettings, train_batched
from dualsym.training.fmnist import (
    RunKey,
    build_sweep_config,
    encode_targets,
    prediction_rule,
    sample_initializations,
    shuffle_generator,
)

SAMPLES = 300  # not a multiple of the batch size, so each epoch ends on a short batch
TEST_SAMPLES = 90
SETTINGS = TrainSettings(epochs=2, batch_size=64, learning_rate=1e-3, lr_decay=0.7)
KEYS = [
    RunKey("one-cold", 0, 0.0, 0),
    RunKey("one-cold", 10, 0.1, 0),
    RunKey("one-cold", 4, 0.2, 1),
]


def synthetic_data():
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(SAMPLES, 784, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 10, (SAMPLES,), generator=generator)
    test_inputs = torch.randn(
        TEST_SAMPLES, 784, generator=generator, dtype=torch.float64
    )
    test_labels = torch.randint(0, 10, (TEST_SAMPLES,), generator=generator)
    return inputs, labels, test_inputs, test_labels


def initial_weights(keys):
    config = build_sweep_config(["one-cold"], k=[0], mu=[0.0], runs=1, dtype="float64")
    return sample_initializations(keys, config, torch.device("cpu"))


def train_alone(w0, w1, inputs, targets, test_inputs, test_targets, test_labels, key):
    """Train one network the ordinary way: nn.Module, Adam, ExponentialLR, MSELoss."""
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 50, bias=False),
        torch.nn.ReLU(),
        torch.nn.Linear(50, 10, bias=False),
    ).double()
    with torch.no_grad():
        model[0].weight.copy_(w0)
        model[2].weight.copy_(w1)
    optimizer = torch.optim.Adam(model.parameters(), lr=SETTINGS.learning_rate)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, SETTINGS.lr_decay)
    loss_function = torch.nn.MSELoss()
    generator = shuffle_generator(key, seed=0)
    predict = prediction_rule(key.targets)
    train_loss, test_loss, test_accuracy = [], [], []
    for _ in range(SETTINGS.epochs):
        order = torch.randperm(SAMPLES, generator=generator)
        total = 0.0
        for start in range(0, SAMPLES, SETTINGS.batch_size):
            index = order[start : start + SETTINGS.batch_size]
            loss = loss_function(model(inputs[index]), targets[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
        schedule.step()
        train_loss.append(total / SAMPLES)
        with torch.no_grad():
            outputs = model(test_inputs)
            test_loss.append(loss_function(outputs, test_targets).item())
            correct = (predict(outputs) == test_labels).double().mean().item()
            test_accuracy.append(correct)
    weights = (model[0].weight.detach(), model[2].weight.detach())
    return weights, np.array(train_loss), np.array(test_loss), np.array(test_accuracy)


def train_together(keys, weights, data):
    inputs, labels, test_inputs, test_labels = data
    encoding = keys[0].targets
    return train_batched(
        weights,
        inputs,
        encode_targets(labels, encoding, torch.float64),
        test_inputs,
        encode_targets(test_labels, encoding, torch.float64),
        test_labels,
        prediction_rule(encoding),
        [shuffle_generator(key, seed=0) for key in keys],
        SETTINGS,
    )


def test_batched_equals_solo_training():
    data = synthetic_data()
    inputs, labels, test_inputs, test_labels = data
    weights = initial_weights(KEYS)
    history = train_together(KEYS, weights, data)

    targets = encode_targets(labels, "one-cold", torch.float64)
    test_targets = encode_targets(test_labels, "one-cold", torch.float64)
    for run, key in enumerate(KEYS):
        (w0, w1), train_loss, test_loss, test_accuracy = train_alone(
            weights["W0"][run],
            weights["W1"][run],
            inputs,
            targets,
            test_inputs,
            test_targets,
            test_labels,
            key,
        )
        assert not torch.equal(w0, weights["W0"][run]), "training did not move W0"
        assert torch.allclose(history.params["W0"][run], w0, rtol=1e-10, atol=1e-12)
        assert torch.allclose(history.params["W1"][run], w1, rtol=1e-10, atol=1e-12)
        assert np.allclose(history.train_loss[run], train_loss, rtol=1e-10)
        assert np.allclose(history.test_loss[run], test_loss, rtol=1e-10)
        assert np.array_equal(history.test_accuracy[run], test_accuracy)


def test_results_do_not_depend_on_batching():
    data = synthetic_data()
    together = train_together(KEYS, initial_weights(KEYS), data)
    first = train_together(KEYS[:1], initial_weights(KEYS[:1]), data)
    rest = train_together(KEYS[1:], initial_weights(KEYS[1:]), data)

    split_w0 = torch.cat([first.params["W0"], rest.params["W0"]])
    split_loss = np.concatenate([first.train_loss, rest.train_loss])
    assert torch.allclose(together.params["W0"], split_w0, rtol=1e-10, atol=1e-12)
    assert np.allclose(together.train_loss, split_loss, rtol=1e-10)


def test_runs_get_distinct_inits_and_orders():
    weights = initial_weights(KEYS)
    orders = [torch.randperm(SAMPLES, generator=shuffle_generator(k, 0)) for k in KEYS]

    assert not torch.allclose(weights["W0"][0], weights["W0"][1])
    assert not torch.equal(orders[0], orders[1])
    assert not torch.equal(orders[1], orders[2])


def test_readout_mean_rows_are_shifted():
    keys = [RunKey("one-hot", 4, 0.5, run) for run in range(200)]
    readout = initial_weights(keys)["W1"]  # [runs, 10, 50], std 1/sqrt(50)

    row_means = readout.mean(dim=(0, 2))
    assert torch.allclose(
        row_means[:4], torch.full((4,), 0.5, dtype=torch.float64), atol=0.01
    )
    assert torch.allclose(row_means[4:], torch.zeros(6, dtype=torch.float64), atol=0.01)
    assert readout.std().item() > 0.1


def test_one_cold_targets_and_argmin():
    labels = torch.tensor([0, 3])
    targets = encode_targets(labels, "one-cold", torch.float32)
    outputs = torch.tensor([[0.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, -2.0]])

    assert targets[0].tolist() == [0.0] + [1.0] * 9
    assert targets[1, 3].item() == 0.0
    assert prediction_rule("one-cold")(outputs).tolist() == [0, 3]
    assert prediction_rule("one-hot")(outputs).tolist() == [1, 0]
