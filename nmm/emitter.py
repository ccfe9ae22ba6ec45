"""Writing indented Python source: lines, blocks and an indentation context.

::

    em = Emitter()
    with em.block("def f(x):"):
        em("y = x + 1", "return y")
    em.text()
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

__all__ = ["Emitter"]


class Emitter:
    """Collects source lines at the current indentation (four spaces per level)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.level = 0

    def __call__(self, *lines: str) -> "Emitter":
        """Add lines at the current indentation."""
        for ln in lines:
            self.lines.append(("    " * self.level + ln) if ln else "")
        return self

    def extend(self, lines: Iterable[str], empty: str | None = "pass") -> "Emitter":
        """Add lines; ``empty`` (default ``pass``) when there are none."""
        lines = list(lines)
        if not lines and empty is not None:
            lines = [empty]
        return self(*lines)

    @contextlib.contextmanager
    def block(self, header: str | None = None) -> Iterator["Emitter"]:
        """``header`` at this level, then the body one level deeper."""
        if header is not None:
            self(header)
        self.level += 1
        try:
            yield self
        finally:
            self.level -= 1

    def text(self) -> str:
        return "\n".join(self.lines)
