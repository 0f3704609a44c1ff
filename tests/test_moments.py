import itertools

import numpy as np
import pytest
import torch

from dualsym.correlators.moments import (
    MomentAccumulator,
    colex_rank,
    dense_entries,
    dense_lie_sums,
    dense_moment_sums,
    multiset_count,
    tuple_lie_sums,
    tuple_moment_sums,
)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_colex_rank_is_bijection(order):
    entries = dense_entries(6, order)
    assert len(entries) == multiset_count(6, order)
    assert np.array_equal(colex_rank(entries), np.arange(len(entries)))
    assert np.all(np.diff(entries, axis=1) >= 0)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_dense_sums_match_brute_force(order):
    generator = torch.Generator().manual_seed(order)
    features = torch.randn(3, 11, 5, generator=generator, dtype=torch.float64)
    entries = dense_entries(5, order)
    expected = torch.stack(
        [features[..., list(entry)].prod(-1).sum(-1) for entry in entries], -1
    )
    assert torch.allclose(dense_moment_sums(features, order), expected)
    assert torch.allclose(tuple_moment_sums(features, entries), expected)


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_lie_sums_match_leibniz_rule(order):
    # L G(s1..sn) = sum over positions k of E[D_sk prod_{j != k} F_sj].
    generator = torch.Generator().manual_seed(10 + order)
    features = torch.randn(9, 4, generator=generator, dtype=torch.float64)
    tangents = torch.randn(2, 9, 4, generator=generator, dtype=torch.float64)
    entries = dense_entries(4, order)
    expected = torch.zeros(2, len(entries), dtype=torch.float64)
    for index, entry in enumerate(entries):
        for k in range(order):
            product = tangents[:, :, entry[k]]
            for j in range(order):
                if j != k:
                    product = product * features[:, entry[j]]
            expected[:, index] += product.sum(-1)
    assert torch.allclose(tuple_lie_sums(features, tangents, entries), expected)
    if order <= 4:
        assert torch.allclose(dense_lie_sums(features, tangents, order), expected)


def test_lie_sum_is_derivative_of_moment():
    # With F(t) = F + t D, d/dt of the order-3 moment at t = 0 is the Lie sum.
    generator = torch.Generator().manual_seed(3)
    features = torch.randn(7, 3, generator=generator, dtype=torch.float64)
    tangent = torch.randn(1, 7, 3, generator=generator, dtype=torch.float64)
    step = 1e-6
    plus = dense_moment_sums((features + step * tangent[0])[None], 3)
    minus = dense_moment_sums((features - step * tangent[0])[None], 3)
    numeric = (plus - minus) / (2 * step)
    assert torch.allclose(dense_lie_sums(features, tangent, 3), numeric, atol=1e-6)


def test_accumulator_merge_equals_single_pass():
    entries = {2: dense_entries(4, 2), 4: dense_entries(4, 4)}
    generator = torch.Generator().manual_seed(0)
    batches = [
        torch.randn(2, 5, 4, generator=generator, dtype=torch.float64) for _ in range(4)
    ]
    whole = MomentAccumulator(4, entries, views=2, tangents=0, blocks=2)
    parts = [
        MomentAccumulator(4, entries, views=2, tangents=0, blocks=2) for _ in range(2)
    ]
    for index, batch in enumerate(batches):
        whole.add(index % 2, batch)
        parts[index // 2].add(index % 2, batch)
    parts[0].merge(parts[1])
    for order in entries:
        assert torch.allclose(whole.view_sums[order], parts[0].view_sums[order])
    assert torch.equal(whole.counts, parts[0].counts)


def test_multiset_count_formula():
    for sites, order in itertools.product(range(1, 6), range(1, 5)):
        brute = len(list(itertools.combinations_with_replacement(range(sites), order)))
        assert multiset_count(sites, order) == brute
