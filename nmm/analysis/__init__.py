"""Array analysis: spectra (:mod:`.spectral`) and orbit diagrams (:mod:`.orbits`).

Pure functions over numpy / xarray that know nothing of models; the sweep engine runs
them per tile. Continuation of equilibria, which drives a model, is :mod:`nmm.continuation`.
"""

from . import network, orbits, spectral

__all__ = ["network", "orbits", "spectral"]
