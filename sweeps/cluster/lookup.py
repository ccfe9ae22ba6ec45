"""Finding a cluster profile by name, file or scheduler address.

Design
------
A name is looked up in three places, first match wins:

1. dask config ``nmm.clusters.<name>`` (``~/.config/dask/*.yaml``, ``dask.config.set``,
   ``DASK_NMM__CLUSTERS__...``);
2. the user's folder, ``$XDG_CONFIG_HOME/nmm/clusters/<name>.yaml`` (default
   ``~/.config/nmm/clusters``; ``.yml`` works too);
3. the profiles shipped with the package, ``sweeps/cluster/profiles/<name>.yaml``: package
   data read with :mod:`importlib.resources`, so a wheel install finds them as a checkout does.

A string with ``://`` is a scheduler address (kind ``address``), a string ending in
``.yaml``/``.yml`` or holding a path separator is a profile file. Lookup reads files and
dask config and nothing else; validation is :class:`~.profile.ClusterProfile`'s.
"""
from __future__ import annotations

import importlib.resources
import os
from collections.abc import Mapping
from importlib.resources.abc import Traversable
from pathlib import Path

import dask.config
from nmm.errors import did_you_mean

from ..errors import SpecError
from .profile import ClusterProfile

__all__ = ["available_profiles", "load_profile", "shipped_profiles", "user_profile_dir", "SHIPPED_PROFILE_DIR"]

#: the folder of the profiles shipped as package data (a ``Traversable``; a ``Path`` in a
#: regular install)
SHIPPED_PROFILE_DIR: Traversable = importlib.resources.files(__package__).joinpath("profiles")

_SUFFIXES = (".yaml", ".yml")


def user_profile_dir() -> Path:
    """``$XDG_CONFIG_HOME/nmm/clusters``, by default ``~/.config/nmm/clusters``."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "nmm" / "clusters"


def _profile_files(folder: Traversable) -> dict[str, Traversable]:
    """``{name: file}`` of the ``.yaml``/``.yml`` files in a folder (none if it is absent)."""
    if not folder.is_dir():
        return {}
    files = sorted((p for p in folder.iterdir() if p.name.endswith(_SUFFIXES) and p.is_file()),
                   key=lambda p: p.name)
    return {p.name.rsplit(".", 1)[0]: p for p in files}


def shipped_profiles() -> dict[str, Traversable]:
    """The profiles shipped with nmm-sweeps: ``{name: file}``."""
    return _profile_files(SHIPPED_PROFILE_DIR)


def _config_profiles() -> dict:
    v = dask.config.get("nmm.clusters", default=None) or {}
    return dict(v) if isinstance(v, Mapping) else {}


def available_profiles() -> dict[str, str]:
    """Every profile name that :func:`load_profile` finds, with where the winning one lives.

    Examples
    --------
    >>> available_profiles()["slurm"]                     # doctest: +SKIP
    '.../site-packages/sweeps/cluster/profiles/slurm.yaml'
    """
    found = {n: str(p) for n, p in shipped_profiles().items()}
    found.update({n: str(p) for n, p in _profile_files(user_profile_dir()).items()})
    found.update({str(n): "dask config nmm.clusters" for n in _config_profiles()})
    return dict(sorted(found.items()))


def load_profile(cluster: str | os.PathLike | Mapping | ClusterProfile | None = None) -> ClusterProfile:
    """The profile for a name, a file, a scheduler address or a mapping.

    Parameters
    ----------
    cluster : str, path, mapping or ClusterProfile, optional
        ``None``: the ``local`` profile; ``'tcp://host:port'``/``'tls://...'``: that
        scheduler; a path ending in ``.yaml``/``.yml`` (or holding a path separator): that
        file; any other string: a profile name looked up in dask config
        ``nmm.clusters.<name>``, the user folder (:func:`user_profile_dir`) and the shipped
        profiles, in that order; a mapping: validated as a profile.

    Raises
    ------
    SpecError
        For an unknown name (listing the available ones) or an invalid profile.
    """
    if isinstance(cluster, ClusterProfile):
        return cluster
    if isinstance(cluster, Mapping):
        return ClusterProfile.from_dict(cluster)
    name = "local" if cluster is None else os.fspath(cluster)
    if "://" in name:
        return ClusterProfile(name=name, kind="address", address=name, source="address")
    if name.endswith(_SUFFIXES) or os.sep in name:
        return ClusterProfile.from_yaml(name)
    conf = _config_profiles()
    if name in conf:
        return ClusterProfile.from_dict(conf[name], name=name, source=f"dask config nmm.clusters.{name}")
    user = _profile_files(user_profile_dir()).get(name)
    if user is not None:
        return ClusterProfile.from_yaml(str(user), name=name)
    shipped = shipped_profiles().get(name)
    if shipped is not None:  # read through importlib.resources: no assumption of a real file
        return ClusterProfile.from_yaml_text(shipped.read_text(), name=name, source=str(shipped))
    names = list(available_profiles())
    raise SpecError(f"unknown cluster profile {name!r}; available: {', '.join(names)}, a scheduler address "
                    f"such as tcp://host:8786, or a profile file such as my-cluster.yaml. User profiles go in "
                    f"{user_profile_dir()}/<name>.yaml." + did_you_mean(name, names))
