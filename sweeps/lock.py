"""The store lock: one driver at a time per local store, with no guessing about stale locks.

Design. The lock is ``<store>.lock``, held by a driver as an exclusive ``fcntl.flock`` on an
open descriptor of that file for the driver's whole life. The kernel drops the flock when the
process dies however it dies (SIGKILL included), so "is the holder alive?" is answered by the
kernel, not by guessing from a PID; and taking over the lock of a dead driver is the same
step as taking a free one (no read, judge, unlink, recreate), so of any number of processes
racing for it exactly one gets the flock.

- *Acquire*: open with ``O_CREAT`` (never ``O_EXCL``), ``flock(LOCK_EX | LOCK_NB)``, then check
  that the path still names the inode we locked (``fstat`` vs ``stat``): a holder releases by
  unlinking the file while still holding its flock, so a process that opened the old inode
  just before that unlink gets a flock on a file nobody can see; the check sends it round
  again to open the new one. Then the JSON ``{pid, host, since, scheme}`` is written into the
  file, for messages only.
- *Release*: unlink while holding the flock, then close.
- *Contents never decide against the kernel on this host*: an empty file (disk full while it
  was written), garbage, a JSON list or a dict with missing keys, with no flock on it, is a
  free lock and is taken over.
- *Two cases the flock cannot settle are refused* with what to do: a lock written on another
  host (the store is on a shared file system, where a flock may not reach across machines),
  and a lock of the previous, pid-only version of nmm (no ``scheme``) naming a live pid on
  this host (an old driver still running, or a reused pid). Such a lock with a dead pid is
  stale and taken over. ``nmm unlock STORE`` (:func:`unlock`) removes a lock after the same
  checks; ``--force`` is needed for those two cases and never beats a flock that is held.

A process that inherited the descriptor through a bare ``fork`` (no exec) keeps the lock after
the driver died; the refusal then says so. Remote stores (``"://"`` in the name) take no lock.
"""
from __future__ import annotations

import datetime as _dt
import enum
import errno
import fcntl
import json
import os
import shlex
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import StoreError

__all__ = ["StoreLock", "LockInfo", "Verdict", "judge", "lock_path", "parse_lock", "unlock"]

#: the ``scheme`` of locks written by this module; a lock without it is of the pid-only version
SCHEME = "flock"
_READ_MAX = 1 << 16
_REOPEN_TRIES = 100  # a fresh inode each time another driver released in between: never in practice


@dataclass(frozen=True)
class LockInfo:
    """What a lock file says about its holder (for messages; the flock is what holds).

    Attributes
    ----------
    pid : int or None
    host : str or None
    since : str or None
        ISO time (UTC) the lock was taken.
    legacy : bool
        Written by the pid-only lock of earlier versions (no ``scheme`` key).
    """

    pid: int | None
    host: str | None
    since: str | None
    legacy: bool

    def describe(self) -> str:
        pid = "pid unknown" if self.pid is None else f"pid {self.pid}"
        return f"{pid} on {self.host or 'an unknown host'}, since {self.since or 'an unknown time'}"


class Verdict(enum.Enum):
    """What a lock file, read while holding its flock (or failing to), means."""

    FREE = "free"            # no live holder: take it (over)
    HELD = "held"            # another open file description holds the flock: certain
    PID_ALIVE = "pid_alive"  # a pid-only lock naming a live pid on this host: cannot tell
    FOREIGN = "foreign"      # written on another host: cannot tell from here


def lock_path(store: str) -> Path:
    """The lock file of a store: ``<store>.lock`` next to it."""
    return Path(str(store).rstrip("/") + ".lock")


