"""How a network run's points are cut into the blocks of the network kernel.

A block whose points share their conduction speed shares its delays, and the kernel reads
its ring buffers in windows of steps (:mod:`nmm.netcodegen_ring`); a block of mixed speeds
reads them point by point, tens of times slower. Sweeps over the speed list their points
in grid order, where the speed changes every few points, so the points are grouped by
speed first (a stable sort: the order within a speed is kept) and every group is cut into
blocks of at most ``blk`` points. A point's numbers do not depend on its block, so the
grouping changes no bit of any result.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["speed_blocks"]


def speed_blocks(speeds: ArrayLike, blk: int) -> tuple[np.ndarray | None, np.ndarray]:
    """The order of the points and the starts of the blocks.

    Parameters
    ----------
    speeds : array_like (N,)
        Per point, its conduction speed (any unit).
    blk : int
        The most points in a block (:func:`nmm.netcodegen.network_block`).

    Returns
    -------
    order : ndarray of int (N,) or None
        Point ``k`` of the kernel's arrays is point ``order[k]`` of the run; ``None``
        when every speed's points are already next to each other (no copy needed).
    starts : ndarray of int64 (n_blocks + 1,)
        Block ``b`` is the kernel's points ``starts[b]`` to ``starts[b + 1] - 1``; every
        block has at most ``blk`` points, all with one speed.

    Examples
    --------
    >>> order, starts = speed_blocks([1.0, 2.0, 1.0, 2.0, 1.0], 2)
    >>> order.tolist(), starts.tolist()
    ([0, 2, 4, 1, 3], [0, 2, 3, 5])
    """
    s = np.asarray(speeds, dtype=float).ravel()
    n, blk = len(s), max(1, int(blk))
    runs = np.flatnonzero(s[1:] != s[:-1]) + 1  # where a run of one speed ends
    order: np.ndarray | None = None
    if n and len(runs) + 1 > len(np.unique(s)):  # a speed in more than one run: group them
        order = np.argsort(s, kind="stable")
        runs = np.flatnonzero(s[order][1:] != s[order][:-1]) + 1
    edges = np.concatenate(([0], runs, [n]))
    starts = [np.arange(a, b, blk) for a, b in zip(edges[:-1], edges[1:])]
    return order, np.concatenate(starts + [np.array([n])]).astype(np.int64)
