"""Chunk partials merge exactly: once per chunk id, in plan order."""

from __future__ import annotations

import numpy as np
from scale_helpers import small_config

from dualsym.correlators import moments
from dualsym.correlators.runner import OrderedMerge
from dualsym.pipeline import check_job


def _job():
    return check_job(small_config(networks=300, chunk_networks=5), 0, 8).job


def _serial_totals(job):
    totals = job.new_totals()
    for chunk in job.plan.chunks():
        totals.add_block(chunk.block, job.chunk_partial(chunk))
    return totals


def test_merge_out_of_order_is_bitwise_serial():
    job = _job()
    chunks = job.plan.chunks()
    partials = {chunk.key: job.chunk_partial(chunk) for chunk in chunks}
    shuffled = [chunks[i] for i in np.random.default_rng(0).permutation(len(chunks))]
    merge = OrderedMerge(job.new_totals(), chunks)

    added = []
    for chunk in shuffled:
        added += merge.offer(chunk, partials[chunk.key])

    assert merge.done
    assert [chunk.key for chunk in added] == [chunk.key for chunk in chunks]
    expected = _serial_totals(job).state()
    for name, values in merge.totals.state().items():
        assert np.array_equal(values, expected[name]), name


def test_merge_drops_repeated_chunk():
    job = _job()
    chunks = job.plan.chunks()
    merge = OrderedMerge(job.new_totals(), chunks)
    first = job.chunk_partial(chunks[0])

    assert merge.offer(chunks[1], job.chunk_partial(chunks[1])) == []
    assert merge.offer(chunks[1], job.chunk_partial(chunks[1])) == []
    assert [c.key for c in merge.offer(chunks[0], first)] == [(0, 0), (0, 1)]
    assert merge.offer(chunks[0], first) == []
    assert int(merge.totals.counts[0]) == chunks[0].size + chunks[1].size


def test_chunk_partial_independent_of_other_chunks():
    job = _job()
    chunk = job.plan.chunks()[7]

    alone = job.chunk_partial(chunk).state()
    job.chunk_partial(job.plan.chunks()[3])
    again = job.chunk_partial(chunk).state()

    for name, values in alone.items():
        assert np.array_equal(values, again[name]), name


def test_gather_index_cache_does_not_grow_per_batch():
    job = _job()
    job.chunk_partial(job.plan.chunks()[0])
    size = len(moments._INDEX_TENSORS)

    for chunk in job.plan.chunks()[1:6]:
        job.chunk_partial(chunk)

    assert len(moments._INDEX_TENSORS) == size
