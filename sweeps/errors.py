"""Errors of the sweep engine."""
from __future__ import annotations

from nmm.errors import NMMError

__all__ = ["SpecError", "StoreError", "SweepFailed"]


class SpecError(NMMError):
    """A sweep specification is invalid."""


class StoreError(NMMError):
    """A store cannot be created, opened, locked or resumed."""


class SweepFailed(RuntimeError):
    """Some tiles failed after their retries; every other tile is stored.

    Attributes
    ----------
    failures : list of dict
        One entry per failed tile: ``tile``, ``points`` (coordinates), ``error``.
    store : str
    """

    def __init__(self, message: str, failures: list[dict[str, object]], store: str) -> None:
        super().__init__(message)
        self.failures = failures
        self.store = store
