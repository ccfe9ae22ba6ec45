"""Generating and compiling the numba functions of a model.

One Python module is generated per (model structure, outputs, solver, precision, swept
parameters, noise structure) and kept by :mod:`nmm.kernel_cache` under a hash of all of
them, so numba's on-disk cache (``cache=True``) lets a second process skip compilation.
The module holds:

``kernel(Y, P, C, NS, RS, IN, DS, L, n_steps, decim, k_first, dt, t0, series, stats)``
    integrates a block of ``N`` points with a fixed-step scheme: ``Y`` (n_states, N) holds
    the initial states and receives the final ones, ``P`` (n_params, N) the parameters
    (only the rows of swept parameters are read), ``C`` (n_params,) the values shared by
    every point; ``NS`` the noise numbers and ``RS`` the generator states
    (:class:`nmm.engine.NoiseValues`), ``IN`` the time-series inputs, ``DS`` the delays in
    steps and ``L`` the ring-buffer length.
    Every ``decim`` steps the sample ``k = step // decim`` of each output is taken; samples
    ``k >= k_first`` go to ``series`` (n_outputs, n_kept, N) when it has room, and into the
    running ``stats`` (3, n_outputs, N): sum, min and max (start them at 0, +inf, -inf).
    The loop over points is parallel (``prange`` over blocks of points, each block
    integrated to the end) and the inner loop over the points of a block reads one flat
    scratch array (:class:`KernelLayout`) so that LLVM vectorizes it.
``rhs(t, y, p)``, ``jac(t, y, p)``, ``jacp(t, y, p)``, ``outputs(t, Y, p)``
    float64 single-point functions with ``math.exp``: the right-hand side, its analytic
    Jacobians with respect to the states and to the parameters (from sympy), and the
    outputs for a (n_states, K) trajectory.

Parameter-only subexpressions (``h/tau``, ``1/tau**2``, ...) are computed once per point
before the time loop. The source is written with :class:`nmm.emitter.Emitter`; the
golden copy of the Jansen-Rit kernel in ``tests/golden/`` shows every change to it.
"""
from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numba
import sympy as sp

from . import kernel_cache
from ._fastmath import FASTMATH_VERSION
from ._random import RANDOM_VERSION
from .emitter import Emitter
from .model import TIME, Model
from .noise import Distribution, KernelNoise
from .printer import Printer
from .kernel_cache import cache_dir
from .solvers import FIXED_STEP, FixedStepScheme
from .types import KernelFunction, OutputsFunction, PointFunction

__all__ = ["CompiledModel", "compile_model", "cache_dir", "kernel_source", "KernelLayout", "block_size"]

CODEGEN_VERSION = "7"


def block_size(dtype: str) -> int:
    """Points per block: each block is integrated to the end by one thread."""
    return 256 if dtype == "float64" else 512


