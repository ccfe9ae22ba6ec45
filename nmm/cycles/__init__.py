"""Periodic orbits: orthogonal collocation, Floquet multipliers and cycle branches.

:mod:`.collocation` holds the discretisation (tables, mesh, sparse pattern, condensation),
:mod:`.pointwise` the model's functions at many states in one compiled call,
:mod:`.system` the equations of one model (Newton, tangent, multipliers), :mod:`.branch` the
pseudo-arclength follower with its test functions, :mod:`.driver` all branches of a
diagram, :mod:`.options` the validated options and :mod:`.result` the xarray dataset;
:func:`nmm.continuation` with ``cycles=`` is the entry point.
"""
from .options import CycleOptions

__all__ = ["CycleOptions"]
