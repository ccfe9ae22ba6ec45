"""What the engine returns: one :class:`BatchResult` per block, one :class:`Status` enum.

The same status codes are used from the kernel to the store: ``nmm.simulate`` writes them
in its ``status`` variable, the sweep task writes them in the store's ``status`` variable
(where ``NOT_COMPUTED`` marks points whose tile is not done yet), and continuation reads
them when it integrates to rest.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from .timegrid import TimeGrid

__all__ = ["Status", "BatchResult", "STATUS_ATTRS"]


class Status(enum.IntEnum):
    """The state of a parameter point.

    ``NOT_COMPUTED`` (0) is what a store holds before the point's tile is done; ``OK``
    (1): every output and the final state are finite; ``DIVERGED`` (2): some value
    became NaN or infinite.
    """

    NOT_COMPUTED = 0
    OK = 1
    DIVERGED = 2


#: attributes of a ``status`` variable (CF flags)
STATUS_ATTRS = {"units": "1", "long_name": "point status", "flag_values": [int(s) for s in Status],
                "flag_meanings": " ".join(s.name.lower() for s in Status)}


@dataclass(frozen=True, eq=False)
class BatchResult:
    """The outcome of integrating a block of ``N`` points.

    Attributes
    ----------
    names : tuple of str
        Output names, in order.
    paths : tuple of str
        The variable path of each output.
    series : ndarray, shape (n_outputs, n_keep, N)
        The kept samples (``n_keep = 0`` when series were not kept).
    stats : ndarray, shape (3, n_outputs, N)
        Mean, min and max of each output over the kept samples.
    final : ndarray, shape (n_states, N)
        The states at the end.
    status : ndarray of int8, shape (N,)
        :class:`Status` of each point.
    grid : TimeGrid
    regions : tuple of str
        A network's region labels; then ``series`` is (n_outputs, n_keep, n_regions, N),
        ``stats`` (3, n_outputs, n_regions, N) and ``final`` (n_states, n_regions, N).
    """

    names: tuple[str, ...]
    paths: tuple[str, ...]
    series: np.ndarray
    stats: np.ndarray
    final: np.ndarray
    status: np.ndarray
    grid: TimeGrid
    regions: tuple[str, ...] = ()

    @property
    def n_points(self) -> int:
        return int(self.status.shape[0])

    @property
    def times(self) -> np.ndarray:
        """Times of the kept samples (empty when series were not kept)."""
        return self.grid.times if self.series.shape[1] else np.empty(0)

    @property
    def has_series(self) -> bool:
        return self.series.shape[1] > 0 or self.grid.n_keep == 0

    def index(self, name: str) -> int:
        return self.names.index(name)

    def stat(self, name: str) -> np.ndarray:
        """Mean, min and max of one output, shape (3, N)."""
        return self.stats[:, self.index(name)]


def status_of(final: np.ndarray, stats: np.ndarray) -> np.ndarray:
    """:class:`Status` per point: diverged where the final state or a summary is not finite."""
    n = final.shape[-1]
    bad = ~np.isfinite(final.reshape(-1, n)).all(axis=0) | ~np.isfinite(stats.reshape(-1, n)).all(axis=0)
    return np.where(bad, Status.DIVERGED, Status.OK).astype(np.int8)
