"""Cluster profiles: where a sweep's dask workers come from.

A profile is a small YAML mapping with a ``kind``:

``local``
    a ``distributed.LocalCluster`` on this machine (the default);
``address``
    an existing scheduler (``address: tcp://host:8786``); a bare address given as the
    cluster (``--cluster tls://host:8786``) is such a profile too;
``slurm``, ``pbs``, ``sge``, ``lsf``
    a dask-jobqueue cluster: the scheduler runs in this process and every job of the batch
    system runs workers that connect back to it.

The package is four modules, one idea each:

:mod:`.profile`
    :class:`ClusterProfile`, the frozen spec, validating only the keys nmm interprets
    (kind, jobs/adaptive, security, address, cores/processes, walltime against
    ``--lifetime``); every other key is the cluster class's keyword argument.
:mod:`.lookup`
    :func:`load_profile` and :func:`available_profiles`: dask config
    ``nmm.clusters.<name>``, then ``~/.config/nmm/clusters/<name>.yaml``, then the profiles
    shipped as package data (``sweeps/cluster/profiles/*.yaml``, which document every key).
:mod:`.construct`
    :func:`cluster_from_profile` and :func:`client_for`: the class is called with the
    profile's options, its refusals become :class:`~sweeps.SpecError` naming the profile.
:mod:`.resubmit`
    :func:`start_jobs`: submits the jobs and replaces those that end, with public API only.

::

    with client_for("slurm") as client:            # or "local", "tcp://host:8786", "my.yaml"
        sweeps.run_sweep(spec, client=client)

    profile = load_profile("slurm")
    cluster, address = cluster_from_profile(profile)  # no job submitted yet
    print(cluster.job_script())
    cluster.close()
"""
from __future__ import annotations

from .construct import CLUSTER_CLASSES, accepted_keywords, client_for, cluster_class, cluster_from_profile, security_for
from .lookup import SHIPPED_PROFILE_DIR, available_profiles, load_profile, shipped_profiles, user_profile_dir
from .profile import JOBQUEUE_KINDS, KINDS, ClusterProfile, walltime_seconds
from .resubmit import JobKeeper, keep_jobs, start_jobs

__all__ = [
    "CLUSTER_CLASSES", "ClusterProfile", "JOBQUEUE_KINDS", "JobKeeper", "KINDS", "SHIPPED_PROFILE_DIR",
    "accepted_keywords", "available_profiles", "client_for", "cluster_class", "cluster_from_profile", "keep_jobs",
    "load_profile", "security_for", "shipped_profiles", "start_jobs", "user_profile_dir", "walltime_seconds",
]
