"""Generating the batch kernel of a network: the unit's equations once, the coupling as data.

The kernel integrates a block of points of a :class:`~nmm.netmodel.NetworkModel` with a
fixed-step scheme. Its code depends on the unit, the outputs, the scheme, the float type,
which parameters are per point, per region or random, and nothing else: the number of
regions, the edges, their weights and delays are arrays, so a 2-region and a
1,000-region network share one compiled kernel (and its on-disk cache).

``kernel(Y, P, C, PR, NS, RS, IN, INDPTR, INDICES, W, LEN, SPD, n_steps, decim, k_first,
dt, dt64, t0, series, stats, BLK, STARTS)``

- ``Y`` (n_states, n_regions, N): initial states in, final states out; ``P`` (n_params
  + 2, N) values shared by the regions (the unit's parameters, ``G``, ``speed``), ``C``
  their first column; ``PR`` (n_regional, n_regions, N) per-region values; ``NS``, ``RS``,
  ``IN`` noise and inputs as in :mod:`nmm.codegen`;
- ``INDPTR``, ``INDICES``, ``W``: the weights by target row (CSR, sources increasing in a
  row); ``LEN`` per edge the tract length (or delay), ``SPD`` per point the speed in
  length per time unit: an edge's delay is ``rint(LEN / SPD / dt64)`` steps, computed
  once per block of points;
- ``series`` (n_outputs, n_kept, n_regions, N), ``stats`` (3, n_outputs, n_regions, N);
- ``BLK`` the most points in a block (chosen by the caller from memory), ``STARTS``
  (n_blocks + 1,) where the blocks start: block ``b`` is points ``STARTS[b]`` to
  ``STARTS[b + 1] - 1`` (:func:`nmm.engine.blocks.speed_blocks` makes blocks whose points
  share their speed, which read the ring in windows; a block of mixed speeds reads it
  point by point, tens of times slower).

``kernel`` is plain Python: it runs the numba function ``_block`` on each block, on
``numba.get_num_threads()`` threads (the block function releases the GIL). A parallel
loop would have to be compiled, and its lowering optimizes the whole block function a
second time.

Each block keeps one ring buffer per region of the coupled source, as long as the
block's longest delay plus two steps, plus mirror rows (:mod:`nmm.netcodegen_ring`, which
also sums the coupling: long edges in windows of steps, short ones row by row, in one
order on every path). Per step and region the unit's step runs over the points, inlined
in the block function. Delayed values at the stages of heun and rk4 are those of the
unrolled kernel (:mod:`nmm.codegen`): the stored value at ``step - d`` (stage start),
``step - d + 1`` (stage end) and their mean (half step). The source value of a region is
written into its ring in the same pass as its step (one evaluation shared with the
right-hand side) when every delay of the block is long enough (one step for euler, two
for heun and rk4), else also in a pass before (``_source``, the same lines, so the same
bits). Kept samples go through ``_record``, the windows of both levels through ``_window``.
These are numba functions of their own, so the unit's step is compiled once, in the block
function, and the window code once for both levels.
"""
from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numba
import sympy as sp

from . import kernel_cache
from ._fastmath import FASTMATH_VERSION
from ._random import RANDOM_VERSION
from .codegen import _cse_lines, _free, _hoist
from .emitter import Emitter
from .model import TIME
from .netcodegen_ring import WINDOW, WINDOW2, coupling_lines, edge_lists, mirror_lines, window_function, \
    window_lines
from .netmodel import COUPLING, NetworkModel
from .noise import Distribution, KernelNoise
from .printer import Printer
from .solvers import FIXED_STEP
from .types import NetworkKernelFunction

__all__ = ["CompiledNetwork", "compile_network", "network_kernel_source", "network_block", "PAD"]

NETCODEGEN_VERSION = "5"
#: padding lanes per row, by float type
PAD = {"float64": 16, "float32": 32}
#: the most points per block, by float type
MAX_BLOCK = {"float64": 48, "float32": 96}
#: the coupling of each stage time: start, middle, end
_STAGE = {"t": "dA0", "t_h": "dM0", "t_1": "dB0", "t_2": "dB0"}


