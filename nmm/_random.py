"""Per-point random streams inside compiled kernels.

Each point (lane) owns a xoroshiro128+ generator whose 128-bit state is seeded from
``numpy.random.SeedSequence(seed, spawn_key=(global point index,))``. A point's stream
therefore depends only on (seed, its global index): not on the tiling, the block it was
integrated in, the number of workers, or a resume in between.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import ArrayLike

__all__ = ["seed_states", "next_u64", "uniform01", "normal", "RANDOM_VERSION"]

RANDOM_VERSION = "1"
_U11 = np.uint64(11)
_U16 = np.uint64(16)
_U24 = np.uint64(24)
_U37 = np.uint64(37)
_U40 = np.uint64(40)
_U27 = np.uint64(27)
_INV53 = 1.0 / 9007199254740992.0
_TWO_PI = 2.0 * math.pi


def seed_states(seed: int, point_ids: ArrayLike) -> np.ndarray:
    """Generator states (2, N) uint64 for the given global point indices."""
    ids = np.asarray(point_ids, dtype=np.int64).ravel()
    out = np.empty((2, ids.size), dtype=np.uint64)
    for k, i in enumerate(ids):
        st = np.random.SeedSequence(int(seed), spawn_key=(int(i),)).generate_state(2, np.uint64)
        if st[0] == 0 and st[1] == 0:  # the one forbidden state
            st[1] = np.uint64(1)
        out[:, k] = st
    return out


@numba.njit(inline="always", cache=True)
def next_u64(S: np.ndarray, j: int) -> np.uint64:
    """xoroshiro128+ (Blackman & Vigna): the next 64 random bits of stream ``j``."""
    s0 = S[0, j]
    s1 = S[1, j]
    result = s0 + s1
    s1 ^= s0
    S[0, j] = ((s0 << _U24) | (s0 >> _U40)) ^ s1 ^ (s1 << _U16)
    S[1, j] = (s1 << _U37) | (s1 >> _U27)
    return result


@numba.njit(inline="always", cache=True)
def uniform01(S: np.ndarray, j: int) -> float:
    """A uniform double in [0, 1) from the top 53 bits."""
    return np.float64(next_u64(S, j) >> _U11) * _INV53


@numba.njit(inline="always", cache=True)
def normal(S: np.ndarray, j: int) -> float:
    """A standard normal deviate (Box-Muller, one of the pair)."""
    u1 = uniform01(S, j)
    u2 = uniform01(S, j)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(_TWO_PI * u2)
