"""The cluster profile: a frozen, validated description of where a sweep's workers come from.

Design
------
* :class:`ClusterProfile` is a frozen dataclass. :meth:`ClusterProfile.from_dict` is its one
  validating constructor and :meth:`ClusterProfile.to_dict` reads back to an equal profile
  (YAML -> profile -> YAML).
* It validates only what nmm itself interprets:

  - ``kind`` and ``description`` (lookup and listing);
  - ``jobs`` or ``adaptive``: how many jobs nmm keeps running (:mod:`.resubmit`);
  - ``security``: nmm builds the ``distributed.security.Security`` from it (paths are made
    absolute here; the files are checked when the cluster is built, :mod:`.construct`);
  - ``address`` and ``timeout`` of kind ``address``, which has no cluster class;
  - for the jobqueue kinds: ``cores`` and ``processes`` (nmm's default is one
    single-threaded worker process per core, as tiles are single-threaded), ``walltime``
    and ``worker_extra_args`` (``--lifetime`` plus ``--lifetime-stagger`` must end before
    the walltime, or the batch system kills workers instead of letting them retire), and
    that the list-valued job options are lists (dask-jobqueue would take a YAML string
    there character by character, without an error).

* Every other key is a keyword argument of the kind's cluster class and is kept, untouched,
  in :attr:`ClusterProfile.options`: that class is the authority on it and checks it when
  :mod:`.construct` builds the cluster. Nothing here imports distributed or dask-jobqueue,
  and nothing does I/O but :meth:`ClusterProfile.from_yaml` reading its one file.
"""
from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from dask.utils import parse_timedelta
from nmm.errors import did_you_mean
from nmm.validation import check_keys, yaml_error

from ..errors import SpecError

__all__ = ["ADAPTIVE_KEYS", "ClusterProfile", "JOBQUEUE_KINDS", "KINDS", "NMM_KEYS", "SECURITY_KEYS",
           "walltime_seconds"]

KINDS = ("local", "address", "slurm", "pbs", "sge", "lsf")
JOBQUEUE_KINDS = ("slurm", "pbs", "sge", "lsf")

#: the keys nmm reads itself, per kind; a profile's other keys are the cluster class's
#: keyword arguments (kind ``address`` has no class, so no other keys)
NMM_KEYS: dict[str, frozenset[str]] = {
    "local": frozenset({"kind", "description", "security"}),
    "address": frozenset({"kind", "description", "security", "address", "timeout"}),
    **{k: frozenset({"kind", "description", "security", "jobs", "adaptive"}) for k in JOBQUEUE_KINDS},
}
_ALL_NMM_KEYS = frozenset().union(*NMM_KEYS.values())
#: keyword arguments of ``distributed.Adaptive`` (through the jobqueue class's ``adapt``)
ADAPTIVE_KEYS = ("minimum_jobs", "maximum_jobs", "interval", "wait_count", "target_duration")
#: ``distributed.security.Security`` arguments; ``tls_cert``/``tls_key`` stand for every role
SECURITY_KEYS = ("tls_ca_file", "tls_cert", "tls_key", "tls_client_cert", "tls_client_key", "tls_scheduler_cert",
                 "tls_scheduler_key", "tls_worker_cert", "tls_worker_key", "require_encryption")
#: job options that dask-jobqueue takes as lists of strings
_STR_LISTS = ("worker_extra_args", "job_extra_directives", "job_script_prologue", "job_directives_skip")


