"""A text progress bar for long operations: done / total, rate, ETA."""
from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Draws ``[#####.....] 12/40 tiles  1,234 points/s  ETA 0:01:23`` on a stream."""

    def __init__(self, total: int, unit: str = "tiles", points_per_item: float = 1.0,
                 stream: TextIO | None = None, enabled: bool = True, width: int = 30, already: int = 0) -> None:
        self.total = max(int(total), 0)
        self.done = 0
        self.already = already
        self.unit = unit
        self.points = 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.width = width
        self.t0 = time.perf_counter()
        self._last = 0.0
        self._drawn = -1

    def update(self, n: int = 1, points: int = 0) -> None:
        self.done += n
        self.points += points
        now = time.perf_counter()
        if self.enabled and (now - self._last > 0.2 or self.done >= self.total):
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        self._drawn = self.done
        el = max(now - self.t0, 1e-9)
        frac = (self.already + self.done) / (self.already + self.total) if self.total + self.already else 1.0
        bar = "#" * int(frac * self.width)
        rate = self.points / el
        left = self.total - self.done
        eta = el / self.done * left if self.done else float("nan")
        eta_s = "--:--" if eta != eta else time.strftime("%H:%M:%S", time.gmtime(eta))
        shown = f"{rate:,.0f}" if rate >= 10 or rate == 0 else f"{rate:.2g}"  # networks: a few points/s
        self.stream.write(
            f"\r[{bar:<{self.width}}] {self.already + self.done}/{self.already + self.total} {self.unit}  "
            f"{shown} points/s  ETA {eta_s} "
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            if self._drawn != self.done:
                self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()
