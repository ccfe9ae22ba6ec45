"""Generating and compiling the numba functions of a model.

One Python module is generated per (model structure, outputs, solver, precision) and
written to a cache folder keyed by a hash of all of them, so numba's on-disk cache
(``cache=True``) lets a second process skip compilation. The module holds:

``kernel(Y, P, C, n_steps, decim, k_first, dt, t0, series, stats)``
    integrates a block of ``N`` points with a fixed-step scheme: ``Y`` (n_states, N) holds
    the initial states and receives the final ones, ``P`` (n_params, N) the parameters
    (only the rows of swept parameters are read), ``C`` (n_params,) the values shared by
    every point.
    Every ``decim`` steps the sample ``k = step // decim`` of each output is taken; samples
    ``k >= k_first`` go to ``series`` (n_outputs, n_kept, N) when it has room, and into the
    running ``stats`` (3, n_outputs, N): sum, min and max (start them at 0, +inf, -inf).
    The module is specialised to the set of swept parameters. The loop over points is
    parallel (``prange`` over blocks of points, each block integrated to the end) and
    the inner loop over the points of a block is written so that LLVM vectorizes it.
``rhs(t, y, p)``, ``jac(t, y, p)``, ``jacp(t, y, p)``, ``outputs(t, Y, p)``
    float64 single-point functions with ``math.exp``: the right-hand side, its analytic
    Jacobians with respect to the states and to the parameters (from sympy), and the
    outputs for a (n_states, K) trajectory.

Parameter-only subexpressions (``h/tau``, ``1/tau**2``, ...) are computed once per point
before the time loop.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numba
import sympy as sp

from ._fastmath import FASTMATH_VERSION
from ._random import RANDOM_VERSION
from .model import TIME, Model
from .printer import Printer
from .solvers import FIXED_STEP

__all__ = ["CompiledModel", "compile_model", "cache_dir", "kernel_source"]

CODEGEN_VERSION = "6"
_lock = threading.Lock()
_loaded: dict[str, ModuleType] = {}


def block_size(dtype: str) -> int:
    """Points per block: each block is integrated to the end by one thread."""
    return 256 if dtype == "float64" else 512


def cache_dir() -> Path:
    """The folder of generated kernel modules.

    ``$NMM_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/nmm/kernels`` (``~/.cache/nmm/kernels``).
    """
    env = os.environ.get("NMM_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nmm" / "kernels"


def _hoist(exprs, params: set, uniform: set):
    """Replace parameter-only subexpressions by new symbols ``q_i``.

    Returns the new expressions and ``[(q, expression, is_uniform)]``: a q is uniform when
    it depends only on parameters that are the same for every point of the call. A
    uniform factor multiplying a sum with uniform terms is distributed
    (``s*(v_thr - v)`` -> ``q - s*v``) so that the products are hoisted too.
    """
    defs: dict[sp.Expr, sp.Symbol] = {}

    def qsym(e):
        if e not in defs:
            defs[e] = sp.Symbol(f"_q{len(defs)}", real=True)
        return defs[e]

    def is_param_only(e) -> bool:
        fs = e.free_symbols
        return bool(fs) and fs <= params

    def is_uniform(e) -> bool:
        return e.is_Number or (e.free_symbols <= uniform)

    def visit(e):
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


def _cse_lines(exprs, printer: Printer, tmp: str, targets: list[str]) -> list[str]:
    reps, reduced = sp.cse(list(exprs), symbols=sp.numbered_symbols(f"{tmp}c"), optimizations=None)
    lines = []
    for s, e in reps:
        printer.names[s] = str(s)
        lines.append(f"{s} = {printer(e)}")
    for name, e in zip(targets, reduced):
        lines.append(f"{name} = {printer(e)}")
    return lines


def kernel_source(model: Model, outputs: dict[str, sp.Expr], solver: str, dtype: str,
                  swept: frozenset = frozenset(), noise: tuple = (), dynamic: tuple = (),
                  parallel: bool = True) -> str:
    """The Python source of the generated module (see the module docstring).

    ``swept`` names the parameters that differ between points; the others are read once
    per block from ``C`` and folded with the parameter-only subexpressions. ``noise``
    lists the states with additive white noise (their sigmas are rows of ``NS``);
    ``dynamic`` lists ``(parameter, kind)`` redrawn or read every step: ``'input'`` (row
    of ``IN``), ``'uniform'`` (low, high rows of ``NS``), ``'normal'`` (mean, sd rows).
    """
    scheme = FIXED_STEP.get(solver)
    xs = model.state_symbols
    ps = model.param_symbols
    S, NP, O = len(xs), len(ps), len(outputs)
    xnames = [f"x{i}" for i in range(S)]
    pnames = [f"p{i}" for i in range(NP)]
    base_names = {**dict(zip(xs, xnames)), **dict(zip(ps, pnames)), TIME: "t"}
    dyn = {model.params.index(p): kind for p, kind in dynamic}
    lane = {i for i, p in enumerate(model.params) if p in swept and i not in dyn}
    uniform_syms = {p for i, p in enumerate(ps) if i not in lane and i not in dyn}
    static_syms = {p for i, p in enumerate(ps) if i not in dyn}
    noise_idx = [model.states.index(s_) for s_ in noise]

    # ---- batch kernel ------------------------------------------------------------
    pr = Printer(base_names, dtype=dtype, fast_exp=True)
    rhs_h, qdefs = _hoist(model.rhs, static_syms, uniform_syms)
    qnames = [f"q{i}" for i in range(len(qdefs))]
    for (qs, _, _), qn in zip(qdefs, qnames):
        pr.names[qs] = qn
    q_uni = [i for i, (_, _, u) in enumerate(qdefs) if u]
    q_lane = [i for i, (_, _, u) in enumerate(qdefs) if not u]
    used = set().union(*(e.free_symbols for e in rhs_h)) if rhs_h else set()
    out_exprs = list(outputs.values())
    used_out = set().union(*(e.free_symbols for e in out_exprs)) if out_exprs else set()
    used_q = set().union(*(e.free_symbols for _, e, _ in qdefs)) if qdefs else set()

    counter = [0]

    def rhs_writer(state_names, tname, prefix):
        counter[0] += 1
        sub = {**dict(zip(xs, [sp.Symbol(n) for n in state_names])), TIME: sp.Symbol(tname)}
        sub.update({d: sp.Symbol(f"{stage_of[tname]}{e_}") for e_, d in enumerate(delay_syms)})
        for n in state_names:
            pr.names[sp.Symbol(n)] = n
        pr.names[sp.Symbol(tname)] = tname
        exprs = [e.xreplace(sub) for e in rhs_h]
        return _cse_lines(exprs, pr, f"s{counter[0]}", [f"{prefix}{i}" for i in range(S)])

    # discrete delays: ring buffers H[(e * L + slot), lane] of the source values; the
    # delayed value is the buffer at step - d (stage start), step - d + 1 (stage end) and
    # their mean (RK4's half-step stages): linear interpolation between stored steps
    delay_syms = [sp.Symbol(dn, real=True) for dn, _, _ in model.delays]
    stage_of = {"t": "dA", "t_h": "dM", "t_1": "dB", "t_2": "dB"}
    for e_, dsym in enumerate(delay_syms):
        for tag in ("dA", "dM", "dB"):
            pr.names[sp.Symbol(f"{tag}{e_}")] = f"{tag}{e_}"
    noise_names = {i: f"w{i}" for i in noise_idx}
    step = scheme.step_lines(xnames, "t", "dt", rhs_writer, pr.const, noise_names) if scheme else []
    out_lines = _cse_lines(out_exprs, pr, "o", [f"o{i}" for i in range(O)])

    # Rows of the per-block scratch array: states, the swept parameters the step and the
    # outputs read, the per-point q's. One flat array with a compile-time row stride lets
    # LLVM vectorize the loop over points without run-time alias checks; parameters
    # shared by all points (and q's made of them) are block-level scalars instead.
    used_d = set().union(*(src.free_symbols for _, src, _ in model.delays)) if model.delays else set()
    prow = [i for i, p in enumerate(ps) if i in lane and (p in used or p in used_out or p in used_d)]
    row_x = {i: i for i in range(S)}
    row_p = {i: S + r for r, i in enumerate(prow)}
    row_q = {i: S + len(prow) + r for r, i in enumerate(q_lane)}
    # NS rows: one sigma per noisy state, then two numbers per random parameter
    rnd = ("uniform", "normal", "uniform+", "normal+")
    n_ns = len(noise_idx) + 2 * sum(1 for k in dyn.values() if k in rnd)
    # additive kinds draw around the parameter's own (possibly swept) value
    base_lane = [i for i, k in sorted(dyn.items()) if k.endswith("+") and model.params[i] in swept]
    base_uni = [i for i, k in sorted(dyn.items()) if k.endswith("+") and model.params[i] not in swept]
    ns0 = S + len(prow) + len(q_lane)
    n_rows = max(ns0 + n_ns, 1)
    ns_row = {}
    r_ = 0
    for i in noise_idx:
        ns_row[("sig", i)] = ns0 + r_
        r_ += 1
    for i, kind in sorted(dyn.items()):
        if kind in rnd:
            ns_row[("a", i)] = ns0 + r_
            ns_row[("b", i)] = ns0 + r_ + 1
            r_ += 2
    for i in base_lane:
        ns_row[("base", i)] = ns0 + r_
        r_ += 1
    n_rows = max(ns0 + r_, 1)
    in_row = {i: r for r, i in enumerate(sorted(k for k, kind in dyn.items() if kind == "input"))}
    pad = 16 if dtype == "float64" else 32
    blk = block_size(dtype)
    R = blk + pad  # rows off multiples of 4 KiB (4K aliasing)

    def at(row):
        return f"s[{row * R} + j]"

    uni_p = [f"p{i} = C[{i}]" for i, p in enumerate(ps)
             if i not in lane and i not in dyn and (p in used or p in used_out or p in used_q or p in used_d)]
    uni_q = [f"q{i} = {pr(qdefs[i][1])}" for i in q_uni] + [f"pb{i} = C[{i}]" for i in base_uni]
    load_x = [f"x{i} = {at(row_x[i])}" for i in range(S)]
    load_p_step = [f"p{i} = {at(row_p[i])}" for i in prow if ps[i] in used or ps[i] in used_d]
    load_p_out = [f"p{i} = {at(row_p[i])}" for i in prow if ps[i] in used_out]
    load_q = [f"q{i} = {at(row_q[i])}" for i in q_lane]
    lane_q_params = [f"p{i} = P[{i}, lo + jj]" for i in sorted(lane)
                     if any(ps[i] in qdefs[k][1].free_symbols for k in q_lane)]
    fill = (
        [f"s[{row_x[i] * R} + j] = Y[{i}, lo + jj]" for i in range(S)]
        + [f"s[{row_p[i] * R} + j] = P[{i}, lo + jj]" for i in prow]
        + lane_q_params
        + [ln for i in q_lane for ln in (f"q{i} = {pr(qdefs[i][1])}", f"s[{row_q[i] * R} + j] = q{i}")]
        + [f"s[{ns_row[key] * R} + j] = NS[{ns_row[key] - ns0}, lo + jj]" for key in ns_row if key[0] != "base"]
        + [f"s[{ns_row[('base', i)] * R} + j] = P[{i}, lo + jj]" for i in base_lane]
    )
    if n_ns:
        fill += ["rs[0, j] = RS[0, lo + jj]", "rs[1, j] = RS[1, lo + jj]"]
    # per step, per lane: random parameters and Wiener increments
    draws = []
    for i, kind in sorted(dyn.items()):
        base = ""
        if kind.endswith("+"):
            base = (at(ns_row[("base", i)]) if i in base_lane else f"pb{i}") + " + "
        if kind.startswith("uniform"):
            a, b = at(ns_row[("a", i)]), at(ns_row[("b", i)])
            draws.append(f"p{i} = {base}{a} + ({b} - {a}) * DTYPE(_uniform01(rs, j))")
        elif kind.startswith("normal"):
            a, b = at(ns_row[("a", i)]), at(ns_row[("b", i)])
            draws.append(f"p{i} = {base}{a} + {b} * DTYPE(_normal(rs, j))")
    for i, kind in sorted(dyn.items()):
        if kind.startswith("same:"):  # common input: the value drawn for another parameter
            draws.append(f"p{i} = p{model.params.index(kind[5:])}")
    for i in noise_idx:
        draws.append(f"w{i} = {at(ns_row[('sig', i)])} * sqdt * DTYPE(_normal(rs, j))")
    inputs_step = [f"p{i} = IN[{r}, step]" for i, r in in_row.items()]
    n_del = len(model.delays)
    delay_lines = []
    if n_del:
        src_lines = _cse_lines([src for _, src, _ in model.delays], pr, "dl", [f"src{e_}" for e_ in range(n_del)])
        delay_lines += src_lines
        for e_ in range(n_del):
            delay_lines += [
                f"dd = DS[{e_}, lo + (j if j < m else 0)]",
                f"H[{e_} * L + step % L, j] = src{e_}",
                f"dA{e_} = H[{e_} * L + (step - dd) % L, j]",
                f"dB{e_} = H[{e_} * L + (step - dd + 1) % L, j]",
                f"dM{e_} = {pr.const(0.5)} * (dA{e_} + dB{e_})",
            ]

    for i, kind in dyn.items():
        if kind != "input" and ps[i] in used_out:  # noqa: SIM102
            raise ValueError(f"output depends on the random parameter {model.params[i]!r}; record a state instead")

    block = _block
    src = [
        f"# generated by nmm.codegen {CODEGEN_VERSION} for circuit {model.name!r}; do not edit",
        f"# swept parameters: {sorted(swept)}",
        "import math",
        "import numpy as np",
        "import numba",
        "from nmm._fastmath import fexp64 as _fexp64, fexp32 as _fexp32",
        "from nmm._random import normal as _normal, uniform01 as _uniform01",
        "",
        f"DTYPE = np.{dtype}",
        f"N_STATES = {S}",
        f"N_PARAMS = {NP}",
        f"N_OUTPUTS = {O}",
        f"BLOCK = {blk}",
        f"PAD = {pad}",
        f"R = {R}",
    ]
    kernel_consts_at = len(src)
    if scheme is not None:
        src += [
            "",
            "",
            f'@numba.njit(parallel={parallel}, error_model="numpy", cache=True, nogil=True, fastmath={{"contract"}})',
            "def kernel(Y, P, C, NS, RS, IN, DS, L, n_steps, decim, k_first, dt, t0, series, stats):",
            "    N = Y.shape[1]",
            "    n_keep = series.shape[1]",
            "    nblocks = (N + BLOCK - 1) // BLOCK",
            f"    for b in {'numba.prange' if parallel else 'range'}(nblocks):",
            "        lo = b * BLOCK",
            "        m = min(BLOCK, N - lo)",
            "        # lanes padded to a multiple of the vector width (copies of the first point)",
            "        mp = m if m < PAD else min(BLOCK, (m + PAD - 1) // PAD * PAD)",
            block(uni_p + uni_q, 8) if (uni_p or uni_q) else "        pass",
            f"        s = np.empty({n_rows} * R, dtype=DTYPE)",
            f"        rs = np.empty((2, {'mp' if n_ns else '1'}), dtype=np.uint64)",
            f"        H = np.zeros(({max(n_del, 1)} * L, mp), dtype=DTYPE)",
            "        sqdt = DTYPE(math.sqrt(dt))",
            "        for j in range(mp):",
            "            jj = j if j < m else 0",
            block(fill or ["pass"], 12),
            "        for step in range(n_steps):",
            "            if step % decim == 0:",
            "                k = step // decim",
            "                if k >= k_first:",
            "                    t = t0 + DTYPE(step) * dt",
            "                    kk = k - k_first",
            block(inputs_step, 20) if inputs_step else "                    pass",
            "                    for j in range(m):",
            block(load_x + load_p_out + out_lines, 24),
            block(
                [ln for i in range(O) for ln in (
                    "if kk < n_keep:",
                    f"    series[{i}, kk, lo + j] = o{i}",
                    f"stats[0, {i}, lo + j] += o{i}",
                    f"stats[1, {i}, lo + j] = min(stats[1, {i}, lo + j], o{i})",
                    f"stats[2, {i}, lo + j] = max(stats[2, {i}, lo + j], o{i})",
                )],
                24,
            ),
            "            t = t0 + DTYPE(step) * dt",
            block(inputs_step, 12) if inputs_step else "            pass",
            "            for j in range(mp):",
            block(load_x + load_p_step + load_q + delay_lines + draws + step
                  + [f"{at(row_x[i])} = x{i}_new" for i in range(S)], 16),
            "        for j in range(m):",
            block([f"Y[{i}, lo + j] = {at(row_x[i])}" for i in range(S)]
                  + (["RS[0, lo + j] = rs[0, j]", "RS[1, lo + j] = rs[1, j]"] if n_ns else []), 12),
        ]
    kernel_consts = pr.const_lines()

    ref_consts, ref_src = _reference_source(model, out_exprs, base_names)
    src[kernel_consts_at:kernel_consts_at] = kernel_consts + ref_consts
    return "\n".join(src + ref_src)


def _block(lines, indent):
    pad = " " * indent
    return "\n".join(pad + ln for ln in lines)


def _reference_source(model: Model, out_exprs: list, base_names: dict) -> tuple[list[str], list[str]]:
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
    def kernel(self):
        return self.module.kernel

    @property
    def rhs(self):
        return self.module.rhs

    @property
    def jac(self):
        return self.module.jac

    @property
    def jacp(self):
        return self.module.jacp

    @property
    def outputs(self):
        return self.module.outputs


def compile_model(model: Model, outputs: dict[str, sp.Expr], solver: str = "rk4",
                  dtype: str = "float64", swept=(), noise=(), dynamic=(), parallel: bool = True) -> CompiledModel:
    """Generate (or find in the cache) and import the module of a model.

    Parameters
    ----------
    model : Model
    outputs : dict of str to sympy.Expr
        Output expressions in the model's states and parameters, in order.
    solver : str, default: 'rk4'
        A fixed-step scheme name, or ``'scipy'`` (no batch kernel).
    dtype : {'float64', 'float32'}
    swept : iterable of str, optional
        Parameters whose values differ between points (part of the cache key).
    noise : tuple of str, optional
        States with additive white noise.
    dynamic : tuple of (str, str), optional
        Parameters read ('input') or drawn ('uniform', 'normal') every step.
    parallel : bool, default: True
        Blocks of points in parallel threads (``prange``) or one after the other.

    Returns
    -------
    CompiledModel
    """
    h = hashlib.sha256()
    h.update(
        repr((CODEGEN_VERSION, FASTMATH_VERSION, numba.__version__, sys.version_info[:2],
              model.structure_hash(), solver, dtype, tuple(sorted(swept)), tuple(noise), tuple(dynamic), parallel,
              RANDOM_VERSION)).encode()
    )
    for e in outputs.values():
        h.update(sp.srepr(e).encode())
    key = h.hexdigest()[:24]
    with _lock:
        if key in _loaded:
            mod = _loaded[key]
            return CompiledModel(key, Path(mod.__file__), mod, solver, dtype)
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"nmm_kernel_{key}.py"
        if not path.exists():
            src = kernel_source(model, outputs, solver, dtype, frozenset(swept), tuple(noise), tuple(dynamic),
                                parallel)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp_", suffix=".py")
            with os.fdopen(fd, "w") as f:
                f.write(src)
            os.replace(tmp, path)  # atomic: concurrent workers never see half a file
        name = f"nmm_kernel_{key}"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        _loaded[key] = mod
    return CompiledModel(key, path, mod, solver, dtype)
