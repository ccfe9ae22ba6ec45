"""The ring buffers of a network kernel: the code that sums each region's delayed coupling.

Generated into the block function of :mod:`nmm.netcodegen`; nothing here depends on the
unit. Each region has a ring ``H`` of its coupled source, ``L`` rows (a row per step, the
block's points along it) and ``M`` mirror rows after them (a copy of the first ``M``), so
that a run of ``M`` consecutive rows never wraps.

The coupling of region ``r`` at a step is ``sum_e W[e] * H[src_e, step - d_e]`` over its
edges in CSR order, which is the order of increasing source (:func:`nmm.netmodel.network_model`
builds the rows that way). The sum is taken in one order in every path, so its bits do not
depend on which points share a block:

1. the edges of at least ``LONG`` steps' delay, from zero, in CSR order;
2. then the shorter ones, added in CSR order.

When a block's points share their speed (``same``), the long edges are read once every
``K`` steps for the next ``K`` steps: a window of ``K`` consecutive rows of the source's
ring, added into the target's accumulator ``A`` (``K`` rows) four edges at a time (the
accumulator stays in registers across the four; the additions are the same, in the same
order, as one edge at a time). The short edges are read row by row every step. When the
points have delays of their own, every point reads its own rows in the same order.
"""
from __future__ import annotations

from .emitter import Emitter

__all__ = ["UNROLL", "WINDOW", "coupling_lines", "mirror_lines", "window_lines"]

#: steps of ring read at once for the edges of at least this many steps' delay
WINDOW = 32
#: edges added together into a window's accumulator
UNROLL = 4


def window_lines(body: Emitter, need_b: bool) -> None:
    """Every ``K`` steps of a block whose points share their delays: the long edges' sums
    for the next ``K`` steps, per region into ``A`` (and ``AB``, the stage-end rows: one
    row later, for heun and rk4)."""
    with body.block("if same and step % K == 0:"):
        body("# the next K steps of the long edges: K consecutive rows of each source's ring")
        with body.block("for r in range(NR):"):
            body("a = A[r * KR:(r + 1) * KR]")
            if need_b:
                body("ab = AB[r * KR:(r + 1) * KR]")
            with body.block("for i in range(KR):"):
                body("a[i] = 0.0")
                if need_b:
                    body("ab[i] = 0.0")
            body("q = lptr[r]", "qe = lptr[r + 1]")
            with body.block(f"while q + {UNROLL} <= qe:"):
                for u in range(UNROLL):
                    body(f"e{u} = lidx[q + {u}]", f"w{u} = DTYPE(W[e{u}])",
                         f"h{u} = H[(INDICES[e{u}] * LL + (slot - dl0[e{u}]) % L) * RH:]")
                    if need_b:
                        body(f"g{u} = h{u}[RH:]")
                with body.block("for i in range(KR):"):
                    body("a[i] = a[i] + " + " + ".join(f"w{u} * h{u}[i]" for u in range(UNROLL)))
                if need_b:
                    with body.block("for i in range(KR):"):
                        body("ab[i] = ab[i] + " + " + ".join(f"w{u} * g{u}[i]" for u in range(UNROLL)))
                body(f"q += {UNROLL}")
            with body.block("while q < qe:"):
                body("e0 = lidx[q]", "w0 = DTYPE(W[e0])", "h0 = H[(INDICES[e0] * LL + (slot - dl0[e0]) % L) * RH:]")
                with body.block("for i in range(KR):"):
                    body("a[i] += w0 * h0[i]")
                if need_b:
                    body("g0 = h0[RH:]")
                    with body.block("for i in range(KR):"):
                        body("ab[i] += w0 * g0[i]")
                body("q += 1")


def coupling_lines(body: Emitter, need_b: bool, R: int) -> None:
    """The coupling sums of region ``r`` at this step into ``acc`` (and ``acc[R:]``, the
    stage-end values): the window's row of this step plus the short edges row by row, or,
    when the block's points have delays of their own, every point its own rows."""
    with body.block("if same:"):
        body("av = A[r * KR + (step % K) * RH:]")
        if need_b:
            body("bv = AB[r * KR + (step % K) * RH:]")
        with body.block("for j in range(mp):"):
            body("acc[j] = av[j]", f"acc[{R} + j] = {'bv[j]' if need_b else '0.0'}")
        with body.block("for q in range(sptr[r], sptr[r + 1]):"):
            body("e = sidx[q]", "d = dl0[e]", "src = INDICES[e]", "w = DTYPE(W[e])",
                 "ha = H[(src * LL + (step - d) % L) * RH:]")
            if need_b:
                body("hb = H[(src * LL + (step - d + 1) % L) * RH:]")
            with body.block("for j in range(mp):"):
                body("acc[j] += w * ha[j]")
                if need_b:
                    body(f"acc[{R} + j] += w * hb[j]")
    with body.block("else:"):
        body("# points with their own delays: the long edges, then the short ones, each point its rows")
        with body.block("for j in range(mp):"):
            body("acc[j] = 0.0", f"acc[{R} + j] = 0.0")
        with body.block("for lp in range(2):"):
            body("long_pass = lp == 0")
            with body.block("for e in range(INDPTR[r], INDPTR[r + 1]):"):
                body("src = INDICES[e]", "w = DTYPE(W[e])")
                with body.block("for j in range(mp):"):
                    body("d = int(np.rint(LEN[e] / SPD[lo + (j if j < m else 0)] / dt64))")
                    with body.block("if (d >= LONG) == long_pass:"):
                        body("acc[j] += w * H[(src * LL + (step - d) % L) * RH + j]")
                        if need_b:
                            body(f"acc[{R} + j] += w * H[(src * LL + (step - d + 1) % L) * RH + j]")


def mirror_lines(body: Emitter) -> None:
    """After region ``r`` wrote its ring row ``hw`` of this step: the copy in the mirror rows."""
    with body.block("if slot < M:"):
        body("hm = H[(r * LL + L + slot) * RH:]")
        with body.block("for j in range(mp):"):
            body("hm[j] = hw[j]")