def _hoist(exprs: Sequence[sp.Expr], params: set[sp.Symbol],
           uniform: set[sp.Symbol]) -> tuple[list[sp.Expr], list[tuple[sp.Symbol, sp.Expr, bool]]]:
    """Replace parameter-only subexpressions by new symbols ``q_i``.

    Returns the new expressions and ``[(q, expression, is_uniform)]``: a q is uniform when
    it depends only on parameters that are the same for every point of the call. A
    uniform factor multiplying a sum with uniform terms is distributed
    (``s*(v_thr - v)`` -> ``q - s*v``) so that the products are hoisted too.
    """
    defs: dict[sp.Expr, sp.Symbol] = {}

    def qsym(e: sp.Expr) -> sp.Symbol:
        if e not in defs:
            defs[e] = sp.Symbol(f"_q{len(defs)}", real=True)
        return defs[e]

    def is_param_only(e: sp.Expr) -> bool:
        fs = e.free_symbols
        return bool(fs) and fs <= params

    def is_uniform(e: sp.Expr) -> bool:
        return e.is_Number or (e.free_symbols <= uniform)

    def visit(e: sp.Expr) -> sp.Expr:
        if e.is_Atom:
            return e
        if is_param_only(e):
            return qsym(e)
        if isinstance(e, sp.Mul):
            const = [a for a in e.args if a.is_Number or is_param_only(a)]
            sums = [a for a in e.args if isinstance(a, sp.Add) and not is_param_only(a)]
            if const and len(sums) == 1 and len(const) + 1 == len(e.args) and all(is_uniform(a) for a in const) \
                    and any(is_uniform(t) and not t.is_Number for t in sums[0].args):
                factor = sp.Mul(*const)
                return visit(sp.Add(*[factor * t for t in sums[0].args]))
        if isinstance(e, (sp.Add, sp.Mul)):
            pargs = [a for a in e.args if a.is_Number or is_param_only(a)]
            rest = [a for a in e.args if not (a.is_Number or is_param_only(a))]
            if len(pargs) >= 2 or (len(pargs) == 1 and not pargs[0].is_Atom):
                grouped = e.func(*pargs)
                return e.func(qsym(grouped) if not grouped.is_Atom else grouped, *[visit(a) for a in rest],
                              evaluate=False)
            return e.func(*[visit(a) for a in e.args], evaluate=False)
        return e.func(*[visit(a) for a in e.args])

    out = [visit(e) for e in exprs]
    return out, [(s, e, e.free_symbols <= uniform) for e, s in defs.items()]


def _cse_lines(exprs: Iterable[sp.Expr], printer: Printer, tmp: str, targets: Sequence[str]) -> list[str]:
    reps, reduced = sp.cse(list(exprs), symbols=sp.numbered_symbols(f"{tmp}c"), optimizations=None)
    lines = []
    for s, e in reps:
        printer.names[s] = str(s)
        lines.append(f"{s} = {printer(e)}")
    for name, e in zip(targets, reduced):
        lines.append(f"{name} = {printer(e)}")
    return lines


@dataclass(frozen=True)
class KernelLayout:
    """The rows of a block's flat scratch array ``s`` and what fills them.

    Row ``r`` holds lane ``j`` at ``s[r * R + j]`` with the row stride ``R = block + pad``
    (rows off multiples of 4 KiB against 4K aliasing). One flat array with a compile-time
    stride lets LLVM vectorize the loop over points without run-time alias checks.
    Rows, in order: the states; the swept parameters the step, the outputs or the delays
    read; the per-point parameter-only subexpressions (``q``); the sigma of each noisy
    state; ``a`` and ``b`` of each random parameter; the own (swept) value of each
    additive random parameter.

    Attributes
    ----------
    n_states : int
    params : tuple of int
        Parameter indices with a row.
    qs : tuple of int
        Indices of the per-point ``q`` with a row.
    sigmas : tuple of int
        State indices of the noisy states.
    randoms : tuple of int
        Parameter indices of the random parameters (two rows each).
    bases : tuple of int
        Parameter indices of the swept additive random parameters.
    block, pad : int
        Points per block and padding lanes per row.
    """

    n_states: int
    params: tuple[int, ...] = ()
    qs: tuple[int, ...] = ()
    sigmas: tuple[int, ...] = ()
    randoms: tuple[int, ...] = ()
    bases: tuple[int, ...] = ()
    block: int = 256
    pad: int = 16

    @property
    def stride(self) -> int:
        """Elements per row, ``R``."""
        return self.block + self.pad

    def x(self, i: int) -> int:
        return i

    def p(self, i: int) -> int:
        return self.n_states + self.params.index(i)

    def q(self, i: int) -> int:
        return self.n_states + len(self.params) + self.qs.index(i)

    @property
    def noise0(self) -> int:
        """First row copied from ``NS`` (the kernel's noise array)."""
        return self.n_states + len(self.params) + len(self.qs)

    @property
    def n_noise_rows(self) -> int:
        """Rows of ``NS``: one sigma per noisy state, (a, b) per random parameter."""
        return len(self.sigmas) + 2 * len(self.randoms)

    def sigma(self, i: int) -> int:
        return self.noise0 + self.sigmas.index(i)

    def a(self, i: int) -> int:
        return self.noise0 + len(self.sigmas) + 2 * self.randoms.index(i)

    def b(self, i: int) -> int:
        return self.a(i) + 1

    def base(self, i: int) -> int:
        return self.noise0 + self.n_noise_rows + self.bases.index(i)

    @property
    def n_rows(self) -> int:
        return max(self.noise0 + self.n_noise_rows + len(self.bases), 1)

    def at(self, row: int) -> str:
        """The source text of lane ``j`` of a row."""
        return f"s[{row * self.stride} + j]"


