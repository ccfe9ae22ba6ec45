"""Clusters and clients from profiles.

Design
------
* A profile's ``options`` are the keyword arguments of one class: ``distributed.LocalCluster``
  for kind ``local``, the dask-jobqueue class of the kind otherwise
  (:data:`CLUSTER_CLASSES`). nmm adds its defaults (one single-threaded worker per core on
  127.0.0.1 for ``local``; the running interpreter as the workers' ``python``) and the
  ``Security`` built from the profile's ``security``.
* That class is the authority on its keywords. Before calling it, the option names are
  checked against the parameters it accepts, read with :func:`inspect.signature` from the
  class, its ``JobQueueCluster`` base and its ``Job`` classes (``Nanny`` and ``Worker`` for
  ``LocalCluster``): an unknown key is a :class:`~sweeps.SpecError` that names the profile
  and suggests the closest parameter, where dask-jobqueue would raise a ``TypeError`` deep in
  its job class. A ``ValueError`` or ``TypeError`` the class raises on a value (also when
  ``SpecCluster`` wraps it in ``RuntimeError('Cluster failed to start')``) becomes a
  ``SpecError`` naming the profile and the call, with the class's own fix.
* Building a cluster submits no job; :func:`client_for` does, through
  :func:`~.resubmit.start_jobs`.
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import os
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from nmm.validation import check_keys

from ..errors import SpecError
from .lookup import load_profile
from .profile import NMM_KEYS, ClusterProfile
from .resubmit import start_jobs

if TYPE_CHECKING:  # annotations only: distributed is imported when a cluster is made
    from distributed import Client
    from distributed.deploy import Cluster
    from distributed.security import Security

__all__ = ["CLUSTER_CLASSES", "accepted_keywords", "client_for", "cluster_class", "cluster_from_profile",
           "security_for"]

#: the cluster class of each kind but ``address``: (module, class name)
CLUSTER_CLASSES = {
    "local": ("distributed", "LocalCluster"),
    "slurm": ("dask_jobqueue", "SLURMCluster"),
    "pbs": ("dask_jobqueue", "PBSCluster"),
    "sge": ("dask_jobqueue", "SGECluster"),
    "lsf": ("dask_jobqueue", "LSFCluster"),
}
#: parameters of those classes that a profile does not set: nmm passes them, or they are
#: no YAML values (event loops, classes)
_NOT_FROM_PROFILES = frozenset({"self", "loop", "asynchronous", "security", "scheduler", "job_cls", "scheduler_cls",
                                "worker_class"})


def cluster_class(kind: str) -> type[Cluster]:
    """The cluster class of a kind (``distributed.LocalCluster`` or a dask-jobqueue class)."""
    module, name = CLUSTER_CLASSES[kind]
    try:
        mod = importlib.import_module(module)
    except ImportError:
        raise SpecError(f"cluster kind {kind!r} needs dask-jobqueue: pip install 'dask-jobqueue>=0.9'.") from None
    return getattr(mod, name)


def _keyword_classes(cls: type) -> list[type]:
    """The classes whose ``__init__`` receives the keyword arguments given to ``cls``."""
    from distributed import LocalCluster, Nanny, Worker

    if issubclass(cls, LocalCluster):  # **worker_kwargs go to the Nanny, then the Worker
        return [k for k in cls.__mro__ if issubclass(k, LocalCluster)] + [Nanny, Worker]
    from dask_jobqueue.core import Job, JobQueueCluster

    if issubclass(cls, JobQueueCluster):  # **job_kwargs go to the Job class
        return ([k for k in cls.__mro__ if issubclass(k, JobQueueCluster)]
                + [k for k in getattr(cls, "job_cls").__mro__ if issubclass(k, Job)])  # noqa: B009 (a class attribute in dask-jobqueue, typed as an instance one)
    return [cls]


@functools.lru_cache(maxsize=None)
def accepted_keywords(cls: type) -> frozenset[str]:
    """The keyword arguments that a profile may pass to cluster class ``cls``.

    Read with :func:`inspect.signature` from ``cls`` and the classes its keywords travel to
    (the ``JobQueueCluster`` base and the ``Job`` classes of a dask-jobqueue class;
    ``Nanny`` and ``Worker`` for ``LocalCluster``), less those nmm sets itself.
    """
    names: set[str] = set()
    for klass in _keyword_classes(cls):
        init = vars(klass).get("__init__")
        if init is None:
            continue
        names.update(n for n, p in inspect.signature(init).parameters.items()
                     if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    if hasattr(cls, "job_cls"):  # jobqueue: the profile's jobs/adaptive say how many, not n_workers
        names.discard("n_workers")
    return frozenset(names - _NOT_FROM_PROFILES)


def _check_option_names(profile: ClusterProfile, cls: type) -> None:
    """An option the class does not take: SpecError with the closest names (not its TypeError)."""
    allowed = accepted_keywords(cls) | NMM_KEYS[profile.kind]
    unknown = sorted(k for k in profile.options if k not in allowed)
    if not unknown:
        return
    # (mypy takes the instance method distributed.Cluster.__hash__ for the class's: a class is hashable)
    others = [k for k in CLUSTER_CLASSES
              if k != profile.kind and unknown[0] in accepted_keywords(cluster_class(k))]  # type: ignore[arg-type]
    hint = f"({unknown[0]!r} is an option of kind {', '.join(others)}.)" if others else ""
    file = profile.source if profile.source.endswith((".yaml", ".yml")) else None  # check_keys names a file
    where = f"cluster profile {profile.name!r}" if file else profile.where
    check_keys(profile.options, sorted(allowed), f"{where} (kind {profile.kind}: options of {_qualname(cls)})",
               source=file, error=SpecError, hint=hint)


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _call(cls: type[Cluster], kwargs: dict[str, Any], profile: ClusterProfile) -> Cluster:
    """``cls(**kwargs)``, its errors on the profile's values as SpecError."""
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise _refused(cls, profile, exc) from exc
    except RuntimeError as exc:  # SpecCluster: "Cluster failed to start" from the real error
        if isinstance(exc.__cause__, (TypeError, ValueError)):
            raise _refused(cls, profile, exc.__cause__) from exc
        raise


