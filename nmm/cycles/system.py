"""The collocation system of one model: residual, Jacobian, Newton, tangent and Floquet multipliers.

A point of a cycle branch is the vector ``z = [U.ravel(), log T, p / sp]`` with ``U`` the
node values (``K = ntst ncol + 1`` nodes, scaled states ``x / sx``) on a mesh of [0, 1].
The right-hand side and the analytic Jacobians (``F_x``, ``F_p``) of the compiled model
are evaluated at every collocation point in one compiled call (:mod:`.pointwise`); Newton's method factorises the
bordered block Jacobian by condensation (:class:`.collocation.CondensedLU`) and reuses the
factorisation (chord steps) while the corrections shrink fast enough.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType

import numpy as np

from ..codegen import CompiledModel
from .collocation import CondensedLU, monodromy, node_weights, tables
from .pointwise import pointwise_module

__all__ = ["CycleSystem", "Solved"]


@dataclass
class Solved:
    """A corrected point: ``z``, its collocation blocks (for Floquet multipliers) and the
    factorised Jacobian (for the tangent)."""

    z: np.ndarray
    blocks: np.ndarray
    lu: CondensedLU
    iterations: int


@dataclass
class CycleSystem:
    """Collocation equations of ``cm`` with parameter ``k`` free (see the module docstring)."""

    cm: CompiledModel
    p: np.ndarray
    k: int
    sx: np.ndarray
    sp: float
    ntst: int
    ncol: int
    _pw: ModuleType | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return self.sx.size

    @property
    def K(self) -> int:
        return self.ntst * self.ncol + 1

    # --- unpacking
    def split(self, z: np.ndarray) -> tuple[np.ndarray, float, float]:
        """Node values (K, n) scaled, the period and the parameter (model units)."""
        return z[:-2].reshape(self.K, self.n), float(np.exp(z[-2])), float(z[-1] * self.sp)

    def pack(self, U: np.ndarray, T: float, pval: float) -> np.ndarray:
        return np.concatenate([np.asarray(U, dtype=float).ravel(), [np.log(T), pval / self.sp]])

    def params(self, pval: float) -> np.ndarray:
        pv = self.p.copy()
        pv[self.k] = pval
        return pv

    def weights(self, mesh: np.ndarray) -> np.ndarray:
        """Weights of the inner product of two points (nodes by quadrature; ``log T``, ``p``: 1)."""
        W = np.repeat(node_weights(mesh, self.ncol), self.n)
        return np.concatenate([W, [1.0, 1.0]])

    # --- model evaluations at the collocation points
    def _points(self, U: np.ndarray) -> np.ndarray:
        tb = tables(self.ncol)
        N, m = self.ntst, self.ncol
        Ub = U[np.arange(N)[:, None] * m + np.arange(m + 1)[None, :]]  # (N, m+1, n)
        return np.einsum("ki,jin->jkn", tb.L, Ub)

    def _eval(self, X: np.ndarray, pval: float, jac: bool) -> tuple[np.ndarray, ...]:
        pv = self.params(pval)
        sx = self.sx
        flat = np.ascontiguousarray(X.reshape(-1, self.n) * sx)
        if self._pw is None:
            self._pw = pointwise_module(self.cm)
        if not jac:
            return (self._pw.rhs_all(flat, pv) / sx,)
        F, J, G = self._pw.jac_all(flat, pv, self.k)
        return F / sx, J * (sx[None, None, :] / sx[None, :, None]), G * (self.sp / sx)

    def phase_row(self, Uref: np.ndarray, mesh: np.ndarray) -> np.ndarray:
        """Coefficients ``c`` (K n) of the phase condition ``c . (U - Uref) = 0``."""
        tb = tables(self.ncol)
        N, m = self.ntst, self.ncol
        Ub = Uref[np.arange(N)[:, None] * m + np.arange(m + 1)[None, :]]
        dref = np.einsum("ki,jin->jkn", tb.D, Ub)  # h_j u_ref' at the Gauss points
        per = np.einsum("k,ki,jkn->jin", tb.w, tb.L, dref)  # (N, m+1, n)
        c = np.zeros((self.K, self.n))
        for i in range(m + 1):
            c[i: i + N * m: m] += per[:, i]
        return c.ravel()

    def residual(self, z: np.ndarray, mesh: np.ndarray, cphase: np.ndarray, Uref: np.ndarray,
                 a: np.ndarray, b: float) -> np.ndarray:
        U, T, pval = self.split(z)
        r_col, _ = self._collocation(U, T, pval, mesh, jac=False)
        return np.concatenate([r_col, U[0] - U[-1], [cphase @ (U - Uref).ravel()], [a @ z - b]])

    def _collocation(self, U: np.ndarray, T: float, pval: float, mesh: np.ndarray,
                     jac: bool) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        tb = tables(self.ncol)
        N, m, n = self.ntst, self.ncol, self.n
        h = np.diff(mesh)
        Ub = U[np.arange(N)[:, None] * m + np.arange(m + 1)[None, :]]
        X = np.einsum("ki,jin->jkn", tb.L, Ub)
        dU = np.einsum("ki,jin->jkn", tb.D, Ub) / h[:, None, None]
        ev = self._eval(X, pval, jac)
        F = ev[0].reshape(N, m, n)
        r = (dU - T * F).ravel()
        if not jac:
            return r, None
        Js = ev[1].reshape(N, m, n, n)
        G = ev[2].reshape(N, m, n)
        eye = np.eye(n)
        blocks = ((tb.D[None, :, :, None, None] / h[:, None, None, None, None]) * eye
                  - T * tb.L[None, :, :, None, None] * Js[:, :, None, :, :])
        return r, (blocks, -T * F, -T * G)

    # --- Newton, tangent, multipliers
    def newton(self, z0: np.ndarray, mesh: np.ndarray, Uref: np.ndarray, a: np.ndarray, b: float,
               tol: float, maxit: int = 12) -> Solved | None:
        """Corrector: collocation, periodicity, phase (against ``Uref``) and ``a . z = b``."""
        cphase = self.phase_row(Uref, mesh)
        refv = cphase @ Uref.ravel()
        z = z0.copy()
        lu = None
        blocks = None
        prev = np.inf
        for it in range(1, maxit + 1):
            U, T, pval = self.split(z)
            fresh = lu is None
            r_col, parts = self._collocation(U, T, pval, mesh, jac=fresh)
            g = np.concatenate([r_col, U[0] - U[-1], [cphase @ U.ravel() - refv], [a @ z - b]])
            if not np.all(np.isfinite(g)):
                return None
            if fresh:
                assert parts is not None
                blocks, lu = parts[0], self._factor(parts, cphase, a)
            if lu is None:
                return None
            dz = lu.solve(-g)
            if not np.all(np.isfinite(dz)):
                return None
            step = float(np.max(np.abs(dz)))
            z = z + dz
            if step < tol:
                if not fresh:  # blocks of the final point for the multipliers
                    U, T, pval = self.split(z)
                    _, parts = self._collocation(U, T, pval, mesh, jac=True)
                    assert parts is not None
                    blocks, lu = parts[0], self._factor(parts, cphase, a)
                    if lu is None:
                        return None
                assert blocks is not None
                return Solved(z, blocks, lu, it)
            if step > 0.3 * prev and not fresh:  # chord steps too slow: refactorise
                lu = None
            elif step > 0.5 * prev and fresh and it > 2:
                return None  # diverging
            prev = step
        return None

    @staticmethod
    def _factor(parts: tuple[np.ndarray, ...], cphase: np.ndarray,
                a: np.ndarray) -> CondensedLU | None:
        """The condensed factorisation of the Jacobian from :meth:`_collocation`'s parts
        (``None`` when it is singular)."""
        try:
            return CondensedLU(parts[0], parts[1], parts[2], cphase, a)
        except (RuntimeError, np.linalg.LinAlgError):
            return None

    def tangent(self, s: Solved, W: np.ndarray, prev: np.ndarray) -> np.ndarray:
        """The unit tangent at a corrected point (oriented like ``prev``), from its factorisation:
        the last row of the Jacobian is ``W * prev``."""
        rhs = np.zeros(s.z.size)
        rhs[-1] = 1.0
        t = s.lu.solve(rhs)
        return t / np.sqrt(t @ (W * t))

    @staticmethod
    def multipliers(s: Solved | np.ndarray) -> np.ndarray:
        """Floquet multipliers of a corrected point (or of collocation blocks), by decreasing modulus."""
        if isinstance(s, Solved):
            M = np.eye(s.lu.n)
            for T in s.lu.transfer():
                M = T @ M
        else:
            M, _ = monodromy(s)
        mu = np.linalg.eigvals(M)
        return mu[np.argsort(-np.abs(mu), kind="stable")]