class _RhsWriter:
    """Writes the lines of one right-hand side evaluation for a fixed-step scheme.

    Each call gets its own names for common subexpressions; delayed values are the ring
    buffer reads of the stage's time (``dA`` start, ``dM`` middle, ``dB`` end).
    """

    _STAGE = {"t": "dA", "t_h": "dM", "t_1": "dB", "t_2": "dB"}

    def __init__(self, model: Model, rhs: Sequence[sp.Expr], printer: Printer,
                 delay_syms: Sequence[sp.Symbol]) -> None:
        self.xs = model.state_symbols
        self.rhs = rhs
        self.printer = printer
        self.delay_syms = delay_syms
        self.calls = 0

    def __call__(self, state_names: Sequence[str], tname: str, prefix: str) -> list[str]:
        self.calls += 1
        sub = {**dict(zip(self.xs, [sp.Symbol(n) for n in state_names])), TIME: sp.Symbol(tname)}
        sub.update({d: sp.Symbol(f"{self._STAGE[tname]}{e}") for e, d in enumerate(self.delay_syms)})
        for n in state_names:
            self.printer.names[sp.Symbol(n)] = n
        self.printer.names[sp.Symbol(tname)] = tname
        exprs = [e.xreplace(sub) for e in self.rhs]
        return _cse_lines(exprs, self.printer, f"s{self.calls}", [f"{prefix}{i}" for i in range(len(self.xs))])


def _free(exprs: Sequence[sp.Expr]) -> set[sp.Symbol]:
    return set().union(*(e.free_symbols for e in exprs)) if exprs else set()


def kernel_source(model: Model, outputs: Mapping[str, sp.Expr], solver: str, dtype: str,
                  swept: frozenset[str] = frozenset(), noise: KernelNoise = KernelNoise(),
                  parallel: bool = True) -> str:
    """The Python source of the generated module (see the module docstring).

    ``swept`` names the parameters that differ between points; the others are read once
    per block from ``C`` and folded with the parameter-only subexpressions. ``noise``
    lists the states with additive white noise (their sigmas are rows of ``NS``) and the
    parameters read or drawn every step: time series (rows of ``IN``), uniform (low,
    high rows of ``NS``) and normal (mean, sd rows) draws, and common draws.
    """
    scheme = FIXED_STEP.get(solver)
    xs, ps = model.state_symbols, model.param_symbols
    pidx = {p: i for i, p in enumerate(model.params)}
    base_names = {**{x: f"x{i}" for i, x in enumerate(xs)}, **{p: f"p{i}" for i, p in enumerate(ps)}, TIME: "t"}
    out_exprs = list(outputs.values())
    src = Emitter()
    src(f"# generated by nmm.codegen {CODEGEN_VERSION} for circuit {model.name!r}; do not edit",
        f"# swept parameters: {sorted(swept)}",
        "import math",
        "import numpy as np",
        "import numba",
        "from nmm._fastmath import fexp64 as _fexp64, fexp32 as _fexp32",
        "from nmm._random import normal as _normal, uniform01 as _uniform01",
        "",
        f"DTYPE = np.{dtype}",
        f"N_STATES = {len(xs)}",
        f"N_PARAMS = {len(ps)}",
        f"N_OUTPUTS = {len(outputs)}",
        f"BLOCK = {block_size(dtype)}",
        f"PAD = {16 if dtype == 'float64' else 32}",
        f"R = {block_size(dtype) + (16 if dtype == 'float64' else 32)}")
    kernel = Emitter()
    kernel_consts: list[str] = []
    if scheme is not None:
        kernel_consts = _batch_kernel(kernel, model, out_exprs, scheme, dtype, swept, noise, parallel, base_names,
                                      pidx)
    ref_consts, ref_src = _reference_source(model, out_exprs, base_names)
    src(*kernel_consts, *ref_consts)
    return "\n".join(src.lines + kernel.lines + ref_src)


