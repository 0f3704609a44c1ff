"""Certificates: symmetries proven from the parameter law alone, with no sampling.

A transformation g of inputs or outputs induces a map on parameters (output rotation R:
W_last -> R W_last and b_last -> R b_last; input map g: W_first -> W_first g; input
shift c: b_first -> b_first + W_first c). If the parameter law is invariant under that
map, the density over functions is invariant. This is a sufficient condition, so a
certificate reports "certified" or "not certified", never "broken".

Invariance of a law with independent entries, entry means M and identical centered
noise: a signed permutation maps it to itself exactly when it fixes M (every law here
has symmetric noise); a general orthogonal matrix needs Gaussian noise as well, since
by Maxwell's theorem only the Gaussian is rotation invariant among independent laws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dualsym.config import EnsembleConfig, GroupConfig
from dualsym.ensemble.ensemble import MLPArchitecture
from dualsym.ensemble.laws import ParameterLaw
from dualsym.groups import Group, make_group

TOLERANCE = 1e-10


@dataclass(frozen=True)
class Stabilizer:
    """Subgroup of O(d) fixing a set of vectors: O(d - r) on their orthogonal complement.

    `basis` [d, d - r] is an orthonormal basis of the complement, the subspace on which
    the surviving rotations act; `fixed_rank` is r, the rank of the fixed vectors.
    """

    dimension: int
    fixed_rank: int
    basis: np.ndarray

    @property
    def name(self) -> str:
        """Name of the surviving group, e.g. 'O(8)' or 'trivial'."""
        free = self.dimension - self.fixed_rank
        if free == 0:
            return "trivial"
        if free == 1 and self.fixed_rank > 0:
            return "Z_2 (reflection of the complement)"
        return f"O({free})" if self.fixed_rank else f"O({self.dimension})"


def orthogonal_stabilizer(vectors: np.ndarray, tol: float = TOLERANCE) -> Stabilizer:
    """Return the subgroup of O(d) fixing every column of `vectors` [d, m]."""
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
    dimension = vectors.shape[0]
    if vectors.size == 0 or not np.any(np.abs(vectors) > tol):
        return Stabilizer(dimension, 0, np.eye(dimension))
    left, singular, _ = np.linalg.svd(vectors, full_matrices=True)
    rank = int(np.sum(singular > tol * max(1.0, singular.max())))
    return Stabilizer(dimension, rank, left[:, rank:])


def law_stabilizer(mean_rows: np.ndarray, laws: list[ParameterLaw]) -> str:
    """Name the largest group of the acted-on coordinates that leaves the laws invariant.

    `mean_rows` has one row per acted-on coordinate (the parameter means it moves).
    Gaussian laws keep the rotations fixing those rows, O(d - r). Other laws with
    independent entries keep only signed permutations: equal nonzero rows may be
    permuted among themselves, and zero rows may also change sign.
    """
    if all(law.kind == "normal" or law.spread == 0 for law in laws):
        return orthogonal_stabilizer(mean_rows).name
    # NOTE: swapping a row with its negative (with a sign flip) is also a symmetry,
    # and it is not included in the name.
    factors = []
    rows = np.round(np.asarray(mean_rows, dtype=np.float64), 12)
    _, inverse, counts = np.unique(
        rows, axis=0, return_inverse=True, return_counts=True
    )
    for index, count in enumerate(counts):
        zero = not np.any(rows[np.flatnonzero(inverse.ravel() == index)[0]])
        if zero:
            factors.append(f"B_{count}")
        elif count > 1:
            factors.append(f"S_{count}")
    return " x ".join(factors) if factors else "trivial"


@dataclass(frozen=True)
class Certificate:
    """Outcome of checking a group against the parameter law."""

    status: str  # "certified" or "not certified"
    reason: str
    stabilizer: str | None = None

    @property
    def certified(self) -> bool:
        """True when the law is proven invariant."""
        return self.status == "certified"


def _is_orthogonal(matrix: np.ndarray) -> bool:
    return np.allclose(matrix @ matrix.T, np.eye(len(matrix)), atol=1e-9)


def _is_signed_permutation(matrix: np.ndarray) -> bool:
    return _is_orthogonal(matrix) and np.all(
        np.isclose(np.abs(matrix), 0) | np.isclose(np.abs(matrix), 1)
    )


def _law_invariant(
    law: ParameterLaw, moved_mean: np.ndarray, matrix: np.ndarray
) -> str | None:
    """Return None if the map leaves the law invariant, else the reason it does not."""
    if not np.allclose(moved_mean, law.mean, atol=1e-9):
        return "it moves the mean of the parameters"
    if law.spread == 0 or _is_signed_permutation(matrix):
        return None
    if not _is_orthogonal(matrix):
        return "it is not orthogonal, and no law of independent entries is invariant"
    if law.kind != "normal":
        return (
            f"entries are {law.kind}, and only Gaussian entries are rotation invariant"
        )
    return None


def _transforms(group: Group, elements: int = 16) -> list[np.ndarray]:
    """Elements whose invariance implies the group's: generators' flows, finite set."""
    rng = np.random.default_rng(0)
    if group.elements is not None:
        return list(group.elements)
    mats = [_flow(generator) for generator in group.lie_algebra]
    return mats + list(group.sample(elements, rng))


def _flow(generator: np.ndarray, t: float = 0.7) -> np.ndarray:
    from scipy.linalg import expm

    return expm(t * generator)


def certify(ensemble: EnsembleConfig, group: GroupConfig, acts_on: str) -> Certificate:
    """Decide from the parameter law alone whether the density is invariant.

    Example:
        >>> certify(config.ensembles[0], GroupConfig(kind="SO", n=5), "output").status
        'certified'
    """
    if ensemble.architecture != "mlp":
        return Certificate(
            "not certified", "custom architecture: its parameter map is not known"
        )
    architecture = MLPArchitecture(ensemble, ensemble.widths[0])
    laws = {spec.name: spec.law for spec in architecture.specs}
    last = ensemble.hidden_layers
    built = make_group(group)

    if group.kind == "translations":
        return _certify_translation(ensemble, laws)

    if acts_on == "output":
        tensors = [("W", laws[f"W{last}"])]
        if f"b{last}" in laws:
            tensors.append(("b", laws[f"b{last}"]))
        readout_mean = [laws[f"W{last}"].mean]
        if f"b{last}" in laws:
            readout_mean.append(laws[f"b{last}"].mean[:, None])
        stabilizer = law_stabilizer(
            np.concatenate(readout_mean, axis=1), [law for _, law in tensors]
        )
    else:
        tensors = [("Win", laws["W0"])]
        stabilizer = law_stabilizer(laws["W0"].mean.T, [laws["W0"]])

    for matrix in _transforms(built):
        for kind, law in tensors:
            if kind == "Win":
                # W_first -> W_first g acts on each row by g^T.
                reason = _law_invariant(law, law.mean @ matrix, matrix.T)
            else:
                reason = _law_invariant(law, matrix @ law.mean, matrix)
            if reason is not None:
                layer = "first-layer weights" if kind == "Win" else "readout"
                return Certificate(
                    "not certified",
                    f"{built.name} acting on the {acts_on}: the induced map on the "
                    f"{layer} is not a symmetry of the law of those parameters "
                    f"({reason})",
                    stabilizer,
                )
    return Certificate(
        "certified",
        f"the law of the {'readout' if acts_on == 'output' else 'first layer'} is "
        f"invariant under the induced map of every tested element of {built.name}",
        stabilizer,
    )


def _certify_translation(ensemble: EnsembleConfig, laws: dict) -> Certificate:
    bias = laws.get("b0")
    if ensemble.activation != "cos":
        return Certificate(
            "not certified",
            f"a shift x -> x + c moves the first-layer bias by W c, which is no symmetry "
            f"of the law unless the activation is periodic ({ensemble.activation!r})",
        )
    if bias is None or bias.kind != "uniform" or bias.offset is not None:
        return Certificate(
            "not certified",
            "translations of a cos-net need a first-layer bias uniform over whole "
            "periods",
        )
    periods = (2 * bias.spread) / (2 * np.pi)
    if not np.isclose(periods, round(periods)) or round(periods) < 1:
        return Certificate(
            "not certified",
            f"the first-layer bias covers {periods:.4f} periods of cos; a whole number "
            f"is needed for b -> b + W c (mod 2 pi) to keep its law",
        )
    return Certificate(
        "certified",
        "cos is 2 pi periodic and the first-layer bias is uniform over whole periods, "
        "so b -> b + W c leaves its law (and independence from W) unchanged",
        f"T({ensemble.d_in})",
    )
