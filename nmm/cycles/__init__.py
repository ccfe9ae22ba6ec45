"""Periodic orbits: orthogonal collocation, Floquet multipliers and cycle branches.

:mod:`.collocation` holds the discretisation (tables, mesh, sparse pattern, condensation),
:mod:`.system` the equations of one model, :mod:`.branch` the pseudo-arclength follower with
its test functions, :mod:`.result` the xarray dataset; :func:`nmm.continuation` with
``cycles=`` is the entry point.
"""
from .options import CycleOptions

__all__ = ["CycleOptions"]