def _batch_kernel(em: Emitter, model: Model, out_exprs: list[sp.Expr], scheme: FixedStepScheme, dtype: str,
                  swept: frozenset[str], noise: KernelNoise, parallel: bool, base_names: Mapping[sp.Basic, str],
                  pidx: Mapping[str, int]) -> list[str]:
    """Write the batch kernel into ``em``; return the lines of the constants it uses."""
    xs, ps = model.state_symbols, model.param_symbols
    S, O = len(xs), len(out_exprs)
    inputs = {pidx[x.path] for x in noise.inputs}
    randoms = {pidx[x.path]: x for x in noise.random}
    commons = {pidx[x.path]: x for x in noise.common}
    dynamic = inputs | set(randoms) | set(commons)
    lane = {i for i, p in enumerate(model.params) if p in swept and i not in dynamic}
    uniform_syms = {p for i, p in enumerate(ps) if i not in lane and i not in dynamic}
    static_syms = {p for i, p in enumerate(ps) if i not in dynamic}
    noise_idx = [model.states.index(x.path) for x in noise.states]

    pr = Printer(base_names, dtype=dtype, fast_exp=True)
    rhs_h, qdefs = _hoist(model.rhs, static_syms, uniform_syms)
    for k, (qs, _, _) in enumerate(qdefs):
        pr.names[qs] = f"q{k}"
    q_uni = [k for k, (_, _, u) in enumerate(qdefs) if u]
    q_lane = [k for k, (_, _, u) in enumerate(qdefs) if not u]
    used, used_out = _free(rhs_h), _free(out_exprs)
    used_q = _free([e for _, e, _ in qdefs])
    used_d = _free([src for _, src, _ in model.delays])

    # discrete delays: ring buffers H[(e * L + slot), lane] of the source values; the
    # delayed value is the buffer at step - d (stage start), step - d + 1 (stage end) and
    # their mean (RK4's half-step stages): linear interpolation between stored steps
    delay_syms = [sp.Symbol(dn, real=True) for dn, _, _ in model.delays]
    for e in range(len(delay_syms)):
        for tag in ("dA", "dM", "dB"):
            pr.names[sp.Symbol(f"{tag}{e}")] = f"{tag}{e}"
    xnames = [f"x{i}" for i in range(S)]
    step = scheme.step_lines(xnames, "t", "dt", _RhsWriter(model, rhs_h, pr, delay_syms), pr.const,
                             {i: f"w{i}" for i in noise_idx})
    out_lines = _cse_lines(out_exprs, pr, "o", [f"o{i}" for i in range(O)])

    additive = sorted(i for i, r in randoms.items() if r.additive)
    lay = KernelLayout(
        n_states=S,
        params=tuple(i for i, p in enumerate(ps) if i in lane and (p in used or p in used_out or p in used_d)),
        qs=tuple(q_lane),
        sigmas=tuple(noise_idx),
        randoms=tuple(sorted(randoms)),
        bases=tuple(i for i in additive if model.params[i] in swept),
        block=block_size(dtype),
        pad=16 if dtype == "float64" else 32,
    )
    at = lay.at
    base_uni = [i for i in additive if model.params[i] not in swept]
    uni_p = [f"p{i} = C[{i}]" for i, p in enumerate(ps)
             if i not in lane and i not in dynamic and (p in used or p in used_out or p in used_q or p in used_d)]
    uni_q = [f"q{k} = {pr(qdefs[k][1])}" for k in q_uni] + [f"pb{i} = C[{i}]" for i in base_uni]
    load_x = [f"x{i} = {at(lay.x(i))}" for i in range(S)]
    load_p_step = [f"p{i} = {at(lay.p(i))}" for i in lay.params if ps[i] in used or ps[i] in used_d]
    load_p_out = [f"p{i} = {at(lay.p(i))}" for i in lay.params if ps[i] in used_out]
    load_q = [f"q{k} = {at(lay.q(k))}" for k in q_lane]
    lane_q_params = [f"p{i} = P[{i}, lo + jj]" for i in sorted(lane)
                     if any(ps[i] in qdefs[k][1].free_symbols for k in q_lane)]
    ns_rows = ([lay.sigma(i) for i in lay.sigmas]
               + [r for i in lay.randoms for r in (lay.a(i), lay.b(i))])
    fill = (
        [f"s[{lay.x(i) * lay.stride} + j] = Y[{i}, lo + jj]" for i in range(S)]
        + [f"s[{lay.p(i) * lay.stride} + j] = P[{i}, lo + jj]" for i in lay.params]
        + lane_q_params
        + [ln for k in q_lane for ln in (f"q{k} = {pr(qdefs[k][1])}", f"s[{lay.q(k) * lay.stride} + j] = q{k}")]
        + [f"s[{row * lay.stride} + j] = NS[{row - lay.noise0}, lo + jj]" for row in ns_rows]
        + [f"s[{lay.base(i) * lay.stride} + j] = P[{i}, lo + jj]" for i in lay.bases]
    )
    if noise.draws:
        fill += ["rs[0, j] = RS[0, lo + jj]", "rs[1, j] = RS[1, lo + jj]"]
    # per step, per lane: random parameters, common draws, then Wiener increments
    draws = []
    for i in lay.randoms:
        r = randoms[i]
        base = ""
        if r.additive:
            base = (at(lay.base(i)) if i in lay.bases else f"pb{i}") + " + "
        a, b = at(lay.a(i)), at(lay.b(i))
        if r.distribution is Distribution.UNIFORM:
            draws.append(f"p{i} = {base}{a} + ({b} - {a}) * DTYPE(_uniform01(rs, j))")
        else:
            draws.append(f"p{i} = {base}{a} + {b} * DTYPE(_normal(rs, j))")
    for i in sorted(commons):
        draws.append(f"p{i} = p{pidx[commons[i].same_as]}")
    for i in noise_idx:
        draws.append(f"w{i} = {at(lay.sigma(i))} * sqdt * DTYPE(_normal(rs, j))")
    inputs_step = [f"p{i} = IN[{r}, step]" for r, i in enumerate(sorted(inputs))]
    n_del = len(model.delays)
    past_rows = [(e, model.states.index(str(src))) for e, (dn, src, _) in enumerate(model.delays)
                 if dn in model.past]
    delay_lines = []
    if n_del:
        delay_lines += _cse_lines([src for _, src, _ in model.delays], pr, "dl", [f"src{e}" for e in range(n_del)])
        for e in range(n_del):
            delay_lines += [
                f"dd = DS[{e}, lo + (j if j < m else 0)]",
                f"H[{e} * L + step % L, j] = src{e}",
                f"dA{e} = H[{e} * L + (step - dd) % L, j]",
                f"dB{e} = H[{e} * L + (step - dd + 1) % L, j]",
                f"dM{e} = {pr.const(0.5)} * (dA{e} + dB{e})",
            ]

    em("", "", f'@numba.njit(parallel={parallel}, error_model="numpy", cache=True, nogil=True, '
       'fastmath={"contract"})')
    with em.block("def kernel(Y, P, C, NS, RS, IN, DS, L, n_steps, decim, k_first, dt, t0, series, stats):"):
        em("N = Y.shape[1]", "n_keep = series.shape[1]", "nblocks = (N + BLOCK - 1) // BLOCK")
        with em.block(f"for b in {'numba.prange' if parallel else 'range'}(nblocks):"):
            em("lo = b * BLOCK", "m = min(BLOCK, N - lo)",
               "# lanes padded to a multiple of the vector width (copies of the first point)",
               "mp = m if m < PAD else min(BLOCK, (m + PAD - 1) // PAD * PAD)")
            em.extend(uni_p + uni_q)
            em(f"s = np.empty({lay.n_rows} * R, dtype=DTYPE)",
               f"rs = np.empty((2, {'mp' if noise.draws else '1'}), dtype=np.uint64)",
               f"H = np.zeros(({max(n_del, 1)} * L, mp), dtype=DTYPE)",
               "sqdt = DTYPE(math.sqrt(dt))")
            with em.block("for j in range(mp):"):
                em("jj = j if j < m else 0")
                em.extend(fill)
                for e, row in past_rows:
                    # a past-state reference's history is the initial value (PyRates' history)
                    with em.block("for sl in range(L):"):
                        em(f"H[{e} * L + sl, j] = {at(lay.x(row))}")
            with em.block("for step in range(n_steps):"):
                with em.block("if step % decim == 0:"):
                    em("k = step // decim")
                    with em.block("if k >= k_first:"):
                        em("t = t0 + DTYPE(step) * dt", "kk = k - k_first")
                        em.extend(inputs_step)
                        with em.block("for j in range(m):"):
                            em(*load_x, *load_p_out, *out_lines)
                            for i in range(O):
                                with em.block("if kk < n_keep:"):
                                    em(f"series[{i}, kk, lo + j] = o{i}")
                                em(f"stats[0, {i}, lo + j] += o{i}",
                                   f"stats[1, {i}, lo + j] = min(stats[1, {i}, lo + j], o{i})",
                                   f"stats[2, {i}, lo + j] = max(stats[2, {i}, lo + j], o{i})")
                em("t = t0 + DTYPE(step) * dt")
                em.extend(inputs_step)
                with em.block("for j in range(mp):"):
                    em(*load_x, *load_p_step, *load_q, *delay_lines, *draws, *step,
                       *[f"{at(lay.x(i))} = x{i}_new" for i in range(S)])
            with em.block("for j in range(m):"):
                em(*[f"Y[{i}, lo + j] = {at(lay.x(i))}" for i in range(S)])
                if noise.draws:
                    em("RS[0, lo + j] = rs[0, j]", "RS[1, lo + j] = rs[1, j]")
    return pr.const_lines()


