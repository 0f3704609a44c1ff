"""Dask execution of chunks: every chunk is a task that returns its block's sums.

A task is a pure function of (config JSON, check index, width, chunk id, chunk size):
the worker rebuilds the same job as the client with `dualsym.pipeline.check_job` and
returns the chunk's one-block sums as numpy arrays. The client adds each chunk's sums
once, in plan order, so a run gives the same totals as the serial run whatever the
number of workers, and a task that is retried after its worker died is still counted
once.

Workers need dualsym importable (installed, or on PYTHONPATH when they start).
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
from distributed import WorkerPlugin

from dualsym.errors import InputError
from dualsym.correlators.runner import Chunk

logger = logging.getLogger(__name__)

# Scheduler-side retries of a task that raised. A worker that dies is handled by the
# scheduler's own `distributed.scheduler.allowed-failures` (3 by default).
TASK_RETRIES = 2


# Torch intra-op threads for tasks of this worker process, set by `TorchThreads`.
_task_threads: int | None = None


class TorchThreads(WorkerPlugin):
    """Worker plugin that sets torch's intra-op threads on every (re)started worker.

    Dask starts workers with OMP_NUM_THREADS=1, and the OpenMP thread count is a
    per-thread setting, so each task applies it in its own thread (`compute_chunk`).
    """

    def __init__(self, threads: int):
        self.threads = threads

    def setup(self, worker) -> None:
        global _task_threads
        _task_threads = self.threads


@lru_cache(maxsize=4)
def _worker_job(config_json: str, check_index: int, width: int | None):
    import json

    from dualsym.config import parse_config
    from dualsym.pipeline import check_job

    config = parse_config(json.loads(config_json), "task config")
    return check_job(config, check_index, width).job


def compute_chunk(
    config_json: str, check_index: int, width: int | None, block: int, index: int
) -> dict[str, np.ndarray]:
    """Return the one-block sums of chunk (block, index) of a check at a width.

    Runs on a Dask worker. The job is rebuilt from the config and cached per process.
    """
    if _task_threads is not None:
        import torch

        torch.set_num_threads(_task_threads)
    # NOTE: on a 2-core machine a chunk took about 40% longer inside a worker than in
    # the main process with the same torch threads (0.28 s against 0.20 s for the
    # demo's first check). The cause is not known.
    job = _worker_job(config_json, check_index, width)
    chunk = _plan_chunk(job.plan.chunks(), block, index)
    return job.chunk_partial(chunk).state()


def _plan_chunk(chunks: list[Chunk], block: int, index: int) -> Chunk:
    for chunk in chunks:
        if chunk.key == (block, index):
            return chunk
    raise ValueError(f"chunk ({block}, {index}) is not in the run's plan")


class DaskExecutor:
    """Runs chunks as Dask tasks and yields their sums as they finish.

    At most `window` tasks are in flight, so the client keeps a bounded number of
    finished partials while it waits for an earlier chunk.
    """

    def __init__(self, client, window: int | None = None):
        self.client = client
        threads = sum(client.nthreads().values()) or 1
        self.window = window or max(4, 3 * threads)

    def partials(
        self, config_json: str, check_index: int, width: int | None, chunks: list[Chunk]
    ) -> Iterator[tuple[Chunk, dict[str, np.ndarray]]]:
        """Yield (chunk, one-block state) for every chunk, in completion order."""
        from distributed import as_completed

        pending = iter(chunks)
        by_key = {}
        completed = as_completed()

        def submit_next() -> bool:
            chunk = next(pending, None)
            if chunk is None:
                return False
            key = f"dualsym-chunk-{check_index}-{width}-{chunk.block}-{chunk.index}-"
            key += _short_hash(config_json)
            future = self.client.submit(
                compute_chunk,
                config_json,
                check_index,
                width,
                chunk.block,
                chunk.index,
                key=key,
                retries=TASK_RETRIES,
                pure=False,
            )
            by_key[future.key] = chunk
            completed.add(future)
            return True

        for _ in range(self.window):
            if not submit_next():
                break
        try:
            for future in completed:
                chunk = by_key.pop(future.key)
                state = future.result()
                future.release()
                submit_next()
                yield chunk, state
        finally:
            for future in list(completed.futures):
                future.cancel()


def _short_hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:12]


@contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None):
    """Start a local cluster of `workers` processes on 127.0.0.1, or connect to one.

    Each local worker runs one task at a time with cores // workers torch threads.
    """
    from distributed import Client, LocalCluster

    # Importing distributed sets its loggers to INFO with their own handlers, which
    # would print every cluster event and, after Ctrl-C, closed-connection tracebacks.
    logging.getLogger("distributed").setLevel(logging.CRITICAL)

    if scheduler is not None:
        # NOTE: torch threads on an existing cluster's workers are left as they are,
        # which oversubscribes cores when a host runs several worker processes.
        logger.info("connecting to Dask scheduler %s", scheduler)
        try:
            client = Client(scheduler, timeout="15s")
        except (OSError, ValueError, TimeoutError) as error:
            raise InputError(
                f"cannot connect to the Dask scheduler {scheduler!r}: {error}; check "
                f"the address (tcp://HOST:PORT) or use --workers N for a local cluster"
            ) from None
        with client:
            yield client
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    logger.info(
        "starting %d local Dask workers, %d torch threads each", workers, threads
    )
    # Worker processes start with SIGINT ignored, because Python keeps an inherited
    # SIG_IGN. So Ctrl-C reaches only this process, which closes the cluster, and no
    # worker prints its own KeyboardInterrupt traceback.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    with cluster, Client(cluster) as client:
        client.register_plugin(TorchThreads(threads), name="dualsym-torch-threads")
        yield client
