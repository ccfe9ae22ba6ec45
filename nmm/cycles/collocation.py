"""Orthogonal collocation of periodic orbits (as Auto-07p and MatCont).

A periodic orbit ``x(t) = x(t + T)`` of ``x' = f(x, p)`` is written on the unit interval,
``u(s) = x(s T)``, ``u' = T f(u, p)``, in scaled states ``u / sx``. The interval is cut into
``ntst`` mesh intervals; on each ``u`` is a polynomial of degree ``ncol`` given by its values
at ``ncol + 1`` equally spaced nodes (neighbouring intervals share their end node, which
makes ``u`` continuous). The unknowns are the node values (``ntst * ncol + 1`` nodes),
``log T`` and the scaled parameter; the equations are

- collocation: ``u'(z) = T f(u(z), p)`` at the ``ncol`` Gauss-Legendre points ``z`` of each
  interval;
- periodicity: first node = last node;
- the integral phase condition ``int_0^1 (u - u_ref) . u_ref' ds = 0`` against a reference
  orbit (the previous solution), by Gauss quadrature on the mesh;
- one more linear equation ``a . z = b`` (the pseudo-arclength condition, or a fixed
  parameter value).

The Jacobian is sparse with a bordered block structure: one dense ``(ncol n) x ((ncol + 1) n)``
block per mesh interval from the model's analytic Jacobian, the columns of ``log T`` and
``p``, and the dense phase and arclength rows. It is factorised by condensation of
parameters (:class:`CondensedLU`, as Auto-07p): the interior nodes of every interval are
eliminated with batched QR factorisations, and the remaining system in the interval end
nodes, ``log T`` and ``p`` is factorised with ``scipy.sparse.linalg.splu``.
:class:`Pattern` assembles the whole sparse matrix (used to check the condensation).

Floquet multipliers come from the same blocks by condensation: on interval ``j`` the
linearised collocation equations give the nodes ``1..ncol`` from node 0,
``v = -D_j^{-1} C_j v_0``; the product of the interval transfer matrices (last node from
first) is the discrete monodromy matrix.

The mesh is adapted as in Auto-07p: the ``ncol``-th derivative of the piecewise polynomial
is constant on each interval; its jumps estimate the ``(ncol + 1)``-th derivative, whose
``1 / (ncol + 1)`` power is equidistributed over the new mesh.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sps
from scipy.sparse.linalg import splu

__all__ = ["Tables", "tables", "Pattern", "CondensedLU", "evaluate", "adapt_mesh", "remesh", "monodromy"]


@dataclass(frozen=True)
class Tables:
    """Lagrange and Gauss-Legendre tables of one collocation degree ``m``.

    ``L[k, i]`` and ``D[k, i]`` are the basis polynomial ``i`` (on the nodes ``i / m``) and its
    derivative at the Gauss point ``z[k]`` of [0, 1] (weights ``w``, summing to 1); ``coef[i]``
    the power-series coefficients of basis polynomial ``i``; ``nc[i]`` its integral over [0, 1]
    (Newton-Cotes weights); ``dm[i]`` its ``m``-th derivative (a constant).
    """

    m: int
    z: np.ndarray
    w: np.ndarray
    L: np.ndarray
    D: np.ndarray
    coef: np.ndarray
    nc: np.ndarray
    dm: np.ndarray


@lru_cache(maxsize=None)
def tables(m: int) -> Tables:
    """The :class:`Tables` of collocation degree ``m``."""
    x, w = np.polynomial.legendre.leggauss(m)
    z, w = (x + 1) / 2, w / 2
    s = np.arange(m + 1) / m
    P = np.polynomial.polynomial
    coef = np.empty((m + 1, m + 1))
    for i in range(m + 1):
        c = np.array([1.0])
        for j in range(m + 1):
            if j != i:
                c = P.polymul(c, np.array([-s[j], 1.0])) / (s[i] - s[j])
        coef[i] = c
    L = P.polyval(z, coef.T).T
    D = P.polyval(z, np.array([P.polyder(c) for c in coef]).T).T
    nc = np.array([P.polyval(1.0, P.polyint(c)) - P.polyval(0.0, P.polyint(c)) for c in coef])
    dm = coef[:, m] * math.factorial(m)
    return Tables(m, z, w, L, D, coef, nc, dm)


def node_weights(mesh: np.ndarray, m: int) -> np.ndarray:
    """Quadrature weights of the nodes (Newton-Cotes on each interval), summing to 1."""
    tb = tables(m)
    h = np.diff(mesh)
    N = h.size
    W = np.zeros(N * m + 1)
    for i in range(m + 1):
        W[i: i + N * m: m] += h * tb.nc[i]
    return W


def node_times(mesh: np.ndarray, m: int) -> np.ndarray:
    """The times (in [0, 1]) of the ``N m + 1`` nodes."""
    h = np.diff(mesh)
    t = (mesh[:-1, None] + h[:, None] * (np.arange(m) / m)[None, :]).ravel()
    return np.append(t, mesh[-1])


def evaluate(U: np.ndarray, mesh: np.ndarray, m: int, s: np.ndarray, derivative: bool = False) -> np.ndarray:
    """The piecewise polynomial with node values ``U`` (K, n) at times ``s`` (in [0, 1]).

    With ``derivative`` its derivative with respect to ``s``.
    """
    tb = tables(m)
    N = mesh.size - 1
    s = np.asarray(s, dtype=float) % 1.0
    j = np.clip(np.searchsorted(mesh, s, side="right") - 1, 0, N - 1)
    h = mesh[j + 1] - mesh[j]
    loc = (s - mesh[j]) / h
    P = np.polynomial.polynomial
    c = np.array([P.polyder(cc) for cc in tb.coef]) if derivative else tb.coef
    B = P.polyval(loc, c.T).T  # (len(s), m + 1)
    if derivative:
        B = B / h[:, None]
    idx = j[:, None] * m + np.arange(m + 1)[None, :]
    return np.einsum("si,sin->sn", B, U[idx])


def adapt_mesh(U: np.ndarray, mesh: np.ndarray, m: int, N_new: int | None = None) -> np.ndarray:
    """A mesh of ``N_new`` intervals that equidistributes Auto-07p's error monitor for ``U``."""
    tb = tables(m)
    N = mesh.size - 1
    N_new = N if N_new is None else N_new
    h = np.diff(mesh)
    blocks = U[np.arange(N)[:, None] * m + np.arange(m + 1)[None, :]]  # (N, m+1, n)
    dm = np.einsum("i,jin->jn", tb.dm, blocks) / h[:, None] ** m  # m-th derivative per interval
    jump = np.max(np.abs(dm - np.roll(dm, 1, axis=0)), axis=1) / ((h + np.roll(h, 1)) / 2)  # at mesh[j]
    rho = ((jump + np.roll(jump, -1)) / 2) ** (1.0 / (m + 1))
    if not np.all(np.isfinite(rho)) or rho.max() <= 0:
        return np.linspace(0.0, 1.0, N_new + 1)
    rho = rho + 0.15 * np.mean(rho)  # a floor: slow parts keep some intervals
    E = np.concatenate([[0.0], np.cumsum(rho * h)])
    new = np.interp(np.linspace(0.0, E[-1], N_new + 1), E, mesh)
    new[0], new[-1] = 0.0, 1.0
    return new