def _refused(cls: type, profile: ClusterProfile, exc: BaseException) -> SpecError:
    call = f"{cls.__name__}({', '.join(f'{k}={v!r}' for k, v in profile.options.items())})"
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return SpecError(f"{profile.where}: {_qualname(cls)} refused the profile's options: {reason} "
                     f"(called as {call}; every key of a {profile.kind} profile except "
                     f"{', '.join(sorted(NMM_KEYS[profile.kind] - {'kind'}))} is a keyword argument of that class, "
                     f"see help({cls.__name__})).")


def security_for(profile: ClusterProfile) -> Security | None:
    """The ``distributed.security.Security`` of a profile, or None without ``security``.

    ``tls_cert``/``tls_key`` stand for every role (client, scheduler, worker) not given
    its own; ``require_encryption`` defaults to true.

    Raises
    ------
    SpecError
        When a certificate, key or CA file does not exist.
    """
    if profile.security is None:
        return None
    from distributed.security import Security

    sec = dict(profile.security)
    require = sec.pop("require_encryption", True)
    cert, key = sec.pop("tls_cert", None), sec.pop("tls_key", None)
    for role in ("client", "scheduler", "worker"):
        sec.setdefault(f"tls_{role}_cert", cert)
        sec.setdefault(f"tls_{role}_key", key)
    for k, path in sec.items():
        if path is not None and not os.path.isfile(path):
            raise SpecError(f"{profile.where}: security.{k} file {path!r} not found.")
    return Security(require_encryption=bool(require), **{k: v for k, v in sec.items() if v is not None})