@dataclasses.dataclass(frozen=True)
class ClusterProfile:
    """A validated cluster profile.

    Parameters
    ----------
    name : str
        The name it was found under (or the file / address it came from).
    kind : {'local', 'address', 'slurm', 'pbs', 'sge', 'lsf'}
    options : dict
        Keyword arguments of the cluster class (``distributed.LocalCluster`` or the
        dask-jobqueue class of the kind): ``cores``, ``memory``, ``walltime``, ``queue``,
        ``worker_extra_args``, ... That class checks them when the cluster is built.
    jobs : int, optional
        Jobqueue kinds: a fixed number of jobs. Jobs that end (walltime, ``--lifetime``,
        ``scancel``) are submitted again while the cluster lives.
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
        Where the profile came from, for messages: a file, ``dask config nmm.clusters.<name>``,
        ``address`` or ``<dict>``.
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

    @property
    def where(self) -> str:
        """``cluster profile 'name' (source)``: how messages name this profile."""
        return _where(self.name, self.source)

    @classmethod
    def from_dict(cls, d: Mapping, name: str = "<dict>", source: str | None = None,
                  base_dir: str | Path | None = None) -> ClusterProfile:
        """Validate a profile mapping (as read from YAML or dask config).

        Parameters
        ----------
        d : mapping
            The profile; dask-config spellings (``job-extra-directives``) are accepted.
        name : str, default: '<dict>'
        source : str, optional
            Where it came from (a file path, ``dask config ...``), for messages.
        base_dir : path, optional
            Relative ``security`` paths are relative to it (default: the working directory).

        Raises
        ------
        SpecError
            On an unknown kind, a key of another kind, or a bad value of a key nmm reads
            (see the module docstring); the message names the profile, the key and the fix.
        """
        src = source or name
        where = _where(name, src)
        if not isinstance(d, Mapping):
            raise SpecError(f"{where} must be a mapping of options such as `kind: slurm`, got {type(d).__name__}.")
        d = _underscored(d)
        kind = d.get("kind") or ("address" if "address" in d else None)
        if kind is None:
            raise SpecError(f"{where} has no kind: add `kind: <one of {', '.join(KINDS)}>`.")
        if kind not in KINDS:
            raise SpecError(f"{where}: unknown kind {kind!r}; use one of {', '.join(KINDS)}."
                            + did_you_mean(str(kind), KINDS))
        for key in sorted(d):
            if key in _ALL_NMM_KEYS and key not in NMM_KEYS[kind]:
                others = ", ".join(k for k in KINDS if key in NMM_KEYS[k])
                raise SpecError(f"{where}: {key!r} is a key of kind {others}, not of kind {kind!r}; remove it"
                                + (" (kind local has no jobs: n_workers sets its worker processes)."
                                   if key in ("jobs", "adaptive") and kind == "local" else "."))
        if kind == "address":  # no cluster class: nothing passes through
            check_keys(d, sorted(NMM_KEYS["address"]), where, error=SpecError)
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        security = _check_security(d["security"], where, base) if d.get("security") is not None else None
        kw: dict[str, Any] = dict(name=name, kind=kind, description=str(d.get("description") or ""),
                                  source=src, security=security)
        options = {k: v for k, v in d.items() if k not in NMM_KEYS[kind]}
        if kind == "address":
            kw.update(_check_address(d, where))
        elif kind == "local":
            kw["options"] = options
        else:
            kw["options"] = _check_job(options, kind, where)
            kw.update(_check_scaling(d, where))
        return cls(**kw)

    @classmethod
    def from_yaml_text(cls, text: str, name: str, source: str,
                       base_dir: str | Path | None = None) -> ClusterProfile:
        """Parse and validate the text of a profile file (see :meth:`from_dict`)."""
        try:
            d = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpecError(yaml_error(exc, source, what="cluster profile")) from None
        return cls.from_dict(d if d is not None else {}, name=name, source=source, base_dir=base_dir)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, name: str | None = None) -> ClusterProfile:
        """Read and validate a profile file; relative TLS paths are relative to its folder.

        Raises
        ------
        SpecError
            When the file does not exist, is not valid YAML, or the profile is invalid.
        """
        p = Path(path).expanduser()
        if not p.is_file():
            raise SpecError(f"cluster profile file {str(path)!r} not found.")
        return cls.from_yaml_text(p.read_text(), name=name or p.stem, source=str(p), base_dir=p.parent)

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


def _where(name: str, source: str) -> str:
    return f"cluster profile {name!r}" + (f" ({source})" if source != name else "")


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


def _check_security(sec: Any, where: str, base: Path) -> dict:
    if not isinstance(sec, Mapping):
        raise SpecError(f"{where}: security must be a mapping such as {{tls_ca_file: ca.pem, "
                        f"tls_cert: node.pem, tls_key: node.key}}, got {sec!r}.")
    check_keys(sec, SECURITY_KEYS, f"the security section of {where}", error=SpecError)
    out: dict[str, Any] = {}
    for k, v in sec.items():
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


_WALLTIME = re.compile(r"^(?:(?P<d>\d+)-)?(?P<a>\d+)(?::(?P<b>\d+))?(?::(?P<c>\d+))?$")


def walltime_seconds(walltime: str, kind: str) -> float:
    """Seconds of a walltime string, read the way the batch system of ``kind`` reads it.

    Three fields are ``HH:MM:SS`` everywhere. Two fields are ``MM:SS`` for SLURM, PBS and
    SGE, ``HH:MM`` for LSF; one field is minutes for SLURM and LSF, seconds for PBS and SGE.
    SLURM also takes ``D-HH[:MM[:SS]]``.

    Raises
    ------
    ValueError
        When ``walltime`` is none of these.

    Examples
    --------
    >>> walltime_seconds("04:00", "lsf"), walltime_seconds("04:00", "slurm")
    (14400.0, 240.0)
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
    """cores/processes, walltime against --lifetime, list-valued options; the rest untouched."""
    opts = dict(opts)
    cores = _int(opts, "cores", where, 1)
    if cores is None:
        raise SpecError(f"{where}: a {kind} profile needs cores per job (nmm starts one single-threaded worker "
                        "process per core unless processes says otherwise), e.g. `cores: 8` and `memory: 32GB`.")
    processes = _int(opts, "processes", where, 1)
    if processes is None:  # tiles are single-threaded: one worker process per core
        processes = opts["processes"] = cores
    if cores % processes:
        raise SpecError(f"{where}: processes ({processes}) must divide cores ({cores}): each worker process "
                        f"gets cores/processes threads. Use e.g. processes: {cores}.")
    for key in _STR_LISTS:
        v = opts.get(key)
        if v is not None and (not isinstance(v, list) or not all(isinstance(x, (str, int, float)) for x in v)):
            raise SpecError(f"{where}: {key} must be a list of strings, got {v!r}; in YAML, write "
                            f"`{key}: [\"...\"]` or one `- ...` line per item.")
        if v is not None:
            opts[key] = [str(x) for x in v]
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
    return opts


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
    check_keys(ad, ADAPTIVE_KEYS, f"the adaptive section of {where}", error=SpecError)
    lo = _int(ad, "minimum_jobs", where, 0) or 0
    hi = _int(ad, "maximum_jobs", where, 1)
    if hi is None or hi < lo:
        raise SpecError(f"{where}: adaptive.maximum_jobs must be given and >= minimum_jobs ({lo}), got {hi!r}.")
    return {"adaptive": {**ad, "minimum_jobs": lo, "maximum_jobs": hi}}
