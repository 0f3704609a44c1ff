"""Benchmark batched training against training one network at a time.

Measures training throughput in samples x runs per second on the real Fashion-MNIST
data, for the reference network (784-50-10 ReLU, no biases, MSE, Adam, batch 64):

- solo, DataLoader: the plain PyTorch loop, one nn.Module trained with
  DataLoader(TensorDataset, batch_size=64, shuffle=True);
- solo, tensor indexing: the same loop with mini-batches cut from preloaded tensors
  by a random permutation, which removes the DataLoader's per-sample overhead;
- batched: `train_batched` with R runs trained as one model, each run with its own
  initialization and mini-batch order.

Each variant trains for a fixed number of mini-batch steps (a fraction of an epoch)
after a warm-up, and the test evaluation after an epoch is timed on its own. The
full reference grid time is then estimated from the fastest batched throughput.

Usage: PYTHONPATH=src python bench/bench_training.py [--steps N] [--runs 16,32,64]
    [--threads T] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone

import torch
from torch.utils.data import DataLoader, TensorDataset

from dualsym.training.batched import TrainSettings, evaluate, train_batched
from dualsym.training.data import load_fashion_mnist
from dualsym.training.fmnist import (
    RunKey,
    build_sweep_config,
    encode_targets,
    prediction_rule,
    run_steps,
    sample_initializations,
    shuffle_generator,
)

BATCH = 64


def solo_model(weights: dict[str, torch.Tensor]) -> torch.nn.Module:
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 50, bias=False),
        torch.nn.ReLU(),
        torch.nn.Linear(50, 10, bias=False),
    )
    with torch.no_grad():
        model[0].weight.copy_(weights["W0"][0])
        model[2].weight.copy_(weights["W1"][0])
    return model


def time_solo_dataloader(data, targets, weights, steps: int, warmup: int) -> float:
    """Return samples per second of the plain DataLoader loop."""
    model = solo_model(weights)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_function = torch.nn.MSELoss()
    loader = DataLoader(
        TensorDataset(data.train_images, targets), batch_size=BATCH, shuffle=True
    )
    started = None
    for step, (inputs, batch_targets) in enumerate(loader):
        if step == warmup:
            started = time.perf_counter()
        if step == warmup + steps:
            break
        loss = loss_function(model(inputs), batch_targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steps * BATCH / (time.perf_counter() - started)


def time_solo_indexing(data, targets, weights, steps: int, warmup: int) -> float:
    """Return samples per second of the solo loop with tensor indexing."""
    model = solo_model(weights)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_function = torch.nn.MSELoss()
    order = torch.randperm(len(targets))
    started = None
    for step in range(warmup + steps):
        if step == warmup:
            started = time.perf_counter()
        index = order[step * BATCH : (step + 1) * BATCH]
        loss = loss_function(model(data.train_images[index]), targets[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steps * BATCH / (time.perf_counter() - started)


def time_batched(data, targets, runs: int, steps: int, warmup: int) -> float:
    """Return samples x runs per second of `train_batched` with `runs` runs."""
    keys = [RunKey("one-hot", 10, 0.1, run) for run in range(runs)]
    config = build_sweep_config(["one-hot"], k=[10], mu=[0.1], runs=runs)
    weights = sample_initializations(keys, config, torch.device("cpu"))
    settings = TrainSettings(epochs=1)
    tiny_test = data.test_images[:1]

    def train(step_count: int) -> float:
        samples = step_count * BATCH
        started = time.perf_counter()
        train_batched(
            weights,
            data.train_images[:samples],
            targets[:samples],
            tiny_test,
            encode_targets(data.test_labels[:1], "one-hot", torch.float32),
            data.test_labels[:1],
            prediction_rule("one-hot"),
            [shuffle_generator(key, 0) for key in keys],
            settings,
        )
        return time.perf_counter() - started

    train(warmup)
    return runs * steps * BATCH / train(steps)


def time_evaluation(data, runs: int) -> float:
    """Return seconds per run of one test-set evaluation (10,000 images)."""
    keys = [RunKey("one-hot", 10, 0.1, run) for run in range(runs)]
    config = build_sweep_config(["one-hot"], k=[10], mu=[0.1], runs=runs)
    weights = sample_initializations(keys, config, torch.device("cpu"))
    test_targets = encode_targets(data.test_labels, "one-hot", torch.float32)
    arguments = (
        weights,
        data.test_images,
        test_targets,
        data.test_labels,
        prediction_rule("one-hot"),
        TrainSettings(),
    )
    evaluate(*arguments)
    started = time.perf_counter()
    evaluate(*arguments)
    return (time.perf_counter() - started) / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", type=int, default=300, help="timed steps per variant"
    )
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--runs", default="16,32,64,128", help="batched run counts")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: all)")
    parser.add_argument("--json", help="also write the numbers to this file")
    arguments = parser.parse_args()
    if arguments.threads is not None:
        torch.set_num_threads(arguments.threads)

    data = load_fashion_mnist()
    targets = encode_targets(data.train_labels, "one-hot", torch.float32)
    keys = [RunKey("one-hot", 10, 0.1, 0)]
    config = build_sweep_config(["one-hot"], k=[10], mu=[0.1], runs=1)
    weights = sample_initializations(keys, config, torch.device("cpu"))

    results = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads",
        "steps": arguments.steps,
    }
    solo_loader = time_solo_dataloader(
        data, targets, weights, arguments.steps, arguments.warmup
    )
    solo_indexing = time_solo_indexing(
        data, targets, weights, arguments.steps, arguments.warmup
    )
    results["solo_dataloader"] = solo_loader
    results["solo_indexing"] = solo_indexing
    print(f"solo, DataLoader:        {solo_loader:10.0f} samples/s")
    print(f"solo, tensor indexing:   {solo_indexing:10.0f} samples/s")

    batched = {}
    for runs in (int(value) for value in arguments.runs.split(",")):
        throughput = time_batched(
            data, targets, runs, arguments.steps, arguments.warmup
        )
        batched[runs] = throughput
        print(
            f"batched, {runs:4d} runs:     {throughput:10.0f} samples x runs/s  "
            f"({throughput / solo_loader:5.1f}x DataLoader, "
            f"{throughput / solo_indexing:5.1f}x indexing)"
        )
    results["batched"] = batched

    best_runs = max(batched, key=batched.get)
    evaluation = time_evaluation(data, best_runs)
    results["evaluation_s_per_run"] = evaluation
    print(f"test evaluation:         {evaluation * 1e3:10.1f} ms per run and epoch")

    samples = len(data.train_labels)
    full = build_sweep_config(["one-hot", "one-cold"])
    total_runs = len(full.run_keys())
    epoch_seconds = samples / batched[best_runs] + evaluation
    estimate = total_runs * full.epochs * epoch_seconds
    solo_estimate = total_runs * full.epochs * (samples / solo_loader + evaluation)
    results["full_grid"] = {
        "runs": total_runs,
        "epochs": full.epochs,
        "run_steps": run_steps(full, samples, total_runs),
        "batched_runs": best_runs,
        "estimate_s": estimate,
        "solo_dataloader_estimate_s": solo_estimate,
    }
    print(
        f"full reference grid: {total_runs} runs x {full.epochs} epochs, estimated "
        f"{estimate / 3600:.2f} h batched ({best_runs} runs per batch), "
        f"{solo_estimate / 3600:.1f} h one network at a time with the DataLoader"
    )
    if arguments.json:
        with open(arguments.json, "w") as stream:
            json.dump(results, stream, indent=2)


if __name__ == "__main__":
    main()
