"""Keeping a jobqueue cluster's jobs running: jobs that end are replaced.

Design
------
A batch job ends on its own: walltime, a worker's ``--lifetime``, ``scancel``, a node
failure. dask's ``SpecCluster`` keeps the ended job in ``cluster.worker_spec``, so neither
``cluster.scale(jobs=N)`` nor ``distributed.Adaptive`` replaces it: both compare their target
with the spec, which still counts it. (dask itself forgets a lost job only when the job ran
a single worker process, after ``distributed.deploy.lost-worker-timeout``.)

:class:`JobKeeper` watches the scheduler instead. A job whose workers connected once and
have all been gone for ``grace`` seconds has ended; jobs still queued (never connected) are
left alone. An ended job is retired with ``cluster.scale_down([job])``, which also closes
its job object (``scancel`` of a finished job is harmless), and then

* with ``jobs: N``, ``cluster.scale(jobs=N)`` submits a fresh job;
* with ``adaptive``, the ``Adaptive`` loop sees its plan one job short and submits one if
  tiles are still waiting.

The check runs every ``interval`` seconds in a ``tornado.ioloop.PeriodicCallback`` on the
cluster's loop, registered in ``cluster.periodic_callbacks`` so that ``cluster.close()``
stops it. Only public API of distributed and dask-jobqueue is used: ``worker_spec`` and
``scheduler_info`` (read), ``scale_down``, ``scale``, ``adapt``, ``loop`` and
``periodic_callbacks``.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from .profile import JOBQUEUE_KINDS, ClusterProfile

__all__ = ["JobKeeper", "keep_jobs", "start_jobs", "REPLACE_INTERVAL", "REPLACE_GRACE"]

logger = logging.getLogger(__name__)

#: how often the driver looks for jobs that ended, and how long a job's workers must have
#: been gone before it counts as ended (seconds); read when :func:`keep_jobs` is called
REPLACE_INTERVAL = 5.0
REPLACE_GRACE = 10.0


class JobKeeper:
    """Finds the jobs of a jobqueue cluster that ended, retires them and keeps the count.

    Parameters
    ----------
    cluster : dask_jobqueue.JobQueueCluster
    jobs : int or None
        The fixed number of jobs to keep; None when ``Adaptive`` decides the number.
    grace : float
        Seconds every worker of a job must have been gone before the job counts as ended.
    clock : callable, default: time.monotonic
    """

    def __init__(self, cluster: Any, jobs: int | None, grace: float,
                 clock: Callable[[], float] = time.monotonic):
        self.cluster = cluster
        self.jobs = jobs
        self.grace = grace
        self.clock = clock
        self._seen: set = set()  # jobs with a worker that connected once
        self._gone_since: dict = {}  # job -> when its last worker was first seen gone

    def ended_jobs(self) -> list:
        """The jobs whose workers connected once and have all been gone for ``grace`` s."""
        present = {w.get("name") for w in self.cluster.scheduler_info.get("workers", {}).values()}
        now, ended = self.clock(), []
        spec = dict(self.cluster.worker_spec)
        for job, job_spec in spec.items():
            names = {f"{job}{suffix}" for suffix in job_spec.get("group", [""])}
            if names & present:
                self._seen.add(job)
                self._gone_since.pop(job, None)
            elif job in self._seen and now - self._gone_since.setdefault(job, now) >= self.grace:
                ended.append(job)
        for job in set(self._seen) - set(spec):  # scaled down meanwhile (Adaptive, close)
            self._seen.discard(job)
            self._gone_since.pop(job, None)
        return ended

    async def replace(self, ended: Iterable) -> None:
        """Retire the ended jobs and, with a fixed number, submit as many new ones."""
        ended = list(ended)
        name = type(self.cluster).__name__
        for job in ended:
            self._seen.discard(job)
            self._gone_since.pop(job, None)
            logger.warning("job %s of %s ended; %s", job, name,
                           "submitting it again" if self.jobs is not None
                           else "the adaptive scaling submits another while tiles wait")
        try:
            await self.cluster.scale_down(ended)
        except Exception:  # noqa: BLE001 (closing a job that is gone; keep the count regardless)
            logger.warning("closing the ended jobs %s of %s failed", ended, name, exc_info=True)
        if self.jobs is not None:
            self.cluster.scale(jobs=self.jobs)

    async def check(self) -> None:
        """One round: find the jobs that ended and replace them (while the cluster runs)."""
        from distributed.core import Status

        if self.cluster.status != Status.running:
            return
        ended = self.ended_jobs()
        if ended:
            await self.replace(ended)


def keep_jobs(cluster: Any, jobs: int | None, interval: float | None = None,
              grace: float | None = None) -> JobKeeper:
    """Check every ``interval`` seconds for jobs that ended and replace them.

    Parameters
    ----------
    cluster : dask_jobqueue.JobQueueCluster
    jobs : int or None
        The fixed number of jobs; None for adaptive scaling.
    interval, grace : float, optional
        Default: :data:`REPLACE_INTERVAL` and :data:`REPLACE_GRACE`.

    Returns
    -------
    JobKeeper
        Its periodic callback is ``cluster.periodic_callbacks['nmm-replace-ended-jobs']``.
    """
    from tornado.ioloop import PeriodicCallback

    keeper = JobKeeper(cluster, jobs, REPLACE_GRACE if grace is None else grace)
    every = REPLACE_INTERVAL if interval is None else interval

    def install() -> None:  # on the cluster's loop: the callback runs there
        pc = PeriodicCallback(keeper.check, every * 1000)
        cluster.periodic_callbacks["nmm-replace-ended-jobs"] = pc
        pc.start()

    cluster.loop.add_callback(install)
    return keeper


def start_jobs(cluster: Any, profile: ClusterProfile) -> JobKeeper | None:
    """Submit a jobqueue profile's jobs (fixed or adaptive) and keep them running.

    Jobs that end while the cluster lives are replaced (:class:`JobKeeper`), so a fixed
    ``jobs: N`` does not dwindle to zero on a long sweep. Other kinds: nothing to do.

    Returns
    -------
    JobKeeper or None
    """
    if profile.kind not in JOBQUEUE_KINDS:
        return None
    if profile.adaptive is not None:
        cluster.adapt(**profile.adaptive)
    else:
        cluster.scale(jobs=profile.jobs)
    return keep_jobs(cluster, profile.jobs)