def remesh(U: np.ndarray, mesh: np.ndarray, m: int, new_mesh: np.ndarray) -> np.ndarray:
    """Node values on ``new_mesh`` of the piecewise polynomial ``U`` on ``mesh``."""
    return np.vstack([evaluate(U, mesh, m, node_times(new_mesh, m)[:-1]), U[:1]])


@dataclass(frozen=True)
class Pattern:
    """The CSC sparsity pattern of the collocation Jacobian for (N, m, n).

    Rows: collocation (``N m n``), periodicity (``n``), phase (1), extra (1); columns: nodes
    (``(N m + 1) n``), ``log T``, ``p``. ``order`` permutes the values, listed block by
    block (see :meth:`values`), into CSC order.
    """

    N: int
    m: int
    n: int
    indices: np.ndarray
    indptr: np.ndarray
    order: np.ndarray

    @property
    def size(self) -> int:
        return (self.N * self.m + 1) * self.n + 2

    @classmethod
    def build(cls, N: int, m: int, n: int) -> Pattern:
        rows, cols = cls._coo(N, m, n)
        size = (N * m + 1) * n + 2
        order = np.lexsort((rows, cols))
        indices = rows[order].astype(np.int32)
        counts = np.bincount(cols, minlength=size)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        return cls(N, m, n, indices, indptr, order)

    @staticmethod
    def _coo(N: int, m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        K = N * m + 1
        j, k, i, a, b = np.meshgrid(np.arange(N), np.arange(m), np.arange(m + 1), np.arange(n), np.arange(n),
                                    indexing="ij")
        r_blk = ((j * m + k) * n + a).ravel()
        c_blk = ((j * m + i) * n + b).ravel()
        r_col = np.arange(N * m * n)
        nU = K * n
        per = N * m * n
        rows = [r_blk, r_col, r_col, per + np.arange(n), per + np.arange(n),
                np.full(nU, per + n), np.full(nU + 2, per + n + 1)]
        cols = [c_blk, np.full(per, nU), np.full(per, nU + 1), np.arange(n), nU - n + np.arange(n),
                np.arange(nU), np.arange(nU + 2)]
        return np.concatenate(rows), np.concatenate(cols)

    def matrix(self, blocks: np.ndarray, dtau: np.ndarray, dp: np.ndarray, phase: np.ndarray,
               extra: np.ndarray) -> sps.csc_matrix:
        """The Jacobian from its parts: ``blocks`` (N, m, m+1, n, n), the ``log T`` and ``p``
        columns of the collocation rows, the phase row (nodes) and the extra row (all)."""
        n = self.n
        data = np.concatenate([blocks.ravel(), dtau.ravel(), dp.ravel(), np.ones(n), -np.ones(n), phase, extra])
        return sps.csc_matrix((data[self.order], self.indices, self.indptr), shape=(self.size, self.size))


def monodromy(blocks: np.ndarray, want_nodes: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """The discrete monodromy matrix from the collocation blocks (N, m, m+1, n, n) by condensation.

    Returns the ``n x n`` matrix (scaled coordinates) and, with ``want_nodes``, the
    fundamental matrix at every node (K, n, n).
    """
    N, m, _, n, _ = blocks.shape
    B = blocks.transpose(0, 1, 3, 2, 4).reshape(N, m * n, (m + 1) * n)
    C, D = B[:, :, :n], B[:, :, n:]
    V = -np.linalg.solve(D, C)  # (N, m n, n): nodes 1..m of each interval from its node 0
    Phi = np.eye(n)
    nodes = [Phi] if want_nodes else []
    for j in range(N):
        Vj = V[j].reshape(m, n, n)
        if want_nodes:
            nodes.extend(Vj[i] @ Phi for i in range(m))
        Phi = Vj[-1] @ Phi
    return Phi, (np.array(nodes) if want_nodes else None)


class CondensedLU:
    """The collocation Jacobian factorised by condensation of parameters (as Auto-07p).

    On each mesh interval the linearised collocation equations are solved for the nodes
    after the first (``D_j`` = their columns, inverted in one batched call): the interval
    end node becomes ``B_{j+1} = -D_j^{-1} (C_j B_j + g_j (dlogT, dp)) + D_j^{-1} r_j``, and the
    phase and extra rows get the interior nodes substituted. What remains is a system in
    the ``ntst + 1`` end nodes, ``log T`` and ``p`` (``(ntst + 1) n + 2`` unknowns: block
    bidiagonal with the periodicity, phase and extra rows), factorised with ``splu``.
    :meth:`solve` takes a right-hand side in the row order of :class:`Pattern`; the
    transfer matrices ``-D_j^{-1} C_j`` (end node from first) give the monodromy matrix.
    """

    def __init__(self, blocks: np.ndarray, dtau: np.ndarray, dp: np.ndarray, phase: np.ndarray,
                 extra: np.ndarray) -> None:
        N, m, _, n, _ = blocks.shape
        self.N, self.m, self.n = N, m, n
        mn, q = m * n, (m - 1) * n
        A = blocks.transpose(0, 1, 3, 2, 4).reshape(N, mn, (m + 1) * n)
        C = A[:, :, :n]
        Dinv = np.linalg.inv(A[:, :, n:])  # (N, mn, mn)
        g = np.stack([dtau.reshape(N, mn), dp.reshape(N, mn)], axis=2)  # (N, mn, 2)
        X = Dinv @ np.concatenate([C, g], axis=2)  # (N, mn, n + 2)
        self.Dinv, self.X = Dinv, X
        K = N * m + 1
        S = (N + 1) * n + 2
        vs = []
        # the interval equations: B_{j+1} + X_end C-part B_j + X_end g-part t = (D^-1 r)_end
        jj, aa, bb = np.meshgrid(np.arange(N), np.arange(n), np.arange(n), indexing="ij")
        diag = np.arange(N * n)
        r_idx = [diag, N * n + np.arange(n), N * n + np.arange(n), (jj * n + aa).ravel()]
        c_idx = [diag + n, np.arange(n), N * n + np.arange(n), (jj * n + bb).ravel()]
        vals = [np.ones(N * n), np.ones(n), -np.ones(n), X[:, -n:, :n].ravel()]
        j2, a2, t2 = np.meshgrid(np.arange(N), np.arange(n), np.arange(2), indexing="ij")
        r_idx.append((j2 * n + a2).ravel())
        c_idx.append(((N + 1) * n + t2).ravel())
        vals.append(X[:, -n:, n:].ravel())
        # the periodicity rows sit at N n (B_0 - B_N); phase and extra rows follow
        for e, vec in enumerate((np.concatenate([phase, [0.0, 0.0]]), extra)):
            U = vec[:-2].reshape(K, n)
            c_int = U[:-1].reshape(N, m, n)[:, 1:, :].reshape(N, q)
            v = np.einsum("jka,jk->ja", Dinv[:, :q, :], c_int)  # interior coefficients through D^-1
            vs.append(v)
            dense = np.zeros(S)
            B = dense[: (N + 1) * n].reshape(N + 1, n)
            B[:] = U[::m]
            B[:-1] -= np.einsum("jk,jka->ja", c_int, X[:, :q, :n])
            dense[-2:] = vec[-2:] - np.einsum("jk,jkt->t", c_int, X[:, :q, n:])
            r_idx.append(np.full(S, (N + 1) * n + e))
            c_idx.append(np.arange(S))
            vals.append(dense)
        self.v = np.stack(vs)  # (2, N, mn)
        red = sps.csc_matrix((np.concatenate(vals), (np.concatenate(r_idx), np.concatenate(c_idx))), shape=(S, S))
        self.lu = splu(red)

    def transfer(self) -> np.ndarray:
        """The interval transfer matrices (N, n, n): end node from first node."""
        return -self.X[:, -self.n:, : self.n]

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        N, m, n = self.N, self.m, self.n
        mn, q = m * n, (m - 1) * n
        rc = rhs[: N * mn].reshape(N, mn)
        y = np.einsum("jab,jb->ja", self.Dinv, rc)  # D^-1 r per interval
        red = np.empty((N + 1) * n + 2)
        red[: N * n] = y[:, -n:].ravel()
        red[N * n:(N + 1) * n] = rhs[N * mn: N * mn + n]
        red[-2:] = rhs[-2:] - np.einsum("eja,ja->e", self.v, rc)
        x = self.lu.solve(red)
        B = x[: (N + 1) * n].reshape(N + 1, n)
        t = x[-2:]
        inner = y[:, :q] - np.einsum("jkb,jb->jk", self.X[:, :q, :n], B[:-1]) - self.X[:, :q, n:] @ t
        U = np.empty((N * m + 1, n))
        U[::m] = B
        U[:-1].reshape(N, m, n)[:, 1:, :] = inner.reshape(N, m - 1, n)
        return np.concatenate([U.ravel(), t])