def network_block(n_points: int, n_regions: int, ring: int, dtype: str, threads: int,
                  budget: int = 256 * 2**20, cache: int = 8 * 2**20) -> int:
    """Points per block: at most :data:`MAX_BLOCK`, enough blocks for the threads, a ring
    buffer (regions x ring x points) within ``budget`` bytes per thread, and, when that
    leaves more than one vector of points, within ``cache`` bytes (the ring is read every
    step: a block's ring that stays in the cache is read several times faster)."""
    item = 8 if dtype == "float64" else 4
    ring += 2 * WINDOW + WINDOW2 + 1  # the mirror rows and the windows' accumulators (K and K2 rows)
    lane = max(1, n_regions * ring * item)
    by_memory = max(1, budget // lane)
    pad = PAD[dtype]
    per_thread = -(-n_points // max(1, threads))
    blk = min(MAX_BLOCK[dtype], by_memory, max(per_thread, 1))
    if blk > pad:
        by_cache = max(pad, cache // lane // pad * pad)
        blk = min(-(-blk // pad) * pad, by_cache, by_memory, MAX_BLOCK[dtype])
    return max(1, int(blk))


class _UnitWriter:
    """The lines of one evaluation of the unit's right-hand side at a scheme's stage; the
    first call (stage start) also defines ``srcv``, the coupled source, sharing its common
    subexpressions, and keeps its lines in :attr:`first`: the pass that writes sources
    before the step runs the same lines (the same bits; the compiler drops the rest)."""

    def __init__(self, xs: Sequence[sp.Symbol], rhs: Sequence[sp.Expr], src: sp.Expr, printer: Printer) -> None:
        self.xs, self.rhs, self.src, self.printer = xs, rhs, src, printer
        self.csym = sp.Symbol(COUPLING, real=True)
        self.calls = 0
        self.first: list[str] = []

    def __call__(self, state_names: Sequence[str], tname: str, prefix: str) -> list[str]:
        self.calls += 1
        sub = {**dict(zip(self.xs, [sp.Symbol(n) for n in state_names])), TIME: sp.Symbol(tname),
               self.csym: sp.Symbol(_STAGE[tname])}
        for n in state_names:
            self.printer.names[sp.Symbol(n)] = n
        self.printer.names[sp.Symbol(tname)] = tname
        exprs = [e.xreplace(sub) for e in self.rhs]
        targets = [f"{prefix}{i}" for i in range(len(self.xs))]
        if self.calls == 1:
            exprs.append(self.src.xreplace(sub))
            targets.append("srcv")
        lines = _cse_lines(exprs, self.printer, f"s{self.calls}", targets)
        if self.calls == 1:
            self.first = list(lines)  # the scheme extends the returned list with its update
        return lines


@dataclass(frozen=True)
class _Rows:
    """Rows of a block's flat scratch array ``s`` of per-point values (row stride ``R``,
    a constant); the states (``XS``) and per-region parameters (``PRS``) of every region
    are rows of the same stride in arrays of their own."""

    lane: tuple[int, ...]      # parameter indices (G included) with a per-point row
    qs: tuple[int, ...]        # per-point hoisted subexpressions
    noise: int                 # rows copied from NS
    bases: tuple[int, ...]     # swept additive random parameters
    n_states: int
    regional: tuple[int, ...]  # parameter indices with a row per region

    def p(self, i: int) -> int:
        return self.lane.index(i)

    def q(self, k: int) -> int:
        return len(self.lane) + self.qs.index(k)

    @property
    def noise0(self) -> int:
        return len(self.lane) + len(self.qs)

    def base(self, i: int) -> int:
        return self.noise0 + self.noise + self.bases.index(i)

    @property
    def fixed(self) -> int:
        """The number of rows."""
        return self.noise0 + self.noise + len(self.bases)


def network_kernel_source(net: NetworkModel, outputs: Mapping[str, sp.Expr], solver: str, dtype: str,
                          swept: frozenset[str] = frozenset(), regional: frozenset[str] = frozenset(),
                          noise: KernelNoise = KernelNoise(), parallel: bool = True, staged: bool = False) -> str:
    """The Python source of a network's kernel module (see the module docstring).

    ``swept`` names the unit parameters (and ``G``) whose values differ between points,
    ``regional`` the unit parameters with a value per region; ``noise`` is the structure
    of the run's noise and inputs on the unit's paths (every region draws its own numbers).
    ``staged``: heun and rk4 also get the stage-by-stage step of blocks with zero-step
    edges (it doubles their compile time, so only runs that have such edges ask for it).
    """
    scheme = FIXED_STEP.get(solver)
    if scheme is None:
        raise ValueError(f"no fixed-step scheme {solver!r}")
    unit = net.unit
    xs, ps = unit.state_symbols, unit.param_symbols
    S, NPU, O = len(xs), len(ps), len(outputs)
    g_index = NPU  # 'G' in P
    pidx = {p: i for i, p in enumerate(unit.params)}
    inputs = {pidx[x.path] for x in noise.inputs}
    randoms = {pidx[x.path]: x for x in noise.random}
    commons = {pidx[x.path]: x for x in noise.common}
    dynamic = inputs | set(randoms) | set(commons)
    additive = sorted(i for i, r in randoms.items() if r.additive)
    # per-region rows: parameters read every step, and the own values of additive random ones
    reg = tuple(sorted(pidx[p] for p in regional if p in pidx and (pidx[p] not in dynamic or pidx[p] in additive)))
    lane_set = {i for i, p in enumerate(unit.params) if p in swept and i not in dynamic and i not in reg}
    uniform_syms = {p for i, p in enumerate(ps) if i not in lane_set and i not in dynamic and i not in reg}
    static_syms = {p for i, p in enumerate(ps) if i not in dynamic and i not in reg}
    noise_idx = [unit.states.index(x.path) for x in noise.states]
    names = {**{x: f"x{i}" for i, x in enumerate(xs)}, **{p: f"p{i}" for i, p in enumerate(ps)}, TIME: "t"}
    pr = Printer(names, dtype=dtype, fast_exp=True)
    for tag in ("dA0", "dM0", "dB0"):
        pr.names[sp.Symbol(tag)] = tag
    hoisted, qdefs = _hoist(list(unit.rhs) + [net.source], static_syms, uniform_syms)
    rhs_h, src_h = hoisted[:-1], hoisted[-1]
    for k, (qs, _, _) in enumerate(qdefs):
        pr.names[qs] = f"q{k}"
    q_uni = [k for k, (_, _, u) in enumerate(qdefs) if u]
    q_lane = [k for k, (_, _, u) in enumerate(qdefs) if not u]
    csym = sp.Symbol(COUPLING, real=True)
    out_exprs = [e.xreplace({csym: sp.Symbol("dA0")}) for e in outputs.values()]
    used_step = _free(list(rhs_h) + [src_h])
    used_out = _free(out_exprs)
    used_q = _free([e for _, e, _ in qdefs])
    writer = _UnitWriter(xs, rhs_h, src_h, pr)
    step = scheme.step_lines([f"x{i}" for i in range(S)], "t", "dt", writer, pr.const,
                             {i: f"w{i}" for i in noise_idx})
    # the pass before the step: the step's first evaluation, without the coupling (the
    # source does not depend on it), of which only srcv is kept
    src_lines = ["dA0 = DTYPE(0.0)", "dM0 = DTYPE(0.0)", "dB0 = DTYPE(0.0)"] + writer.first
    step_text = "\n".join(step)
    need_b = "dB0" in step_text or "dM0" in step_text
    fuse_min = 2 if need_b else 1
    out_lines = _cse_lines(out_exprs, pr, "o", [f"o{i}" for i in range(O)])
    # random parameters are drawn in the step; the source does not read them (the plan checks)
    zero_drawn = [f"p{i} = DTYPE(0.0)" for i in sorted(set(randoms) | set(commons))]
    g_lane = "G" in swept
    # zero-step edges under a scheme with stages: every stage of every region first (PyRates' and
    # the unrolled kernel's semantics: an instantaneous edge reads its source's stage state)
    stages, final = _TABLEAU.get(solver, ((), ""))
    staged_ok = staged and need_b and not noise.draws and bool(stages)
    rows = _Rows(
        lane=tuple(i for i in sorted(lane_set) if ps[i] in used_step | used_out) + ((g_index,) if g_lane else ()),
        qs=tuple(q_lane),
        noise=len(noise_idx) + 2 * len(randoms),
        bases=tuple(i for i in additive if unit.params[i] in swept and i not in reg),
        n_states=S,
        regional=reg,
    )

    R = MAX_BLOCK[dtype] + PAD[dtype]  # the row stride of s, XS and PRS: a constant, so that LLVM
    # proves the rows of a region apart and vectorizes the loop over points; small, so that a
    # region's rows lie close together (with 256-point rows, blocks of 16 points were 7 % slower)

    def row(r: int) -> str:
        return f"s[{r * R} + j]"

    def p_loads(used: set[sp.Symbol]) -> list[str]:
        lines = [f"p{i} = {row(rows.p(i))}" for i in rows.lane if i != g_index and ps[i] in used]
        lines += [f"p{i} = pv[{k * R} + j]" for k, i in enumerate(reg) if ps[i] in used]
        return lines

    load_x = [f"x{i} = xv[{i * R} + j]" for i in range(S)]
    views = ["xv = _tail(XS, r * SR)", "pv = _tail(PRS, r * NPR)"]
    load_q = [f"q{k} = {row(rows.q(k))}" for k in q_lane]
    coupling = ["dA0 = gl * acc[j]"] + ([f"dB0 = gl * acc[{R} + j]", f"dM0 = {pr.const(0.5)} * (dA0 + dB0)"]
                                          if need_b else [])
    gl = f"gl = {row(rows.p(g_index))}" if g_lane else "gl = gu"
    uni_p = [f"p{i} = C[{i}]" for i, p in enumerate(ps) if p in uniform_syms and p in used_step | used_out | used_q]
    base_uni = [i for i in additive if i not in rows.bases and i not in reg]
    uni_q = [f"q{k} = {pr(qdefs[k][1])}" for k in q_uni]
    lane_q_params = [f"p{i} = P[{i}, lo + jj]" for i in sorted(lane_set)
                     if any(ps[i] in qdefs[k][1].free_symbols for k in q_lane)]
    ns_rows = list(range(rows.noise0, rows.noise0 + rows.noise))
    fill = (
        [f"s[{rows.p(i) * R} + j] = P[{i}, lo + jj]" for i in rows.lane]
        + lane_q_params
        + [ln for k in q_lane for ln in (f"q{k} = {pr(qdefs[k][1])}", f"s[{rows.q(k) * R} + j] = q{k}")]
        + [f"s[{r * R} + j] = NS[{r - rows.noise0}, lo + jj]" for r in ns_rows]
        + [f"s[{rows.base(i) * R} + j] = P[{i}, lo + jj]" for i in rows.bases]
    )
    if noise.draws:
        fill += ["rs[0, j] = RS[0, lo + jj]", "rs[1, j] = RS[1, lo + jj]"]
    draws = []
    rnd = sorted(randoms)
    for n_r, i in enumerate(rnd):
        r = randoms[i]
        base = ""
        if r.additive:
            base = (row(rows.base(i)) if i in rows.bases else f"pv[{reg.index(i) * R} + j]" if i in reg
                    else f"pb{i}") + " + "
        a, b = row(rows.noise0 + len(noise_idx) + 2 * n_r), row(rows.noise0 + len(noise_idx) + 2 * n_r + 1)
        if r.distribution is Distribution.UNIFORM:
            draws.append(f"p{i} = {base}{a} + ({b} - {a}) * DTYPE(_uniform01(rs, j))")
        else:
            draws.append(f"p{i} = {base}{a} + {b} * DTYPE(_normal(rs, j))")
    for i in sorted(commons):
        draws.append(f"p{i} = p{pidx[commons[i].same_as]}")
    for n_s, i in enumerate(noise_idx):
        draws.append(f"w{i} = {row(rows.noise0 + n_s)} * sqdt * DTYPE(_normal(rs, j))")
    inputs_step = [f"p{i} = IN[{r}, step]" for r, i in enumerate(sorted(inputs))]
    n_fixed = rows.fixed
    n_reg = max(len(reg), 1)

    em = Emitter()
    em(f"# generated by nmm.netcodegen {NETCODEGEN_VERSION} for the unit {unit.name!r} of network kernels; "
       "do not edit",
       f"# per point: {sorted(swept)}; per region: {sorted(regional)}",
       "import math",
       "from concurrent.futures import ThreadPoolExecutor",
       "import numpy as np",
       "import numba",
       "from nmm._fastmath import fexp64 as _fexp64, fexp32 as _fexp32",
       "from nmm._random import normal as _normal, uniform01 as _uniform01",
       "from nmm._views import tail as _tail",
       "",
       f"DTYPE = np.{dtype}",
       f"N_STATES = {S}",
       f"N_OUTPUTS = {O}",
       f"PAD = {PAD[dtype]}",
       f"R = {R}",
       f"FUSE_MIN = {fuse_min}",
       f"K = {WINDOW}",
       f"K2 = {WINDOW2}",
       f"LONG = {WINDOW + (1 if need_b else 0)}",
       f"LONG2 = {WINDOW2 + (1 if need_b else 0)}",
       f"M = {WINDOW + (1 if need_b else 0)}",
       f"PARALLEL = {parallel}")
    body = Emitter()
    args = ("Y, P, C, PR, NS, RS, IN, INDPTR, INDICES, W, LEN, SPD, n_steps, decim, k_first, dt, dt64, t0, series, "
            "stats, BLK, STARTS")
    # blocks run on threads of this process (the block function releases the GIL): no
    # parallel loop to compile, whose lowering re-optimizes the whole block function
    body("", "")
    with body.block(f"def kernel({args}):"):
        body('"""Integrate every block of points, on numba.get_num_threads() threads when PARALLEL."""',
             "nblocks = STARTS.shape[0] - 1",
             "threads = min(numba.get_num_threads(), nblocks) if PARALLEL else 1")
        with body.block("if threads <= 1:"):
            with body.block("for b in range(nblocks):"):
                body(f"_block(b, {args})")
            body("return")
        with body.block("with ThreadPoolExecutor(threads) as ex:"):
            body(f"done = [ex.submit(_block, b, {args}) for b in range(nblocks)]")
            with body.block("for f in done:"):
                body("f.result()")
    jit = '@numba.njit(error_model="numpy", cache=True, nogil=True, fastmath={"contract"})'
    body("", "", jit)
    with body.block("def _source(xv, s, pv, C, hw, IN, step, t, mp):"):
        body('"""The coupled source of one region at this step into its ring row, before the step."""')
        body.extend(uni_p + uni_q + inputs_step, empty=None)
        with body.block("for j in range(mp):"):
            body(*load_x, *p_loads(used_step), *load_q, *zero_drawn, *src_lines, "hw[j] = srcv")
    body("", "", jit)
    with body.block("def _record(xv, s, pv, C, cp, IN, step, t, series, stats, r, lo, m, kk):"):
        body('"""The outputs of one region at a kept sample (``cp``: the coupling sums) into series and stats."""')
        body("n_keep = series.shape[1]", f"gu = C[{g_index}]")
        body.extend(uni_p + uni_q + inputs_step, empty=None)
        _record(body, [*load_x, *p_loads(used_out), *load_q, gl, "dA0 = gl * cp[j]", *out_lines], O)
    window_function(body, need_b, jit)
    body("", "", jit)
    with body.block(f"def _block(b, {args}):"):
        body("NR = Y.shape[1]", "N = Y.shape[2]", "E = INDICES.shape[0]", "RH = BLK", f"SR = {S * R}",
             f"NPR = {n_reg * R}")
        body("lo = STARTS[b]", "m = STARTS[b + 1] - lo",
             "mp = m if m < PAD else min(BLK, (m + PAD - 1) // PAD * PAD)")
        body.extend(uni_p + uni_q + [f"pb{i} = C[{i}]" for i in base_uni])
        body(f"gu = C[{g_index}]")
        body("# the block's delays: one per edge when its points share the speed",
             "same = True")
        with body.block("for j in range(1, m):"):
            with body.block("if SPD[lo + j] != SPD[lo]:"):
                body("same = False")
        body("dl0 = np.zeros(max(E, 1), dtype=np.int64)", "dmin = 1 << 40", "dmax = 0")
        with body.block("for e in range(E):"):
            with body.block("for j in range(1 if same else m):"):
                body("d = int(np.rint(LEN[e] / SPD[lo + j] / dt64))", "dmin = min(dmin, d)",
                     "dmax = max(dmax, d)")
                with body.block("if j == 0:"):
                    body("dl0[e] = d")
        edge_lists(body)
        body("# sources of edges shorter than the pass of the steps allows: computed in a pass before",
             "pre = np.zeros(NR, dtype=np.bool_)")
        with body.block("for r in range(NR):"):
            with body.block("for e in range(INDPTR[r], INDPTR[r + 1]):"):
                with body.block("for j in range(1 if same else m):"):
                    with body.block("if int(np.rint(LEN[e] / SPD[lo + j] / dt64)) < FUSE_MIN:"):
                        body("pre[INDICES[e]] = True")
        body("# the ring: L rows, then M mirror rows (a copy of the first M): a window never wraps",
             "L = dmax + 2", "LL = L + M", "KR = K * RH", "KR2 = K2 * RH",
             f"staged = {'dmin < 1' if staged_ok else 'False'}",
             f"s = np.empty({max(n_fixed, 1) * R}, dtype=DTYPE)",
             "XS = np.empty(NR * SR, dtype=DTYPE)",
             "PRS = np.empty(NR * NPR, dtype=DTYPE)",
             f"rs = np.empty((2, {'mp' if noise.draws else '1'}), dtype=np.uint64)",
             "H = np.zeros(NR * LL * RH, dtype=DTYPE)",
             "A = np.zeros(NR * KR if same else 1, dtype=DTYPE)",
             f"AB = np.zeros(NR * KR if same and {need_b} else 1, dtype=DTYPE)",
             "A2 = np.zeros(NR * KR2 if same else 1, dtype=DTYPE)",
             f"AB2 = np.zeros(NR * KR2 if same and {need_b} else 1, dtype=DTYPE)",
             f"acc = np.empty({6 * R}, dtype=DTYPE)",
             f"KS = np.empty({len(stages) if staged_ok else 1} * NR * SR if staged else 1, dtype=DTYPE)",
             "SB = np.empty(NR * R if staged else 1, dtype=DTYPE)",
             "sqdt = DTYPE(math.sqrt(dt))")
        with body.block("for j in range(mp):"):
            body("jj = j if j < m else 0")
            body.extend(fill)
            with body.block("for r in range(NR):"):
                body(*[f"XS[r * SR + {i * R} + j] = Y[{i}, r, lo + jj]" for i in range(S)],
                     *[f"PRS[r * NPR + {k * R} + j] = PR[{k}, r, lo + jj]" for k in range(len(reg))])
        with body.block("for step in range(n_steps):"):
            body("t = t0 + DTYPE(step) * dt", "slot = step % L", "record = False", "kk = 0")
            body.extend(inputs_step, empty=None)
            with body.block("if step % decim == 0 and step // decim >= k_first:"):
                body("record = True", "kk = step // decim - k_first")
            if staged_ok:
                with body.block("if staged:"):
                    _staged_step(body, stages, final, S, R, load_x, views, p_loads, load_q, used_step,
                                 src_h, rhs_h, xs, pr, gl)
                    body("continue")
            with body.block("if dmin < FUSE_MIN:"):
                body("# this step's sources of the edges too short for the pass of the steps")
                with body.block("for r in range(NR):"):
                    with body.block("if pre[r]:"):
                        body("_source(_tail(XS, r * SR), s, _tail(PRS, r * NPR), C, _tail(H, (r * LL + slot) * RH), "
                             "IN, step, t, mp)")
            window_lines(body)
            with body.block("for r in range(NR):"):
                body(*views, "hw = _tail(H, (r * LL + slot) * RH)")
                coupling_lines(body, need_b, R)
                with body.block("if record:"):
                    body("_record(xv, s, pv, C, acc, IN, step, t, series, stats, r, lo, m, kk)")
                with body.block("for j in range(mp):"):
                    body(*load_x, *p_loads(used_step), *load_q, gl, *coupling, *draws, *step)
                    body("hw[j] = srcv")
                    body(*[f"xv[{i * R} + j] = x{i}_new" for i in range(S)])
                mirror_lines(body)
        with body.block("for j in range(m):"):
            with body.block("for r in range(NR):"):
                body(*[f"Y[{i}, r, lo + j] = XS[r * SR + {i * R} + j]" for i in range(S)])
            if noise.draws:
                body("RS[0, lo + j] = rs[0, j]", "RS[1, lo + j] = rs[1, j]")
    return "\n".join(em.lines + pr.const_lines() + body.lines) + "\n"


def _record(body: Emitter, lines: Sequence[str], O: int) -> None:
    """The outputs of region ``r`` at a kept sample: ``lines`` define ``o0 ... o{O-1}``
    per point, which go to ``series`` (when it has room) and the running ``stats``."""
    with body.block("for j in range(m):"):
        body(*lines)
        for i in range(O):
            with body.block("if kk < n_keep:"):
                body(f"series[{i}, kk, r, lo + j] = o{i}")
            body(f"stats[0, {i}, r, lo + j] += o{i}",
                 f"stats[1, {i}, r, lo + j] = min(stats[1, {i}, r, lo + j], o{i})",
                 f"stats[2, {i}, r, lo + j] = max(stats[2, {i}, r, lo + j], o{i})")


#: per scheme with stages: (stage time, (step name, previous stage) or None) per stage, and
#: the update of state i from its stage derivatives ``K{k}_{i}`` (as the schemes of nmm.solvers)
_TABLEAU: dict[str, tuple[tuple[tuple[str, tuple[str, int] | None], ...], str]] = {
    "heun": ((("t", None), ("t_1", ("dt", 0))), "x{i} + ({half} * dt) * (K0_{i} + K1_{i})"),
    "rk4": ((("t", None), ("t_h", ("hdt", 0)), ("t_h", ("hdt", 1)), ("t_1", ("dt", 2))),
            "x{i} + ({sixth} * dt) * (K0_{i} + {two} * (K1_{i} + K2_{i}) + K3_{i})"),
}


def _staged_step(body: Emitter, stages: Sequence[tuple[str, tuple[str, int] | None]], final: str, S: int, R: int,
                 load_x: list[str], views: list[str], p_loads: Callable[[set[sp.Symbol]], list[str]],
                 load_q: list[str], used: set[sp.Symbol], src: sp.Expr, rhs: Sequence[sp.Expr],
                 xs: Sequence[sp.Symbol], pr: Printer, gl: str) -> None:
    """One step of a scheme with stages, stage by stage over all regions: a block whose
    edges include zero-step (instantaneous) ones, which read their source's stage value
    (``SB``); delayed edges read the ring buffer as in the fused step."""
    csym = sp.Symbol(COUPLING, real=True)
    half = pr.const(0.5)
    body("hdt = " + half + " * dt", "t_h = t + hdt", "t_1 = t + dt")
    consts = {"half": half, "sixth": pr.const(1.0 / 6.0), "two": pr.const(2.0)}
    xnames = [f"X{i}" for i in range(S)]
    for n in xnames:
        pr.names[sp.Symbol(n)] = n
    for tname in ("t", "t_h", "t_1", "cpl"):
        pr.names[sp.Symbol(tname)] = tname
    for k, (tname, prev) in enumerate(stages):
        stage_x = ([f"X{i} = x{i}" for i in range(S)] if prev is None
                   else [f"X{i} = x{i} + {prev[0]} * kp[{i * R} + j]" for i in range(S)])
        kview = [] if prev is None else [f"kp = _tail(KS, ({prev[1]} * NR + r) * SR)"]
        sub = {**{x: sp.Symbol(n) for x, n in zip(xs, xnames)}, TIME: sp.Symbol(tname), csym: sp.Symbol("cpl")}
        src_lines = _cse_lines([src.xreplace(sub)], pr, f"sa{k}", ["srcv"])
        body(f"# stage {k + 1}: the sources at the stage's states, then the stage derivatives")
        with body.block("for r in range(NR):"):
            body(*views, *kview, "sb = _tail(SB, r * R)", "hw = _tail(H, (r * LL + slot) * RH)")
            with body.block("for j in range(mp):"):
                body(*load_x, *p_loads(used), *load_q, *stage_x, *src_lines, "sb[j] = srcv")
                if prev is None:
                    body("hw[j] = srcv")
            if prev is None:
                mirror_lines(body)
        with body.block("for r in range(NR):"):
            body(*views, *kview, f"kw = _tail(KS, ({k} * NR + r) * SR)")
            with body.block("for j in range(mp):"):
                body("acc[j] = 0.0", f"acc[{R} + j] = 0.0", f"acc[{2 * R} + j] = 0.0")
            with body.block("for e in range(INDPTR[r], INDPTR[r + 1]):"):
                body("src = INDICES[e]", "w = DTYPE(W[e])")
                with body.block("for j in range(mp):"):
                    body("d = dl0[e] if same else int(np.rint(LEN[e] / SPD[lo + (j if j < m else 0)] / dt64))")
                    with body.block("if d == 0:"):
                        body(f"acc[{2 * R} + j] += w * SB[src * R + j]")
                    with body.block("else:"):
                        body("acc[j] += w * H[(src * LL + (step - d) % L) * RH + j]",
                             f"acc[{R} + j] += w * H[(src * LL + (step - d + 1) % L) * RH + j]")
            interp = {"t": "acc[j]", "t_1": f"acc[{R} + j]", "t_h": f"{half} * (acc[j] + acc[{R} + j])"}[tname]
            if prev is None:
                with body.block("if record:"):
                    with body.block("for j in range(mp):"):
                        body(f"acc[{3 * R} + j] = acc[{2 * R} + j] + acc[j]")
                    body(f"_record(xv, s, pv, C, _tail(acc, {3 * R}), IN, step, t, series, stats, r, lo, m, kk)")
            rhs_lines = _cse_lines([e.xreplace(sub) for e in rhs], pr, f"sr{k}", [f"kw[{i * R} + j]"
                                                                                  for i in range(S)])
            with body.block("for j in range(mp):"):
                body(*load_x, *p_loads(used), *load_q, *stage_x, gl, f"cpl = gl * (acc[{2 * R} + j] + {interp})",
                     *rhs_lines)
    body("# the update from the stage derivatives")
    with body.block("for r in range(NR):"):
        body(*views, *[f"k{k} = _tail(KS, ({k} * NR + r) * SR)" for k in range(len(stages))])
        with body.block("for j in range(mp):"):
            body(*load_x, *[f"K{k}_{i} = k{k}[{i * R} + j]" for k in range(len(stages)) for i in range(S)],
                 *[f"xv[{i * R} + j] = " + final.format(i=i, **consts) for i in range(S)])


@dataclass(frozen=True)
class CompiledNetwork:
    """A network's compiled kernel module."""

    key: str
    path: Path
    module: ModuleType
    solver: str
    dtype: str

    @property
    def kernel(self) -> NetworkKernelFunction:
        return self.module.kernel


def compile_network(net: NetworkModel, outputs: Mapping[str, sp.Expr], solver: str = "euler",
                    dtype: str = "float64", swept: Sequence[str] = (), regional: Sequence[str] = (),
                    noise: KernelNoise = KernelNoise(), parallel: bool = True,
                    staged: bool = False) -> CompiledNetwork:
    """Generate (or find in the cache) and import a network's kernel module.

    The key holds the unit's structure, the coupled source, the outputs, the scheme, the
    float type, which parameters are per point or per region, the noise structure and
    whether zero-step edges need the staged step (heun, rk4); never the number of
    regions or the edges.
    """
    staged = bool(staged) and solver in _TABLEAU and not noise.draws
    swept_t, regional_t = tuple(sorted(set(swept))), tuple(sorted(set(regional)))
    h = hashlib.sha256()
    h.update(repr((NETCODEGEN_VERSION, FASTMATH_VERSION, RANDOM_VERSION, numba.__version__, sys.version_info[:2],
                   MAX_BLOCK[dtype], PAD[dtype],
                   net.unit.structure_hash(), sp.srepr(net.source), solver, dtype, swept_t, regional_t,
                   repr(noise), parallel, staged)).encode())
    for e in outputs.values():
        h.update(sp.srepr(e).encode())
    key = h.hexdigest()[:24]
    mod = kernel_cache.load_module(
        key, lambda: network_kernel_source(net, outputs, solver, dtype, frozenset(swept_t), frozenset(regional_t),
                                           noise, parallel, staged), name_prefix="nmm_network_")
    assert mod.__file__ is not None
    return CompiledNetwork(key, Path(mod.__file__), mod, solver, dtype)