def _block(lines: Sequence[str], indent: int) -> str:
    pad = " " * indent
    return "\n".join(pad + ln for ln in lines)


def _reference_source(model: Model, out_exprs: list[sp.Expr],
                      base_names: Mapping[sp.Basic, str]) -> tuple[list[str], list[str]]:
    """Source of the float64 single-point functions ``rhs``, ``jac``, ``jacp``, ``outputs``
    (with ``math.exp``; delayed values replaced by their sources, exact at rest), and the
    constants they use."""
    xs, ps = model.state_symbols, model.param_symbols
    S, NP, O = len(xs), len(ps), len(out_exprs)
    block = _block
    ref = Printer(base_names, dtype="float64", fast_exp=False, prefix="_r")
    y_load = [f"x{i} = y[{i}]" for i in range(S)]
    p_load = [f"p{i} = p[{i}]" for i in range(NP)]
    eq_rhs = model.equilibrium_rhs  # delayed values -> their sources (exact at rest)
    rhs_lines = _cse_lines(eq_rhs, ref, "r", [f"dy[{i}]" for i in range(S)])
    J = sp.Matrix(eq_rhs).jacobian(sp.Matrix(xs)) if S else sp.Matrix()
    jac_targets, jac_exprs = [], []
    for i in range(S):
        for k in range(S):
            if J[i, k] != 0:
                jac_targets.append(f"J[{i}, {k}]")
                jac_exprs.append(J[i, k])
    jac_lines = _cse_lines(jac_exprs, ref, "j", jac_targets)
    jp_targets, jp_exprs = [], []
    for i, e in enumerate(eq_rhs):
        for k, psym in enumerate(ps):
            if psym in e.free_symbols:
                jp_targets.append(f"Jp[{i}, {k}]")
                jp_exprs.append(sp.diff(e, psym))
    jacp_lines = _cse_lines(jp_exprs, ref, "q", jp_targets)
    refout_lines = _cse_lines(out_exprs, ref, "o", [f"out[{i}, m]" for i in range(O)])
    ref_src = [
        "",
        "",
        '@numba.njit(error_model="numpy", cache=True)',
        "def rhs(t, y, p):",
        f"    dy = np.empty({S})",
        block(y_load + p_load + rhs_lines, 4),
        "    return dy",
        "",
        "",
        '@numba.njit(error_model="numpy", cache=True)',
        "def jac(t, y, p):",
        f"    J = np.zeros(({S}, {S}))",
        block(y_load + p_load + jac_lines, 4),
        "    return J",
        "",
        "",
        '@numba.njit(error_model="numpy", cache=True)',
        "def jacp(t, y, p):",
        f"    Jp = np.zeros(({S}, {NP}))",
        block(y_load + p_load + jacp_lines, 4),
        "    return Jp",
        "",
        "",
        '@numba.njit(error_model="numpy", cache=True)',
        "def outputs(times, Y, p):",
        f"    out = np.empty(({O}, Y.shape[1]))",
        block(p_load or ["pass"], 4),
        "    for m in range(Y.shape[1]):",
        "        t = times[m]",
        block([f"x{i} = Y[{i}, m]" for i in range(S)] + refout_lines, 8),
        "    return out",
        "",
    ]
    return ref.const_lines(), ref_src