def cluster_from_profile(profile: ClusterProfile | str | os.PathLike | Mapping | None
                         ) -> tuple[Cluster | None, str | None]:
    """Build the cluster object of a profile, without submitting any job.

    Parameters
    ----------
    profile : ClusterProfile or anything :func:`~.lookup.load_profile` takes

    Returns
    -------
    cluster : distributed.deploy.Cluster or None
        A ``LocalCluster`` (workers running) or a dask-jobqueue cluster (scheduler running,
        no job yet: :func:`~.resubmit.start_jobs` submits them, ``cluster.job_script()``
        shows the script); None for kind ``address``. The caller closes it.
    address : str
        The scheduler's address.

    Raises
    ------
    SpecError
        For an invalid profile, an option the cluster class does not take (with the
        closest spellings), or a value it refuses.

    Examples
    --------
    >>> cluster, address = cluster_from_profile("slurm")   # doctest: +SKIP
    >>> print(cluster.job_script())                        # doctest: +SKIP
    >>> cluster.close()                                    # doctest: +SKIP
    """
    profile = load_profile(profile)
    security = security_for(profile)
    if profile.kind == "address":
        return None, profile.address
    cls = cluster_class(profile.kind)
    _check_option_names(profile, cls)
    kw: dict[str, Any] = dict(profile.options)
    if profile.kind == "local":
        kw.setdefault("n_workers", os.cpu_count() or 1)
        kw.setdefault("threads_per_worker", 1)
        kw.setdefault("host", "127.0.0.1")
        kw.setdefault("dashboard_address", ":0")
        if security is not None:
            kw.update(security=security, protocol="tls://")
    else:  # a jobqueue kind
        kw.setdefault("python", sys.executable)
        if security is not None:
            kw["security"] = security
    cluster = _call(cls, kw, profile)
    return cluster, cluster.scheduler_address


def _client_security(profile: ClusterProfile) -> Security | None:
    """The profile's Security; for a tls:// address without one, dask config's, if it has TLS."""
    security = security_for(profile)
    if security is None and (profile.address or "").startswith("tls://"):
        from distributed.security import Security

        security = Security()
        if security.get_connection_args("client").get("ssl_context") is None:
            raise SpecError(f"the scheduler at {profile.address} speaks TLS: give the cluster a profile with "
                            "`security: {tls_ca_file: ca.pem, tls_cert: client.pem, tls_key: client.key}` "
                            "(as in the shipped profile 'address'), or set distributed.comm.tls.* in dask config.")
    return security


@contextlib.contextmanager
def client_for(cluster: str | os.PathLike | Mapping | ClusterProfile | None = None) -> Iterator[Client]:
    """A ``distributed.Client`` for a profile name, a profile file or a scheduler address.

    Everything created here (the client, the cluster, its jobs) is closed on exit. A
    jobqueue profile's jobs are submitted here, and jobs that end are replaced while the
    block runs (:mod:`.resubmit`).

    Parameters
    ----------
    cluster : str, path, mapping or ClusterProfile, optional
        See :func:`~.lookup.load_profile`. Default: the ``local`` profile.

    Raises
    ------
    SpecError
        For an unknown or invalid profile.
    OSError
        When the scheduler of an ``address`` profile cannot be reached in time.

    Examples
    --------
    >>> with client_for("local") as client:                 # doctest: +SKIP
    ...     sweeps.run_sweep(spec, client=client)
    """
    from distributed import Client

    profile = load_profile(cluster)
    obj, address = cluster_from_profile(profile)
    try:
        if obj is None:
            security = _client_security(profile)
            try:
                client = Client(address, security=security, timeout=profile.timeout)
            except (OSError, TimeoutError) as exc:
                raise OSError(f"cannot reach the scheduler at {address} within {profile.timeout:g}s "
                              f"(cluster {profile.name!r}): {exc}") from exc
        else:
            start_jobs(obj, profile)
            client = Client(obj)
        with client:
            yield client
    finally:
        if obj is not None:
            obj.close()
