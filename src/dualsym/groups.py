"""Transformation groups as data: elements, Haar sampling and Lie algebra bases.

A linear group acts on vectors of its dimension by matrices; the translation group acts
on inputs by x -> x + c. Continuous groups expose a Lie algebra basis (matrices A with
g = exp(t A), or unit shift directions for translations); finite groups list or sample
their non-identity elements. Haar samples come from scipy.stats.special_ortho_group and
ortho_group, never from exponentials of random generators (those are not Haar).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from dualsym.config import GroupConfig
from dualsym.errors import InputError

MAX_ENUMERATED = 50_000


@dataclass
class Group:
    """A group acting on R^dimension.

    `elements` contains every element of a finite group (identity included) as matrices,
    or None for continuous groups. `lie_algebra` has shape [generators, d, d] for linear
    groups and [generators, d] (shift directions) for translations.
    """

    name: str
    dimension: int
    kind: str
    lie_algebra: np.ndarray
    elements: np.ndarray | None = None
    translation: bool = False
    _sampler: object = field(default=None, repr=False)

    @property
    def continuous(self) -> bool:
        """True when the group has a non-trivial Lie algebra."""
        return len(self.lie_algebra) > 0

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """Draw `count` elements uniformly (Haar for compact Lie groups)."""
        if count == 0:
            shape = (
                (0, self.dimension)
                if self.translation
                else (0,) + (self.dimension,) * 2
            )
            return np.zeros(shape)
        return np.asarray(self._sampler(count, rng), dtype=np.float64)

    def elements_to_test(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """Pick `count` non-identity elements to test.

        A finite group with at most `count` non-identity elements is tested on all of
        them; larger groups are sampled without the identity.
        """
        if count == 0:
            return self.sample(0, rng)
        if self.elements is not None:
            identity = np.eye(self.dimension)
            others = [g for g in self.elements if not np.allclose(g, identity)]
            if len(others) <= count:
                return np.asarray(others, dtype=np.float64).reshape(
                    -1, self.dimension, self.dimension
                )
            chosen = rng.choice(len(others), size=count, replace=False)
            return np.asarray([others[i] for i in sorted(chosen)])
        return self.sample(count, rng)


def rotation_generators(dimension: int) -> np.ndarray:
    """Basis E_ij - E_ji (i < j) of so(dimension)."""
    basis = []
    for i, j in itertools.combinations(range(dimension), 2):
        generator = np.zeros((dimension, dimension))
        generator[i, j] = -1.0
        generator[j, i] = 1.0
        basis.append(generator)
    return np.asarray(basis).reshape(-1, dimension, dimension)


def _haar_special_orthogonal(dimension: int):
    def sample(count: int, rng: np.random.Generator) -> np.ndarray:
        if dimension == 1:
            return np.ones((count, 1, 1))
        draws = stats.special_ortho_group(dim=dimension, seed=rng).rvs(size=count)
        return np.asarray(draws).reshape(count, dimension, dimension)

    return sample


def _haar_orthogonal(dimension: int):
    def sample(count: int, rng: np.random.Generator) -> np.ndarray:
        if dimension == 1:
            return rng.choice([-1.0, 1.0], size=count).reshape(count, 1, 1)
        draws = stats.ortho_group(dim=dimension, seed=rng).rvs(size=count)
        return np.asarray(draws).reshape(count, dimension, dimension)

    return sample


def _uniform_from(elements: np.ndarray):
    def sample(count: int, rng: np.random.Generator) -> np.ndarray:
        return elements[rng.integers(len(elements), size=count)]

    return sample


def _permutation_matrix(permutation) -> np.ndarray:
    n = len(permutation)
    matrix = np.zeros((n, n))
    matrix[np.asarray(permutation), np.arange(n)] = 1.0
    return matrix


def _planar(angle: float, reflect: bool) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    rotation = np.array([[c, -s], [s, c]])
    if reflect:
        rotation = rotation @ np.diag([1.0, -1.0])
    return rotation


def make_group(config: GroupConfig) -> Group:
    """Build the group described by a validated `GroupConfig`."""
    kind = config.kind
    n = config.dimension
    empty = np.zeros((0, n, n))
    if kind == "SO":
        return Group(
            f"SO({n})",
            n,
            kind,
            rotation_generators(n),
            None,
            False,
            _haar_special_orthogonal(n),
        )
    if kind == "O":
        return Group(
            f"O({n})", n, kind, rotation_generators(n), None, False, _haar_orthogonal(n)
        )
    if kind in ("permutations", "signed_permutations"):
        signed = kind == "signed_permutations"
        size = math.factorial(n) * (2**n if signed else 1)
        if size <= MAX_ENUMERATED:
            elements = _enumerate_permutations(n, signed)
            sampler = _uniform_from(elements)
        else:
            elements = None
            sampler = _random_permutations(n, signed)
        name = f"B_{n} (signed permutations)" if signed else f"S_{n}"
        return Group(name, n, kind, empty, elements, False, sampler)
    if kind in ("cyclic", "dihedral"):
        k = config.order
        elements = [_planar(2 * math.pi * j / k, False) for j in range(k)]
        if kind == "dihedral":
            elements += [_planar(2 * math.pi * j / k, True) for j in range(k)]
        elements = np.asarray(elements)
        name = f"C_{k}" if kind == "cyclic" else f"D_{k}"
        return Group(name, 2, kind, empty, elements, False, _uniform_from(elements))
    if kind == "translations":
        directions = np.eye(n)
        if config.box is not None:
            box = np.asarray(config.box, dtype=np.float64)

            def sample(count: int, rng: np.random.Generator) -> np.ndarray:
                return rng.uniform(box[:, 0], box[:, 1], size=(count, n))

            return Group(f"T({n})", n, kind, directions, None, True, sample)
        vectors = np.asarray(config.vectors, dtype=np.float64)
        if vectors.ndim != 2 or vectors.shape[1] != n:
            raise InputError(f"translation `vectors` must all have {n} coordinates")

        def given(count: int, rng: np.random.Generator) -> np.ndarray:
            if count <= len(vectors):
                return vectors[:count]
            return _uniform_from(vectors)(count, rng)

        return Group(f"T({n})", n, kind, directions, None, True, given)
    matrices = np.asarray(config.matrices, dtype=np.float64)
    for index, matrix in enumerate(matrices):
        if abs(np.linalg.det(matrix)) < 1e-12:
            raise InputError(
                f"group.matrices[{index}] is singular (not invertible), so it cannot be a "
                f"group element; replace it"
            )
    return Group(
        f"matrices({len(matrices)})",
        n,
        kind,
        empty,
        matrices,
        False,
        _uniform_from(matrices),
    )


def _enumerate_permutations(n: int, signed: bool) -> np.ndarray:
    elements = []
    for permutation in itertools.permutations(range(n)):
        base = _permutation_matrix(permutation)
        if not signed:
            elements.append(base)
            continue
        for signs in itertools.product((1.0, -1.0), repeat=n):
            elements.append(np.diag(signs) @ base)
    return np.asarray(elements)


def _random_permutations(n: int, signed: bool):
    def sample(count: int, rng: np.random.Generator) -> np.ndarray:
        out = np.empty((count, n, n))
        for index in range(count):
            matrix = _permutation_matrix(rng.permutation(n))
            if signed:
                matrix = np.diag(rng.choice([-1.0, 1.0], size=n)) @ matrix
            out[index] = matrix
        return out

    return sample
