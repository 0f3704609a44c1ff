"""Streaming sums of moments over unique entries of symmetric correlator tensors.

A site s is a pair (input point, output index), flattened as s = point * d_out + output.
An order-n moment E[F_s1 ... F_sn] is symmetric in its sites, so only multisets
s1 <= ... <= sn are kept: C(S + n - 1, n) entries instead of S^n. Dense orders (n <= 4)
are computed per batch as one matrix product of monomial features, Mono_a^T Mono_b with
a + b = n (for n = 4, the S(S+1)/2 unique site pairs against themselves), and the
entries of the product that belong to each multiset are gathered. Higher orders are
computed only on requested multisets, as direct products.

Lie derivatives use a tangent D (the derivative of the outputs along a generator):
L G(s1..sn) = sum_k E[D_sk prod_{j != k} F_sj], computed from D^T Mono_{n-1}.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np
import torch

MAX_DENSE_ORDER = 4


def multiset_count(sites: int, order: int) -> int:
    """Number of unique entries C(sites + order - 1, order)."""
    return math.comb(sites + order - 1, order)


def colex_rank(sorted_tuples: np.ndarray) -> np.ndarray:
    """Rank multisets (rows sorted ascending) in colexicographic order.

    With c_k = i_k + k (k from 0), the rank is sum_k C(c_k, k + 1); ranks of all
    multisets of a given order over S sites are exactly 0 .. C(S + n - 1, n) - 1.
    """
    sorted_tuples = np.asarray(sorted_tuples, dtype=np.int64)
    order = sorted_tuples.shape[-1]
    rank = np.zeros(sorted_tuples.shape[:-1], dtype=np.int64)
    for k in range(order):
        c = sorted_tuples[..., k] + k
        rank += _binomial_column(c, k + 1)
    return rank


def _binomial_column(c: np.ndarray, k: int) -> np.ndarray:
    # C(c, k) for integer arrays, exact in int64 for the sizes used here.
    result = np.ones_like(c)
    for j in range(k):
        result = result * (c - j)
    return result // math.factorial(k)


@lru_cache(maxsize=64)
def dense_entries(sites: int, order: int) -> np.ndarray:
    """Return all multisets of `order` sites, shape [C(S+n-1, n), n], in colex rank order."""
    if order == 0:
        return np.zeros((1, 0), dtype=np.int64)
    flat = np.fromiter(
        itertools.chain.from_iterable(
            itertools.combinations_with_replacement(range(sites), order)
        ),
        dtype=np.int64,
    )
    grids = flat.reshape(-1, order)
    ranks = colex_rank(grids)
    entries = np.empty_like(grids)
    entries[ranks] = grids
    return entries


def _split_orders(order: int) -> tuple[int, int]:
    low = order // 2
    return low, order - low


@lru_cache(maxsize=64)
def _dense_gather(sites: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of Mono_a^T Mono_b holding each multiset of `order`."""
    a, _ = _split_orders(order)
    entries = dense_entries(sites, order)
    rows = colex_rank(entries[:, :a]) if a > 0 else np.zeros(len(entries), np.int64)
    cols = colex_rank(entries[:, a:])
    return rows, cols


