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

Profiles are found by name, first match wins: the dask config key ``nmm.clusters.<name>``,
``$XDG_CONFIG_HOME/nmm/clusters/<name>.yaml`` (default ``~/.config/nmm/clusters``), then the
profiles shipped in the repository's ``cluster/`` folder. A path to a ``.yaml`` file works
as well. The shipped ``cluster/*.yaml`` document every key.

::

    with client_for("slurm") as client:            # or "local", "tcp://host:8786", "my.yaml"
        sweeps.run_sweep(spec, client=client)

    profile = load_profile("slurm")
    cluster, address = cluster_from_profile(profile)  # no job submitted yet
    print(cluster.job_script())
    cluster.close()
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dask.config
import yaml
from dask.utils import parse_bytes, parse_timedelta
from nmm.errors import did_you_mean

from .errors import SpecError

__all__ = [
    "ClusterProfile", "KINDS", "available_profiles", "client_for", "cluster_from_profile",
    "load_profile", "start_jobs", "user_profile_dir", "SHIPPED_PROFILE_DIR",
]

logger = logging.getLogger(__name__)

KINDS = ("local", "address", "slurm", "pbs", "sge", "lsf")
JOBQUEUE_KINDS = ("slurm", "pbs", "sge", "lsf")
#: dask-jobqueue class of each kind (module, class name)
_JOBQUEUE_CLASSES = {
    "slurm": ("dask_jobqueue", "SLURMCluster"),
    "pbs": ("dask_jobqueue", "PBSCluster"),
    "sge": ("dask_jobqueue", "SGECluster"),
    "lsf": ("dask_jobqueue", "LSFCluster"),
}
#: the profiles shipped with the repository (absent from a wheel install: only the built-in
#: ``local`` profile is there)
SHIPPED_PROFILE_DIR = Path(__file__).resolve().parents[1] / "cluster"

# keys every profile may have; keys of each kind (passed to the cluster class unless handled)
_COMMON = {"kind", "description"}
_LOCAL = {"n_workers", "threads_per_worker", "memory_limit", "host", "dashboard_address", "processes",
          "security"}
_ADDRESS = {"address", "timeout", "security"}
_JOB = {"cores", "memory", "processes", "walltime", "queue", "project", "job_name", "job_extra_directives",
        "job_script_prologue", "job_directives_skip", "worker_extra_args", "interface", "scheduler_options",
        "local_directory", "log_directory", "python", "death_timeout", "nanny", "shebang",
        "shared_temp_directory", "jobs", "adaptive", "security"}
_KIND_KEYS = {
    "local": _LOCAL, "address": _ADDRESS,
    "slurm": _JOB | {"account", "job_cpu", "job_mem"},
    "pbs": _JOB | {"account", "resource_spec"},
    "sge": _JOB | {"resource_spec"},
    "lsf": _JOB | {"ncpus", "mem", "lsf_units", "use_stdin"},
}
_ADAPTIVE = {"minimum_jobs", "maximum_jobs", "interval", "wait_count", "target_duration"}
_SECURITY = {"tls_ca_file", "tls_cert", "tls_key", "tls_client_cert", "tls_client_key", "tls_scheduler_cert",
             "tls_scheduler_key", "tls_worker_cert", "tls_worker_key", "require_encryption"}
_STR_LISTS = ("job_extra_directives", "job_script_prologue", "job_directives_skip", "worker_extra_args")

#: how often the driver looks for jobs that ended (walltime, lifetime, scancel), and how
#: long a job's workers must have been gone before the job is submitted again (seconds)
REPLACE_INTERVAL = 5.0
REPLACE_GRACE = 10.0


def user_profile_dir() -> Path:
    """``$XDG_CONFIG_HOME/nmm/clusters``, by default ``~/.config/nmm/clusters``."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "nmm" / "clusters"


# --------------------------------------------------------------------------- the profile


@dataclasses.dataclass(frozen=True)
class ClusterProfile:
    """A validated cluster profile.

    Parameters
    ----------
    name : str
        The name it was found under (or the file / address it came from).
    kind : {'local', 'address', 'slurm', 'pbs', 'sge', 'lsf'}
    options : dict
        Keyword arguments of the cluster class (``LocalCluster`` or the dask-jobqueue
        class): ``cores``, ``memory``, ``walltime``, ``queue``, ``worker_extra_args``, ...
    jobs : int, optional
        Jobqueue kinds: a fixed number of jobs. Jobs that end (walltime, ``--lifetime``,
        ``scancel``) are submitted again while the sweep runs.
    adaptive : dict, optional
        Jobqueue kinds: ``minimum_jobs``, ``maximum_jobs`` (and ``interval``, ``wait_count``,
        ``target_duration`` of ``distributed.Adaptive``) instead of ``jobs``.
    address : str, optional
        Kind ``address``: the scheduler's address.
    timeout : float, default: 30
        Kind ``address``: seconds to wait for the scheduler.
    security : dict, optional
        TLS: ``tls_ca_file``, ``tls_cert``/``tls_key`` (used for every role unless
        ``tls_client_cert``, ``tls_scheduler_cert``, ``tls_worker_cert`` and their keys are
        given), ``require_encryption`` (default true). Paths are absolute.
    description : str, default: ''
    source : str, default: '<dict>'
        Where the profile came from, for messages.
    """

    name: str
    kind: str
    options: dict = dataclasses.field(default_factory=dict)
    jobs: int | None = None
    adaptive: dict | None = None
    address: str | None = None
    timeout: float = 30.0
    security: dict | None = None
    description: str = ""
    source: str = "<dict>"

    @classmethod
    def from_dict(cls, d: Mapping, name: str = "<dict>", source: str | None = None,
                  base_dir: str | Path | None = None) -> ClusterProfile:
        """Validate a profile mapping (as read from YAML).

        Raises
        ------
        SpecError
            On an unknown kind or key (with the closest spellings), a missing or bad value.
        """
        src = source or name
        where = f"cluster profile {name!r}" + (f" ({src})" if src != name else "")
        if not isinstance(d, Mapping):
            raise SpecError(f"{where} must be a mapping of options such as `kind: slurm`, got {type(d).__name__}.")
        d = _underscored(d)
        kind = d.get("kind") or ("address" if "address" in d else None)
        if kind is None:
            raise SpecError(f"{where} has no kind: add `kind: <one of {', '.join(KINDS)}>`.")
        if kind not in KINDS:
            raise SpecError(f"{where}: unknown kind {kind!r}; use one of {', '.join(KINDS)}."
                            + did_you_mean(str(kind), KINDS))
        allowed = _COMMON | _KIND_KEYS[kind]
        for key in d:
            if key not in allowed:
                others = [k for k, keys in _KIND_KEYS.items() if key in keys]
                hint = (f" ({key!r} is an option of kind {', '.join(others)}.)" if others
                        else did_you_mean(key, sorted(allowed)))
                raise SpecError(f"{where}: unknown key {key!r} for kind {kind!r}." + hint)
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        rest = {k: v for k, v in d.items() if k not in ("kind", "description", "jobs", "adaptive", "address",
                                                           "timeout", "security")}
        security = _check_security(d["security"], where, base) if d.get("security") is not None else None
        kw: dict[str, Any] = dict(name=name, kind=kind, description=str(d.get("description") or ""),
                                  source=src, security=security)
        if kind == "address":
            kw.update(_check_address(d, where))
        elif kind == "local":
            kw["options"] = _check_local(rest, where)
        else:
            kw["options"] = _check_job(rest, kind, where)
            kw.update(_check_scaling(d, where))
        return cls(**kw)

    @classmethod
    def from_yaml(cls, path: str | Path, name: str | None = None) -> ClusterProfile:
        """Read and validate a profile file; relative TLS paths are relative to its folder."""
        p = Path(path).expanduser()
        if not p.is_file():
            raise SpecError(f"cluster profile file {str(path)!r} not found.")
        try:
            d = yaml.safe_load(p.read_text())
        except yaml.YAMLError as exc:
            raise SpecError(f"cluster profile {str(p)!r} is not valid YAML: {exc}") from None
        return cls.from_dict(d if d is not None else {}, name=name or p.stem, source=str(p), base_dir=p.parent)

    def to_dict(self) -> dict:
        """The profile as a mapping that :meth:`from_dict` reads back to an equal profile."""
        d: dict[str, Any] = {"kind": self.kind}
        if self.description:
            d["description"] = self.description
        if self.kind == "address":
            d.update(address=self.address, timeout=self.timeout)
        d.update(self.options)
        if self.jobs is not None:
            d["jobs"] = self.jobs
        if self.adaptive is not None:
            d["adaptive"] = dict(self.adaptive)
        if self.security is not None:
            d["security"] = dict(self.security)
        return d

    def to_security(self):
        """The ``distributed.security.Security`` of this profile, or None without ``security``.

        Raises
        ------
        SpecError
            When a certificate, key or CA file does not exist.
        """
        if self.security is None:
            return None
        from distributed.security import Security

        sec = dict(self.security)
        require = sec.pop("require_encryption", True)
        cert, key = sec.pop("tls_cert", None), sec.pop("tls_key", None)
        for role in ("client", "scheduler", "worker"):
            sec.setdefault(f"tls_{role}_cert", cert)
            sec.setdefault(f"tls_{role}_key", key)
        for k, path in sec.items():
            if path is not None and not os.path.isfile(path):
                raise SpecError(f"cluster profile {self.name!r}: security.{k} file {path!r} not found.")
        return Security(require_encryption=bool(require), **{k: v for k, v in sec.items() if v is not None})


def _underscored(d: Mapping) -> dict:
    """dask-config spellings (``job-extra-directives``) as keyword names, one level deep."""
    out = {}
    for k, v in d.items():
        k = str(k).replace("-", "_")
        if k in ("adaptive", "security", "scheduler_options") and isinstance(v, Mapping):
            v = {str(kk).replace("-", "_"): vv for kk, vv in v.items()}
        out[k] = v
    return out


def _int(d: Mapping, key: str, where: str, minimum: int) -> int | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise SpecError(f"{where}: {key} must be an integer >= {minimum}, got {v!r}.")
    return v


def _check_security(sec, where: str, base: Path) -> dict:
    if not isinstance(sec, Mapping):
        raise SpecError(f"{where}: security must be a mapping such as {{tls_ca_file: ca.pem, "
                        f"tls_cert: node.pem, tls_key: node.key}}, got {sec!r}.")
    out = {}
    for k, v in sec.items():
        if k not in _SECURITY:
            raise SpecError(f"{where}: unknown key security.{k}." + did_you_mean(k, sorted(_SECURITY)))
        if k == "require_encryption":
            if not isinstance(v, bool):
                raise SpecError(f"{where}: security.require_encryption must be true or false, got {v!r}.")
            out[k] = v
        elif v is not None:
            p = Path(os.path.expandvars(os.path.expanduser(str(v))))
            out[k] = str(p if p.is_absolute() else (base / p).resolve())
    if "tls_ca_file" not in out:
        raise SpecError(f"{where}: security needs tls_ca_file (the CA that signed every certificate).")
    for role in ("", "client_", "scheduler_", "worker_"):
        if (f"tls_{role}cert" in out) != (f"tls_{role}key" in out):
            raise SpecError(f"{where}: security.tls_{role}cert and security.tls_{role}key go together.")
    return out


def _check_address(d: Mapping, where: str) -> dict:
    addr = d.get("address")
    if not isinstance(addr, str) or "://" not in addr:
        raise SpecError(f"{where}: address must be a scheduler address such as tcp://host:8786, got {addr!r}.")
    timeout = d.get("timeout", 30.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise SpecError(f"{where}: timeout must be a number of seconds > 0, got {timeout!r}.")
    if not addr.startswith("tls://") and d.get("security") is not None:
        raise SpecError(f"{where}: security is set but the address {addr!r} is not tls://; use tls://host:port.")
    return {"address": addr, "timeout": float(timeout)}


def _check_local(opts: dict, where: str) -> dict:
    for key in ("n_workers", "threads_per_worker"):
        _int(opts, key, where, 1)
    if opts.get("memory_limit") is not None:
        _bytes(opts["memory_limit"], "memory_limit", where, extra=("auto",))
    return dict(opts)


def _bytes(v, key: str, where: str, extra=()) -> None:
    if v in extra:
        return
    try:
        parse_bytes(v)
    except (TypeError, ValueError):
        raise SpecError(f"{where}: {key} must be an amount of memory such as '4GB' or '500MiB', got {v!r}.") from None


_WALLTIME = re.compile(r"^(?:(?P<d>\d+)-)?(?P<a>\d+)(?::(?P<b>\d+))?(?::(?P<c>\d+))?$")


def walltime_seconds(walltime: str, kind: str) -> float:
    """Seconds of a walltime string, read the way the batch system of ``kind`` reads it.

    Three fields are ``HH:MM:SS`` everywhere. Two fields are ``MM:SS`` for SLURM, PBS and
    SGE, ``HH:MM`` for LSF; one field is minutes for SLURM and LSF, seconds for PBS and SGE.
    SLURM also takes ``D-HH[:MM[:SS]]``.
    """
    m = _WALLTIME.match(walltime.strip())
    if not m or (m["d"] is not None and kind != "slurm"):
        raise ValueError(walltime)
    parts = [int(x) for x in (m["a"], m["b"], m["c"]) if x is not None]
    if m["d"] is not None:
        h, mi, s = (parts + [0, 0])[:3]
    elif len(parts) == 3:
        h, mi, s = parts
    elif len(parts) == 2:
        h, mi, s = (parts[0], parts[1], 0) if kind == "lsf" else (0, parts[0], parts[1])
    else:
        h, mi, s = (0, parts[0], 0) if kind in ("slurm", "lsf") else (0, 0, parts[0])
    return float(((int(m["d"] or 0) * 24 + h) * 60 + mi) * 60 + s)


def _flag(args: list[str], name: str) -> str | None:
    """The value of ``--name X`` or ``--name=X`` in a worker argument list."""
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def _check_job(opts: dict, kind: str, where: str) -> dict:
    cores = _int(opts, "cores", where, 1)
    if cores is None or opts.get("memory") is None:
        raise SpecError(f"{where}: a {kind} profile needs cores and memory per job, e.g. `cores: 8` and "
                        "`memory: 32GB`.")
    _bytes(opts["memory"], "memory", where)
    processes = _int(opts, "processes", where, 1)
    if processes is None:  # tiles are single-threaded: one worker process per core
        processes = opts["processes"] = cores
    if cores % processes:
        raise SpecError(f"{where}: processes ({processes}) must divide cores ({cores}): each worker process "
                        f"gets cores/processes threads. Use e.g. processes: {cores}.")
    for key in _STR_LISTS:
        v = opts.get(key)
        if v is not None and (not isinstance(v, list) or not all(isinstance(x, (str, int, float)) for x in v)):
            raise SpecError(f"{where}: {key} must be a list of strings, got {v!r}.")
        if v is not None:
            opts[key] = [str(x) for x in v]
    if opts.get("scheduler_options") is not None and not isinstance(opts["scheduler_options"], Mapping):
        raise SpecError(f"{where}: scheduler_options must be a mapping such as {{host: 10.0.0.1}}.")
    wall = opts.get("walltime")
    wall_s = None
    if wall is not None:
        if not isinstance(wall, str):
            raise SpecError(f"{where}: walltime must be a quoted string such as walltime: '4:00:00' (unquoted, "
                            f"YAML reads 4:00:00 as the number 14400), got {wall!r}.")
        try:
            wall_s = walltime_seconds(wall, kind)
        except ValueError:
            raise SpecError(f"{where}: walltime {wall!r} is not HH:MM:SS"
                           + (" (or D-HH:MM:SS)." if kind == "slurm" else ".")) from None
    args = opts.get("worker_extra_args") or []
    life = {}
    for flag in ("--lifetime", "--lifetime-stagger"):
        v = _flag(args, flag)
        if v is None:
            continue
        try:
            life[flag] = parse_timedelta(v)
        except (TypeError, ValueError, KeyError):
            raise SpecError(f"{where}: worker_extra_args {flag} {v!r} is not a duration dask reads: write one "
                            "number and unit, such as '230m', '3.8h' or '600s'.") from None
    if "--lifetime-stagger" in life and "--lifetime" not in life:
        raise SpecError(f"{where}: worker_extra_args has --lifetime-stagger without --lifetime.")
    if wall_s is not None and "--lifetime" in life:
        end = life["--lifetime"] + life.get("--lifetime-stagger", 0)
        if end >= wall_s:
            raise SpecError(
                f"{where}: --lifetime {_flag(args, '--lifetime')} plus --lifetime-stagger reaches the walltime "
                f"{wall!r}: the batch system would kill workers before they retire. Leave a margin, e.g. "
                f"--lifetime {max(1, int((wall_s - life.get('--lifetime-stagger', 0)) * 0.9 // 60))}m.")
    return dict(opts)


def _check_scaling(d: Mapping, where: str) -> dict:
    jobs = _int(d, "jobs", where, 1)
    ad = d.get("adaptive")
    if (jobs is None) == (ad is None):
        raise SpecError(f"{where}: give either `jobs: N` (a fixed number of jobs) or `adaptive: {{minimum_jobs: 0, "
                        "maximum_jobs: N}`" + (", not both." if jobs is not None else "; without them no job runs."))
    if ad is None:
        return {"jobs": jobs}
    if not isinstance(ad, Mapping):
        raise SpecError(f"{where}: adaptive must be a mapping such as {{minimum_jobs: 0, maximum_jobs: 10}}.")
    for k in ad:
        if k not in _ADAPTIVE:
            raise SpecError(f"{where}: unknown key adaptive.{k}." + did_you_mean(k, sorted(_ADAPTIVE)))
    lo = _int(ad, "minimum_jobs", where, 0) or 0
    hi = _int(ad, "maximum_jobs", where, 1)
    if hi is None or hi < lo:
        raise SpecError(f"{where}: adaptive.maximum_jobs must be given and >= minimum_jobs ({lo}), got {hi!r}.")
    return {"adaptive": {**ad, "minimum_jobs": lo, "maximum_jobs": hi}}


# --------------------------------------------------------------------------- finding profiles


def _config_profiles() -> dict:
    v = dask.config.get("nmm.clusters", default=None) or {}
    return dict(v) if isinstance(v, Mapping) else {}


def _files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix in (".yaml", ".yml") and p.is_file()}


def available_profiles() -> dict[str, str]:
    """Every profile name that :func:`load_profile` finds, with where the winning one lives."""
    found = {"local": "built-in"}
    found.update({n: str(p) for n, p in _files(SHIPPED_PROFILE_DIR).items()})
    found.update({n: str(p) for n, p in _files(user_profile_dir()).items()})
    found.update({str(n): "dask config nmm.clusters" for n in _config_profiles()})
    return dict(sorted(found.items()))


def load_profile(cluster: str | os.PathLike | Mapping | ClusterProfile | None = None) -> ClusterProfile:
    """The profile for a name, a file, a scheduler address or a mapping.

    Parameters
    ----------
    cluster : str, path, mapping or ClusterProfile, optional
        ``None`` or ``'local'``: a LocalCluster; ``'tcp://host:port'``/``'tls://...'``: that
        scheduler; a path ending in ``.yaml``/``.yml``: that file; any other string: a
        profile name looked up in dask config ``nmm.clusters.<name>``, the user folder
        (:func:`user_profile_dir`) and the shipped ``cluster/`` folder, in that order.

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
    if name.endswith((".yaml", ".yml")) or os.sep in name:
        return ClusterProfile.from_yaml(name)
    conf = _config_profiles()
    if name in conf:
        return ClusterProfile.from_dict(conf[name], name=name, source=f"dask config nmm.clusters.{name}")
    for folder in (user_profile_dir(), SHIPPED_PROFILE_DIR):
        path = _files(folder).get(name)
        if path is not None:
            return ClusterProfile.from_yaml(path, name=name)
    if name == "local":
        return ClusterProfile.from_dict({"kind": "local", "description": "a LocalCluster on this machine"},
                                        name="local", source="built-in")
    names = list(available_profiles())
    raise SpecError(f"unknown cluster profile {name!r}; available: {', '.join(names)}, a scheduler address "
                    f"such as tcp://host:8786, or a profile file such as my-cluster.yaml. User profiles go in "
                    f"{user_profile_dir()}/<name>.yaml." + did_you_mean(name, names))


# --------------------------------------------------------------------------- clusters


def _jobqueue_class(kind: str):
    module, cls = _JOBQUEUE_CLASSES[kind]
    try:
        mod = __import__(module, fromlist=[cls])
    except ImportError:
        raise SpecError(f"cluster kind {kind!r} needs dask-jobqueue: pip install 'dask-jobqueue>=0.9'.") from None
    return getattr(mod, cls)


def cluster_from_profile(profile: ClusterProfile | str | None):
    """Build the cluster object of a profile, without submitting any job.

    Parameters
    ----------
    profile : ClusterProfile or anything :func:`load_profile` takes

    Returns
    -------
    cluster : distributed.deploy.Cluster or None
        A ``LocalCluster`` (workers running) or a dask-jobqueue cluster (scheduler running,
        no job yet: :func:`start_jobs` submits them, ``cluster.job_script()`` shows the
        script); None for kind ``address``. The caller closes it.
    address : str
        The scheduler's address.

    Examples
    --------
    >>> cluster, address = cluster_from_profile("slurm")   # doctest: +SKIP
    >>> print(cluster.job_script())                        # doctest: +SKIP
    >>> cluster.close()                                    # doctest: +SKIP
    """
    profile = load_profile(profile)
    security = profile.to_security()
    if profile.kind == "address":
        return None, profile.address
    if profile.kind == "local":
        from distributed import LocalCluster

        o = dict(profile.options)
        kw = dict(n_workers=o.pop("n_workers", os.cpu_count() or 1), threads_per_worker=o.pop("threads_per_worker", 1),
                  host=o.pop("host", "127.0.0.1"), dashboard_address=o.pop("dashboard_address", ":0"),
                  processes=o.pop("processes", True), **o)
        if security is not None:
            kw.update(security=security, protocol="tls://")
        cluster = LocalCluster(**kw)
        return cluster, cluster.scheduler_address
    kw = dict(profile.options)
    kw.setdefault("python", sys.executable)
    if security is not None:
        kw["security"] = security
    cluster = _jobqueue_class(profile.kind)(**kw)
    return cluster, cluster.scheduler_address


def start_jobs(cluster, profile: ClusterProfile) -> None:
    """Submit a jobqueue profile's jobs (fixed or adaptive) and keep their number up.

    Jobs that end while the cluster lives (walltime, ``--lifetime``, ``scancel``, a node
    failure) are submitted again once their workers have been gone for
    ``REPLACE_GRACE`` seconds, so a fixed ``jobs: N`` does not dwindle to zero on a long
    sweep. Jobs that never connected (still queued) are left alone.
    """
    if profile.kind not in JOBQUEUE_KINDS:
        return
    if profile.adaptive is not None:
        cluster.adapt(**profile.adaptive)
    else:
        cluster.scale(jobs=profile.jobs)
    _keep_jobs(cluster)


def _keep_jobs(cluster) -> None:
    from tornado.ioloop import PeriodicCallback

    seen: set = set()
    gone_since: dict = {}

    async def replace_ended_jobs():
        from distributed.core import Status

        if cluster.status != Status.running:
            return
        present = {w.get("name") for w in cluster.scheduler_info.get("workers", {}).values()}
        now, ended = time.monotonic(), []
        for job, spec in list(cluster.worker_spec.items()):
            names = {f"{job}{s}" for s in spec.get("group", [""])}
            if names & present:
                seen.add(job)
                gone_since.pop(job, None)
            elif job in seen and now - gone_since.setdefault(job, now) >= REPLACE_GRACE:
                ended.append(job)
        for job in ended:
            seen.discard(job)
            gone_since.pop(job, None)
            obj = cluster.workers.pop(job, None)
            if obj is not None:
                with contextlib.suppress(Exception):  # the job is usually gone already
                    await obj.close()
            logger.warning("job %s of %s ended; submitting it again", job, type(cluster).__name__)
        if ended:
            await cluster._correct_state()

    def install():
        pc = PeriodicCallback(replace_ended_jobs, REPLACE_INTERVAL * 1000)
        cluster.periodic_callbacks["nmm-replace-ended-jobs"] = pc
        pc.start()

    cluster.loop.add_callback(install)


def _client_security(profile: ClusterProfile):
    """The profile's Security; for a tls:// address without one, dask config's, if it has TLS."""
    security = profile.to_security()
    if security is None and profile.address.startswith("tls://"):
        from distributed.security import Security

        security = Security()
        if security.get_connection_args("client").get("ssl_context") is None:
            raise SpecError(f"the scheduler at {profile.address} speaks TLS: give the cluster a profile with "
                            "`security: {tls_ca_file: ca.pem, tls_cert: client.pem, tls_key: client.key}` "
                            "(see cluster/address.yaml), or set distributed.comm.tls.* in dask config.")
    return security


@contextlib.contextmanager
def client_for(cluster: str | os.PathLike | Mapping | ClusterProfile | None = None) -> Iterator:
    """A ``distributed.Client`` for a profile name, a profile file or a scheduler address.

    Everything created here (the client, the cluster, its jobs) is closed on exit.

    Parameters
    ----------
    cluster : str, path, mapping or ClusterProfile, optional
        See :func:`load_profile`. Default: the ``local`` profile.

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
