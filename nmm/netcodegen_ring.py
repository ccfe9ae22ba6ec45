"""The ring buffers of a network kernel: the code that sums each region's delayed coupling.

Generated into the block function of :mod:`nmm.netcodegen`; nothing here depends on the
unit. Each region has a ring ``H`` of its coupled source, ``L`` rows (a row per step, the
block's points along it) and ``M`` mirror rows after them (a copy of the first ``M``), so
that a run of ``M`` consecutive rows never wraps.

The coupling of region ``r`` at a step is ``sum_e W[e] * H[src_e, step - d_e]`` over its
edges in CSR order, which is the order of increasing source (:func:`nmm.netmodel.network_model`
builds the rows that way). The sum is taken in one order in every path, so its bits do not
depend on which points share a block:

1. ``a``: the long edges (at least ``LONG`` steps' delay), from zero, in CSR order;
2. ``b``: the middle ones (at least ``LONG2``), from zero, in CSR order;
3. ``a + b``, then the short edges added in CSR order.

When a block's points share their speed (``same``), the long edges are read once every
``K`` steps for the next ``K`` steps: a window of ``K`` consecutive rows of the source's
ring, added into the target's accumulator ``A`` (``K`` rows) four edges at a time (the
accumulator stays in registers across the four; the additions are the same, in the same
order, as one edge at a time); the middle edges likewise every ``K2`` steps into ``A2``.
The short edges are read row by row every step, also four at a time. When the points have delays of their
own, every point reads its own rows in the same order.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from .emitter import Emitter

__all__ = ["UNROLL", "WINDOW", "WINDOW2", "coupling_lines", "edge_lists", "mirror_lines", "window_function",
           "window_lines"]

#: steps of ring read at once for the long edges (at least this many steps' delay)
WINDOW = 32
#: steps read at once for the middle edges (at least this many steps, fewer than WINDOW)
WINDOW2 = 8
#: edges added together into a window's accumulator
UNROLL = 4


def edge_lists(body: Emitter) -> None:
    """Per region, its long, middle and short edges, each in CSR order, at the delays
    ``dl0`` (those of the block's points when they share them)."""
    body("# the long, middle and short edges of each region, in CSR order (when the points share delays)",
         "lptr = np.zeros(NR + 1, dtype=np.int64)", "mptr = np.zeros(NR + 1, dtype=np.int64)",
         "sptr = np.zeros(NR + 1, dtype=np.int64)", "lidx = np.empty(max(E, 1), dtype=np.int64)",
         "midx = np.empty(max(E, 1), dtype=np.int64)", "sidx = np.empty(max(E, 1), dtype=np.int64)",
         "nl = 0", "nm = 0", "ns = 0")
    with body.block("for r in range(NR):"):
        with body.block("for e in range(INDPTR[r], INDPTR[r + 1]):"):
            with body.block("if dl0[e] >= LONG:"):
                body("lidx[nl] = e", "nl += 1")
            with body.block("elif dl0[e] >= LONG2:"):
                body("midx[nm] = e", "nm += 1")
            with body.block("else:"):
                body("sidx[ns] = e", "ns += 1")
        body("lptr[r + 1] = nl", "mptr[r + 1] = nm", "sptr[r + 1] = ns")


def window_lines(body: Emitter) -> None:
    """In the step loop of a block whose points share their delays: every ``K`` (``K2``)
    steps, the long (middle) edges' sums for the next ``K`` (``K2``) steps."""
    with body.block("if same and step % K == 0:"):
        body("_window(A, AB, H, lptr, lidx, dl0, INDICES, W, slot, L, LL, RH, KR, NR)")
    with body.block("if same and step % K2 == 0:"):
        body("_window(A2, AB2, H, mptr, midx, dl0, INDICES, W, slot, L, LL, RH, KR2, NR)")


def _edge_sums(body: Emitter, idx: str, rows: Callable[[int], list[str]],
               sums: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> None:
    """Add the edges ``idx[q]`` for ``q`` from ``q`` up to ``qe`` (set by the caller),
    :data:`UNROLL` at a time while there are that many, then one at a time: edge ``u`` of a
    group is ``e{u}``, its weight ``cw{u}``, and ``rows(u)`` the lines that define its ring
    views. ``sums`` are (loop header, [(sum, view), ...]): in each loop every sum becomes
    ``sum + cw0 * view0[i] + cw1 * view1[i] + ...`` (``i`` the loop's index), the same
    additions in the same order as one edge at a time; the sum stays in a register across
    the group."""
    for n, cond in ((UNROLL, f"q + {UNROLL} <= qe"), (1, "q < qe")):
        with body.block(f"while {cond}:"):
            for u in range(n):
                body(f"e{u} = {idx}[q + {u}]", f"cw{u} = DTYPE(W[e{u}])", *rows(u))
            for loop, pairs in sums:
                with body.block(loop):
                    index = loop.split()[1]
                    for total, view in pairs:
                        body(f"{total} = {total} + " + " + ".join(f"cw{u} * {view}{u}[{index}]" for u in range(n)))
            body(f"q += {n}")


def window_function(body: Emitter, need_b: bool, jit: str) -> None:
    """The numba function ``_window`` (one for both levels): per region, the sums of its
    edges ``idx[ptr[r]:ptr[r + 1]]`` over the next ``KR // RH`` steps into ``A`` (and
    ``AB``, the stage-end rows: one row later, for heun and rk4)."""
    body("", "", jit)
    with body.block("def _window(A, AB, H, ptr, idx, dl0, INDICES, W, slot, L, LL, RH, KR, NR):"):
        body('"""The windows of one level: consecutive rows of each source\'s ring, four edges at once."""')
        with body.block("for r in range(NR):"):
            body("a = _tail(A, r * KR)")
            if need_b:
                body("ab = _tail(AB, r * KR)")
            with body.block("for i in range(KR):"):
                body("a[i] = 0.0")
                if need_b:
                    body("ab[i] = 0.0")
            body("q = ptr[r]", "qe = ptr[r + 1]")

            def rows(u: int) -> list[str]:  # a window never wraps (mirror rows): its stage-end rows are one row on
                return ([f"ts{u} = slot - dl0[e{u}]",
                         f"ha{u} = _tail(H, (INDICES[e{u}] * LL + (ts{u} + L if ts{u} < 0 else ts{u})) * RH)"]
                        + ([f"hb{u} = _tail(ha{u}, RH)"] if need_b else []))

            _edge_sums(body, "idx", rows, [("for i in range(KR):", [("a[i]", "ha")])]
                       + ([("for i in range(KR):", [("ab[i]", "hb")])] if need_b else []))


def coupling_lines(body: Emitter, need_b: bool, R: int) -> None:
    """The coupling sums of region ``r`` at this step into ``acc`` (and ``acc[R:]``, the
    stage-end values): the windows' rows of this step plus the short edges row by row,
    or, when the block's points have delays of their own, every point its own rows (the
    long and middle sums in ``acc`` and ``acc[4R:]``, then added)."""
    with body.block("if same:"):
        body("av = _tail(A, r * KR + (step % K) * RH)", "av2 = _tail(A2, r * KR2 + (step % K2) * RH)")
        if need_b:
            body("bv = _tail(AB, r * KR + (step % K) * RH)", "bv2 = _tail(AB2, r * KR2 + (step % K2) * RH)")
        with body.block("for j in range(mp):"):
            body("acc[j] = av[j] + av2[j]", f"acc[{R} + j] = {'bv[j] + bv2[j]' if need_b else '0.0'}")
        # the short edges (``ts`` is a ring row, not the time ``t``, which the unit's step reads)
        body("q = sptr[r]", "qe = sptr[r + 1]")

        def rows(u: int) -> list[str]:  # the row after: this step's own row when d = 1 (its mirror is not written)
            return ([f"ts{u} = slot - dl0[e{u}]", f"ts{u} = ts{u} + L if ts{u} < 0 else ts{u}",
                     f"ha{u} = _tail(H, (INDICES[e{u}] * LL + ts{u}) * RH)"]
                    + ([f"hb{u} = _tail(H, (INDICES[e{u}] * LL + (ts{u} + 1 if ts{u} + 1 < L else 0)) * RH)"]
                       if need_b else []))

        _edge_sums(body, "sidx", rows, [("for j in range(mp):", [("acc[j]", "ha")]
                                         + ([(f"acc[{R} + j]", "hb")] if need_b else []))])
    with body.block("else:"):
        body("# points with their own delays: the long and middle edges, their sum, the short edges")
        with body.block("for j in range(mp):"):
            body("acc[j] = 0.0", f"acc[{R} + j] = 0.0", f"acc[{4 * R} + j] = 0.0", f"acc[{5 * R} + j] = 0.0")
        for short in (False, True):
            with body.block("for e in range(INDPTR[r], INDPTR[r + 1]):"):
                body("src = INDICES[e]", "w = DTYPE(W[e])")
                with body.block("for j in range(mp):"):
                    body("d = int(np.rint(LEN[e] / SPD[lo + (j if j < m else 0)] / dt64))", "ts = slot - d",
                         "ts = ts + L if ts < 0 else ts", "h = (src * LL + ts) * RH + j",
                         "g = (src * LL + (ts + 1 if ts + 1 < L else 0)) * RH + j")
                    for cond, row in ((("d < LONG2", 0),) if short else (("d >= LONG", 0), ("d >= LONG2", 4))):
                        with body.block(f"{'el' if row == 4 else ''}if {cond}:"):
                            body(f"acc[{row * R} + j] += w * H[h]")
                            if need_b:
                                body(f"acc[{(row + 1) * R} + j] += w * H[g]")
            if not short:
                with body.block("for j in range(mp):"):
                    body(f"acc[j] = acc[j] + acc[{4 * R} + j]")
                    if need_b:
                        body(f"acc[{R} + j] = acc[{R} + j] + acc[{5 * R} + j]")




def mirror_lines(body: Emitter) -> None:
    """After region ``r`` wrote its ring row ``hw`` of this step: the copy in the mirror rows."""
    with body.block("if slot < M:"):
        body("hm = _tail(H, (r * LL + L + slot) * RH)")
        with body.block("for j in range(mp):"):
            body("hm[j] = hw[j]")
