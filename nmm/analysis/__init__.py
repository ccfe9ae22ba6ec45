"""Analysis numerics: spectra, orbit diagrams and continuation of equilibria.

Pure functions over numpy / xarray and nmm models; the sweep engine runs them per tile.
"""

from .continuation import Continuation, continuation, find_equilibrium

__all__ = ["continuation", "Continuation", "find_equilibrium"]