@lru_cache(maxsize=64)
def _lie_gather(sites: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices into D^T Mono_{n-1} [S, E_{n-1}] for every (multiset, position)."""
    entries = dense_entries(sites, order)
    return _lie_gather_for(entries)


def _lie_gather_for(entries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = entries.shape[1]
    site_index = entries.T.copy()  # [order, E]
    rest_index = np.empty_like(site_index)
    for k in range(order):
        rest = np.delete(entries, k, axis=1)
        rest_index[k] = colex_rank(rest) if order > 1 else 0
    return site_index, rest_index


def monomials(site_major: torch.Tensor, degree: int) -> torch.Tensor:
    """Monomial features prod_k F_{s_k} for all multisets of `degree`.

    Takes site-major features [..., S, batch] and returns [..., E, batch]; selecting
    whole rows keeps every gather a contiguous copy.
    """
    sites = site_major.shape[-2]
    if degree == 0:
        shape = (*site_major.shape[:-2], 1, site_major.shape[-1])
        return torch.ones(shape, dtype=site_major.dtype, device=site_major.device)
    entries = _entries_tensor(sites, degree, site_major.device)
    result = site_major.index_select(-2, entries[0])
    for k in range(1, degree):
        result = result * site_major.index_select(-2, entries[k])
    return result


# Index tensors on each device, keyed by (kind, sites, order, device), so the hot loop
# never copies an index array from the host.
_INDEX_TENSORS: dict = {}


def _entries_tensor(sites: int, degree: int, device: torch.device) -> torch.Tensor:
    key = ("entries", sites, degree, str(device))
    if key not in _INDEX_TENSORS:
        columns = np.ascontiguousarray(dense_entries(sites, degree).T)
        _INDEX_TENSORS[key] = torch.as_tensor(columns, device=device)
    return _INDEX_TENSORS[key]


def _dense_flat_gather(
    sites: int, order: int, columns: int, device: torch.device
) -> torch.Tensor:
    """Flat indices into Mono_a^T Mono_b (`columns` wide) of every multiset."""
    key = ("dense", sites, order, str(device))
    if key not in _INDEX_TENSORS:
        rows, cols = _dense_gather(sites, order)
        _INDEX_TENSORS[key] = torch.as_tensor(rows * columns + cols, device=device)
    return _INDEX_TENSORS[key]


def _lie_flat_gather(
    sites: int, order: int, columns: int, device: torch.device
) -> torch.Tensor:
    """Flat indices into D^T Mono_{n-1} (`columns` wide), position-major."""
    key = ("lie", sites, order, str(device))
    if key not in _INDEX_TENSORS:
        site_index, rest_index = _lie_gather(sites, order)
        flat = (site_index * columns + rest_index).flatten()
        _INDEX_TENSORS[key] = torch.as_tensor(flat, device=device)
    return _INDEX_TENSORS[key]


def dense_moment_sums(features: torch.Tensor, order: int) -> torch.Tensor:
    """Sum over the batch of every unique order-n product: [views, batch, S] -> [views, E]."""
    sites = features.shape[-1]
    site_major = features.transpose(-1, -2).contiguous()
    a, b = _split_orders(order)
    left = monomials(site_major, a)
    right = left if a == b else monomials(site_major, b)
    products = torch.matmul(left, right.transpose(-1, -2))  # [views, E_a, E_b]
    flat = _dense_flat_gather(sites, order, products.shape[-1], features.device)
    return products.flatten(-2).index_select(-1, flat)


def dense_lie_sums(
    features: torch.Tensor, tangents: torch.Tensor, order: int
) -> torch.Tensor:
    """Sum over the batch of L G(s1..sn) for each tangent: ([batch, S], [L, batch, S])."""
    sites = features.shape[-1]
    mono = monomials(features.T.contiguous(), order - 1)  # [E_{n-1}, batch]
    mixed = torch.matmul(tangents.transpose(-1, -2), mono.T)  # [L, S, E_{n-1}]
    flat = _lie_flat_gather(sites, order, mixed.shape[-1], features.device)
    gathered = mixed.flatten(-2).index_select(-1, flat)
    return gathered.reshape(tangents.shape[0], order, -1).sum(1)


def tuple_moment_sums(features: torch.Tensor, entries: np.ndarray) -> torch.Tensor:
    """Sum over the batch of products on given multisets: [views, batch, S] -> [views, T]."""
    index = torch.as_tensor(entries, device=features.device)
    product = features[..., index[:, 0]]
    for k in range(1, entries.shape[1]):
        product = product * features[..., index[:, k]]
    return product.sum(-2)


def tuple_lie_sums(
    features: torch.Tensor, tangents: torch.Tensor, entries: np.ndarray
) -> torch.Tensor:
    """Lie-derivative sums on given multisets: ([batch, S], [L, batch, S]) -> [L, T]."""
    index = torch.as_tensor(entries, device=features.device)
    order = entries.shape[1]
    total = torch.zeros(
        (tangents.shape[0], len(entries)), dtype=features.dtype, device=features.device
    )
    for k in range(order):
        product = tangents[..., index[:, k]]
        for j in range(order):
            if j != k:
                product = product * features[..., index[:, j]]
        total = total + product.sum(-2)
    return total


def feature_width(sites: int, order: int) -> int:
    """Columns of the monomial features built per network for a dense order."""
    a, b = _split_orders(order)
    return multiset_count(sites, a) + multiset_count(sites, b)


class MomentAccumulator:
    """Per-block sums of moments (and Lie derivatives) for several views.

    A view is one transformed copy of the outputs of the same networks (identity, R f,
    or f(g x)), so differences between views use common random numbers. State is plain
    numpy-convertible tensors, so accumulators from different chunks or workers merge
    exactly by addition.
    """

    def __init__(
        self,
        sites: int,
        entries: dict[int, np.ndarray],
        views: int,
        tangents: int,
        blocks: int,
        device: torch.device | str = "cpu",
    ):
        self.sites = sites
        self.entries = {
            order: np.asarray(e, dtype=np.int64) for order, e in entries.items()
        }
        self.views = views
        self.tangents = tangents
        self.blocks = blocks
        self.device = torch.device(device)
        self.view_sums = {
            order: torch.zeros(
                (blocks, views, len(e)), dtype=torch.float64, device=self.device
            )
            for order, e in self.entries.items()
        }
        self.tangent_sums = {
            order: torch.zeros(
                (blocks, tangents, len(e)), dtype=torch.float64, device=self.device
            )
            for order, e in self.entries.items()
        }
        self.counts = torch.zeros(blocks, dtype=torch.int64, device=self.device)

    def _dense(self, order: int) -> bool:
        return order <= MAX_DENSE_ORDER and len(self.entries[order]) == multiset_count(
            self.sites, order
        )

    def add(
        self, block: int, features: torch.Tensor, tangents: torch.Tensor | None = None
    ) -> None:
        """Add a batch: features [views, batch, S], tangents [L, batch, S] (float64).

        Tangents are derivatives of view 0 (the untransformed outputs).
        """
        for order, entries in self.entries.items():
            if self._dense(order):
                sums = dense_moment_sums(features, order)
            else:
                sums = tuple_moment_sums(features, entries)
            self.view_sums[order][block] += sums
            if self.tangents:
                if self._dense(order):
                    lie = dense_lie_sums(features[0], tangents, order)
                else:
                    lie = tuple_lie_sums(features[0], tangents, entries)
                self.tangent_sums[order][block] += lie
        self.counts[block] += features.shape[1]

    def empty_like(self, blocks: int | None = None) -> MomentAccumulator:
        """Return a zeroed accumulator with the same entries, views and tangents."""
        return MomentAccumulator(
            self.sites,
            self.entries,
            self.views,
            self.tangents,
            self.blocks if blocks is None else blocks,
            self.device,
        )

    def add_block(self, block: int, partial: MomentAccumulator) -> None:
        """Add the sums of a one-block accumulator (one chunk's sums) into `block`.

        Floating-point addition is not associative, so totals are bitwise
        reproducible only when partials are added in the same order every time.
        """
        if partial.blocks != 1:
            raise ValueError(f"expected a one-block partial, got {partial.blocks}")
        for order in self.entries:
            self.view_sums[order][block] += partial.view_sums[order][0].to(self.device)
            self.tangent_sums[order][block] += partial.tangent_sums[order][0].to(
                self.device
            )
        self.counts[block] += partial.counts[0].to(self.device)

    def merge(self, other: MomentAccumulator) -> None:
        """Add another accumulator's sums (same plan) into this one."""
        for order in self.entries:
            self.view_sums[order] += other.view_sums[order].to(self.device)
            self.tangent_sums[order] += other.tangent_sums[order].to(self.device)
        self.counts += other.counts.to(self.device)

    def state(self) -> dict[str, np.ndarray]:
        """Return the sums as numpy arrays (for checkpoints and transfer)."""
        state = {"counts": self.counts.cpu().numpy()}
        for order in self.entries:
            state[f"view_sums_{order}"] = self.view_sums[order].cpu().numpy()
            state[f"tangent_sums_{order}"] = self.tangent_sums[order].cpu().numpy()
        return state

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Replace the sums with a saved state of the same plan."""
        self.counts = torch.as_tensor(state["counts"], device=self.device).clone()
        for order in self.entries:
            self.view_sums[order] = torch.as_tensor(
                state[f"view_sums_{order}"], device=self.device
            ).clone()
            self.tangent_sums[order] = torch.as_tensor(
                state[f"tangent_sums_{order}"], device=self.device
            ).clone()

    def state_bytes(self) -> int:
        """Memory held by the block sums."""
        per_block = sum(len(e) for e in self.entries.values()) * (
            self.views + self.tangents
        )
        return 8 * self.blocks * per_block

    def block_means(self, order: int, kind: str = "view") -> np.ndarray:
        """Block means [blocks, views or tangents, E] of an order."""
        counts = self.counts.cpu().numpy().astype(np.float64)
        if np.any(counts == 0):
            empty = np.flatnonzero(counts == 0).tolist()
            raise ValueError(f"blocks {empty} received no networks")
        sums = self.view_sums if kind == "view" else self.tangent_sums
        return sums[order].cpu().numpy() / counts[:, None, None]


def entries_for(
    sites: int, orders: list[int], tuples: list[list[int]] | None = None
) -> dict[int, np.ndarray]:
    """Entries to accumulate: all multisets for dense orders, requested ones above."""
    entries = {}
    for order in orders:
        if order <= MAX_DENSE_ORDER:
            entries[order] = dense_entries(sites, order)
            continue
        requested = [sorted(t) for t in (tuples or []) if len(t) == order]
        unique = np.unique(
            np.asarray(requested, dtype=np.int64).reshape(-1, order), axis=0
        )
        entries[order] = unique
    return entries
