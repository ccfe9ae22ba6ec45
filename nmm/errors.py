"""Exceptions raised by nmm, and the spelling suggestions in their messages."""
from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["NMMError", "TemplateError", "EquationError", "ParameterError", "ConnectomeError", "did_you_mean"]


class NMMError(ValueError):
    """Base class of nmm's errors about user input."""


class TemplateError(NMMError):
    """A template cannot be found, read or resolved."""


class EquationError(NMMError):
    """An equation string is malformed, unsafe or refers to unknown names."""


class ConnectomeError(NMMError):
    """A connectome (weights, tract lengths, labels, empirical FC) cannot be read or is malformed."""


class ParameterError(NMMError, KeyError):
    """A parameter or variable path is unknown or has a bad value."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def did_you_mean(name: str, candidates: Iterable[str], n: int = 5) -> str:
    """Return a ``" Did you mean ...?"`` hint with the closest candidates, or ``""``."""
    cands = list(candidates)
    close = difflib.get_close_matches(name, cands, n=n, cutoff=0.5)
    if not close:
        # match on the last path component, e.g. 'pc/rpo_e_in/uu' -> '.../u'
        last = name.rsplit("/", 1)[-1]
        close = [c for c in cands if c.rsplit("/", 1)[-1] == last][:n]
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"