def parse_lock(text: str) -> LockInfo | None:
    """Parse a lock file; ``None`` when it is empty, not JSON or not a JSON object.

    Keys that are missing or of the wrong type read as ``None``.
    """
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    pid = data.get("pid")
    pid = pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else None
    host, since = data.get("host"), data.get("since")
    return LockInfo(pid, host if isinstance(host, str) and host else None,
                    since if isinstance(since, str) else None, data.get("scheme") != SCHEME)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (a zombie counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def judge(info: LockInfo | None, flock_held: bool, host: str,
          alive: Callable[[int], bool] = pid_alive) -> Verdict:
    """Decide what a lock file means (pure: the flock state, host and liveness are passed in).

    Parameters
    ----------
    info : LockInfo or None
        The parsed file; ``None`` for empty, garbage or wrongly shaped contents.
    flock_held : bool
        Whether another open file description holds the flock.
    host : str
        This host's name.
    alive : callable, default: :func:`pid_alive`
    """
    if flock_held:
        return Verdict.HELD
    if info is None:
        return Verdict.FREE
    if info.host is not None and info.host != host:
        return Verdict.FOREIGN
    if info.legacy and info.pid is not None and alive(info.pid):
        return Verdict.PID_ALIVE
    return Verdict.FREE


def _read(fd: int) -> LockInfo | None:
    try:
        return parse_lock(os.pread(fd, _READ_MAX, 0).decode("utf-8", "replace"))
    except OSError:
        return None


def _open_locked(path: Path, create: bool) -> tuple[int, bool] | None:
    """Open ``path`` and try its flock: ``(fd, got_flock)``, or ``None`` when there is no file.

    Either way the descriptor is of the inode the path names now (checked after the flock).
    """
    flags = os.O_RDWR | (os.O_CREAT if create else 0)
    for _ in range(_REOPEN_TRIES):
        try:
            fd = os.open(path, flags, 0o644)
        except FileNotFoundError:
            return None
        got = True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            got = False
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                raise StoreError(f"cannot lock {str(path)!r}: the file system does not support flock ({exc.strerror}); "
                                 "put the store on a local disk or a file system with locking.") from None
            raise
        try:
            same = os.stat(path)
        except FileNotFoundError:
            same = None
        st = os.fstat(fd)
        if same is not None and (same.st_dev, same.st_ino) == (st.st_dev, st.st_ino):
            return fd, got
        os.close(fd)  # released (unlinked) between our open and flock: open the new one
    raise StoreError(f"cannot lock {str(path)!r}: it was replaced {_REOPEN_TRIES} times while being locked.")


def _held_info(fd: int) -> LockInfo | None:
    """The holder's info, waiting briefly for a holder that has just taken the flock to write it."""
    def written(info: LockInfo | None) -> bool:  # by a live holder, not left by the dead one it took over from
        return info is not None and not info.legacy and (
            info.host != socket.gethostname() or (info.pid is not None and pid_alive(info.pid)))

    info = _read(fd)
    deadline = time.monotonic() + 0.2
    while not written(info) and time.monotonic() < deadline:
        time.sleep(0.002)
        info = _read(fd)
    return info


def _refusal(verdict: Verdict, info: LockInfo | None, store: str, path: Path) -> str:
    s = shlex.quote(store)
    who = info.describe() if info is not None else "pid unknown: it has just taken the lock"
    head = f"store {store!r} is in use by another driver ({who})"
    if verdict is Verdict.HELD:
        if info is not None and info.pid is not None and info.host == socket.gethostname() \
                and not pid_alive(info.pid):
            return (f"{head}; pid {info.pid} has exited but a process it started still holds {str(path)!r} open: "
                    f"stop that process (`fuser {shlex.quote(str(path))}` names it), then `nmm resume {s}`.")
        kill = f" (`kill {info.pid}`)" if info is not None and info.pid is not None else ""
        return f"{head}: wait for it to finish, or stop it{kill} and run `nmm resume {s}`."
    assert info is not None  # FOREIGN and PID_ALIVE are verdicts on a parsed lock
    if verdict is Verdict.FOREIGN:
        return (f"{head}, which cannot be checked from {socket.gethostname()}: if it is still running, wait for it "
                f"to finish; if that driver is gone, run `nmm unlock {s}` on {info.host}, "
                f"or `nmm unlock --force {s}` here.")
    return (f"{head}, a lock of an earlier nmm whose pid is alive on this host: wait for it to finish; "
            f"if pid {info.pid} is not an nmm driver, run `nmm unlock --force {s}`.")


class StoreLock:
    """The lock of a store (``<store>.lock``), held by one driver at a time.

    A context manager; see the module docstring for the design.

    Parameters
    ----------
    store : str
        The store path. Remote stores (``"://"`` in it) take no lock.

    Raises
    ------
    StoreError
        From :meth:`acquire`, if another driver holds the lock (on this host, or a lock
        written on another host), naming its pid, host and time and what to do.

    Examples
    --------
    >>> with StoreLock("runs/s.zarr"):  # doctest: +SKIP
    ...     ...  # only this driver writes runs/s.zarr
    """

    def __init__(self, store: str):
        self.store = str(store)
        self.path = lock_path(self.store)
        self.held = False
        self._fd: int | None = None

    def acquire(self) -> "StoreLock":
        if "://" in self.store:
            return self  # remote stores: no lock file (documented)
        if self.held:
            raise StoreError(f"the lock of store {self.store!r} is already held by this StoreLock.")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            opened = _open_locked(self.path, create=True)
        except OSError as exc:
            raise StoreError(f"cannot lock store {self.store!r}: {exc}.") from None
        assert opened is not None  # O_CREAT
        fd, got = opened
        try:
            info = _read(fd) if got else _held_info(fd)
            verdict = judge(info, not got, socket.gethostname())
            if verdict is not Verdict.FREE:
                raise StoreError(_refusal(verdict, info, self.store, self.path))
            self._write(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self.held = fd, True
        return self

    def _write(self, fd: int) -> None:
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "scheme": SCHEME}
        data = json.dumps(info).encode()
        try:
            os.ftruncate(fd, 0)
            if os.pwrite(fd, data, 0) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as exc:
            self.path.unlink(missing_ok=True)  # we hold its flock: nobody else is using it
            raise StoreError(f"cannot write the lock {str(self.path)!r} of store {self.store!r}: {exc.strerror}; "
                             "free some space and run again.") from None

    def release(self) -> None:
        if not self.held:
            return
        fd, self._fd, self.held = self._fd, None, False
        assert fd is not None  # held implies an open descriptor
        try:
            st, now = os.fstat(fd), os.stat(self.path)
            if (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino):
                self.path.unlink()  # while holding the flock: see the module docstring
        except FileNotFoundError:
            pass  # removed by hand
        finally:
            os.close(fd)

    def __enter__(self) -> "StoreLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def unlock(store: str, force: bool = False) -> LockInfo | None:
    """Remove the lock of a store whose driver is gone, after checking that it is.

    Parameters
    ----------
    store : str
    force : bool, default: False
        Also remove a lock written on another host, or a lock of an earlier nmm naming a
        pid that is alive on this host. A lock held by a running driver on this host is
        never removed.

    Returns
    -------
    LockInfo or None
        What the removed lock said (``LockInfo(None, None, None, True)`` for an empty or
        unreadable one), or ``None`` if there was no lock (remote stores have none).

    Raises
    ------
    StoreError
        If a running driver holds the lock, or (without ``force``) the lock is from
        another host or names a live pid.
    """
    store = str(store)
    if "://" in store:
        return None
    path = lock_path(store)
    try:
        opened = _open_locked(path, create=False)
    except OSError as exc:
        raise StoreError(f"cannot unlock store {store!r}: {exc}.") from None
    if opened is None:
        return None
    fd, got = opened
    s = shlex.quote(store)
    try:
        info = _read(fd) if got else _held_info(fd)
        verdict = judge(info, not got, socket.gethostname())
        who = info.describe() if info is not None else "pid unknown"
        pid = info.pid if info is not None else None
        if verdict is Verdict.HELD:
            raise StoreError(f"cannot unlock store {store!r}: a running driver holds it ({who}); stop it first"
                             + (f" (`kill {pid}`)" if pid is not None else "") + "; its lock goes with it.")
        if verdict is Verdict.PID_ALIVE and not force:
            raise StoreError(f"cannot unlock store {store!r}: its lock names pid {pid}, which is alive on this host "
                             f"({who}); stop that driver first (`kill {pid}`), or if pid {pid} is not an nmm "
                             f"driver, run `nmm unlock --force {s}`.")
        if verdict is Verdict.FOREIGN and not force:
            assert info is not None  # FOREIGN is a verdict on a parsed lock
            raise StoreError(f"cannot unlock store {store!r}: its lock is from host {info.host} ({who}), which cannot "
                             f"be checked from here: run `nmm unlock {s}` on {info.host}, or "
                             f"`nmm unlock --force {s}` if that driver is gone.")
        path.unlink(missing_ok=True)  # under the flock: a driver racing for it gets a fresh file
    finally:
        os.close(fd)
    return info if info is not None else LockInfo(None, None, None, True)
