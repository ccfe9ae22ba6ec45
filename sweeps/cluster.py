"""Turning a cluster profile (or an address) into a dask Client."""
from __future__ import annotations

import contextlib
import os

from .errors import SpecError

__all__ = ["client_for"]


@contextlib.contextmanager
def client_for(cluster: str | None = None):
    """A Client for a profile name, a profile file or a scheduler address; closed on exit.

    ``None`` or ``'local'``: a LocalCluster with one single-threaded worker per core on
    127.0.0.1. ``tcp://host:port`` (or ``tls://``): the existing scheduler there.
    """
    from distributed import Client, LocalCluster

    if cluster in (None, "local"):
        n = os.cpu_count() or 1
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=":0") as lc, Client(lc) as c:
            yield c
        return
    if "://" in cluster:
        with Client(cluster, timeout=30) as c:
            yield c
        return
    raise SpecError(f"unknown cluster {cluster!r}; use 'local' or a scheduler address such as tcp://127.0.0.1:8786.")