@dataclass(frozen=True)
class CompiledModel:
    """The compiled functions of a model (see the module docstring)."""

    key: str
    path: Path
    module: ModuleType
    solver: str
    dtype: str

    @property
    def kernel(self) -> KernelFunction:
        return self.module.kernel

    @property
    def rhs(self) -> PointFunction:
        return self.module.rhs

    @property
    def jac(self) -> PointFunction:
        return self.module.jac

    @property
    def jacp(self) -> PointFunction:
        return self.module.jacp

    @property
    def outputs(self) -> OutputsFunction:
        return self.module.outputs


def compile_model(model: Model, outputs: Mapping[str, sp.Expr], solver: str = "rk4",
                  dtype: str = "float64", swept: Iterable[str] = (), noise: KernelNoise = KernelNoise(),
                  parallel: bool = True) -> CompiledModel:
    """Generate (or find in the cache) and import the module of a model.

    Parameters
    ----------
    model : Model
    outputs : mapping of str to sympy.Expr
        Output expressions in the model's states and parameters, in order.
    solver : str, default: 'rk4'
        A fixed-step scheme name, or ``'scipy'`` (no batch kernel).
    dtype : {'float64', 'float32'}
    swept : iterable of str, optional
        Parameters whose values differ between points (part of the cache key).
    noise : KernelNoise, optional
        Noisy states and parameters read or drawn every step.
    parallel : bool, default: True
        Blocks of points in parallel threads (``prange``) or one after the other.

    Returns
    -------
    CompiledModel
    """
    swept = tuple(swept)  # read twice below: an iterator would key one kernel and generate another
    h = hashlib.sha256()
    h.update(
        repr((CODEGEN_VERSION, FASTMATH_VERSION, numba.__version__, sys.version_info[:2],
              model.structure_hash(), solver, dtype, tuple(sorted(swept)), repr(noise), parallel,
              RANDOM_VERSION)).encode()
    )
    for e in outputs.values():
        h.update(sp.srepr(e).encode())
    key = h.hexdigest()[:24]
    mod = kernel_cache.load_module(
        key, lambda: kernel_source(model, outputs, solver, dtype, frozenset(swept), noise, parallel))
    assert mod.__file__ is not None  # load_module's modules always have their cached file
    return CompiledModel(key, Path(mod.__file__), mod, solver, dtype)
