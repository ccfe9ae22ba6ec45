"""The store lock (sweeps/lock.py) and ``nmm unlock``, with real processes.

Racing processes are spawned once per module (``lock_racer.serve``) and stopped at the end;
a "dead driver" is a real process that was started, named in a lock file, killed and reaped.
"""
from __future__ import annotations

import errno
import fcntl
import json
import multiprocessing as mp
import multiprocessing.forkserver
import os
import signal
import socket
import subprocess
import types

import lock_racer
import pytest
from click.testing import CliRunner

import sweeps.lock as lockmod
from sweeps.cli import cli
from sweeps.errors import StoreError
from sweeps.lock import LockInfo, StoreLock, Verdict, judge, parse_lock, unlock

HOST = socket.gethostname()
FOREIGN = "elsewhere.example.org"


def dead_pid() -> int:
    """The pid of a process that existed and is gone (started, killed, reaped)."""
    p = subprocess.Popen(["sleep", "60"])
    p.kill()
    p.wait()
    return p.pid


def legacy(pid, host=HOST, since="2026-11-01T10:00:00+00:00") -> str:
    """A lock file as the pid-only lock of earlier versions wrote it."""
    return json.dumps({"pid": pid, "host": host, "since": since})


def current(pid, host=HOST) -> str:
    return json.dumps({"pid": pid, "host": host, "since": "2026-11-01T10:00:00+00:00", "scheme": "flock"})


@pytest.fixture
def store(tmp_path):
    return str(tmp_path / "s.zarr")


def lockfile(store):
    return lockmod.lock_path(store)


def holder_info(store) -> dict:
    return json.loads(lockfile(store).read_text())


# ---------------------------------------------------------------- real processes


class Racers:
    """Spawned lock_racer processes and the shared ``go`` event."""

    def __init__(self, n: int, impl: str = "sweeps.lock"):
        # forkserver: one fresh interpreter (as spawn gives) imports sweeps once, and each
        # racer is forked from it; spawning each racer would import sweeps n times
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["lock_racer", impl])
        self.go = ctx.Event()
        self.procs, self.conns, self.pids = [], [], []
        for _ in range(n):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=lock_racer.serve, args=(impl, child, self.go), daemon=True)
            p.start()
            self.procs.append(p)
            self.conns.append(parent)
        try:
            for c in self.conns:
                assert c.poll(120), "a racer did not start"
                tag, pid = c.recv()
                self.pids.append(pid)
        except BaseException:
            self.stop()
            raise

    def ask(self, i, cmd, arg=None, timeout=30):
        self.conns[i].send((cmd, arg))
        assert self.conns[i].poll(timeout), f"racer {i} did not answer {cmd}"
        return self.conns[i].recv()

    def race(self, store) -> list:
        """All racers try to acquire at once; returns [(outcome, detail)] and releases."""
        for c in self.conns:
            c.send(("race", store))
        for c in self.conns:
            assert c.poll(30) and c.recv() == "armed"
        self.go.set()
        try:
            results = []
            for c in self.conns:
                assert c.poll(30), "a racer did not answer"
                results.append(c.recv())
        finally:
            self.go.clear()
        for i in range(len(self.conns)):
            assert self.ask(i, "release") == "released"
        return results

    def kill(self, i) -> int:
        """SIGKILL racer i (and forget it); returns its pid."""
        p, pid = self.procs.pop(i), self.pids.pop(i)
        self.conns.pop(i).close()
        os.kill(p.pid, signal.SIGKILL)
        p.join(30)
        assert p.exitcode == -signal.SIGKILL
        return pid

    def stop(self):
        for c in self.conns:
            try:
                c.send(("stop", None))
            except OSError:
                pass
        for p in self.procs:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join()
        # the server process too: SIGTERM (it would otherwise unload sweeps at exit, ~3 s), then
        # reap it the way CPython's own tests stop it
        server = mp.forkserver._forkserver
        if getattr(server, "_forkserver_pid", None):
            os.kill(server._forkserver_pid, signal.SIGTERM)
            server._stop()


@pytest.fixture(scope="module")
def racers():
    r = Racers(3)
    try:
        yield r
    finally:
        r.stop()


#: what a dead driver may have left: written by this version, by the pid-only version,
#: half-written (disk full), garbage, the wrong shape, keys missing
STALE = {
    "current": lambda pid: current(pid),
    "legacy": lambda pid: legacy(pid),
    "empty": lambda pid: "",
    "garbage": lambda pid: '{"pid": 12',
    "list": lambda pid: json.dumps([pid, HOST]),
    "no host": lambda pid: json.dumps({"pid": pid}),
    "no pid": lambda pid: json.dumps({"host": HOST}),
}


def run_trials(racers, tmp_path, n_trials, kinds=tuple(STALE)) -> list[int]:
    winners = []
    for t in range(n_trials):
        store = str(tmp_path / f"t{t}.zarr")
        lockfile(store).write_text(STALE[kinds[t % len(kinds)]](dead_pid()))
        results = racers.race(store)
        won = [detail for outcome, detail in results if outcome == "won"]
        lost = [detail for outcome, detail in results if outcome == "lost"]
        winners.append(len(won))
        assert len(won) == 1, f"trial {t} ({kinds[t % len(kinds)]}): {len(won)} winners: {results}"
        for msg in lost:
            assert f"in use by another driver (pid {won[0]} on {HOST}" in msg, msg
        assert not lockfile(store).exists()  # the winner released it
    return winners


def test_race_for_a_dead_drivers_lock_has_exactly_one_winner(racers, tmp_path):
    winners = run_trials(racers, tmp_path, 200)
    assert winners == [1] * 200


@pytest.mark.slow
def test_race_1000_trials(racers, tmp_path):
    assert run_trials(racers, tmp_path, 1000) == [1] * 1000


def test_live_holder_in_another_process_is_refused_until_it_releases(racers, store):
    assert racers.ask(0, "hold", store) == ("won", racers.pids[0])
    pid = racers.pids[0]
    try:
        with pytest.raises(StoreError, match=rf"in use by another driver \(pid {pid} on {HOST}, since 20.*`kill {pid}`"):
            StoreLock(store).acquire()
        r = CliRunner().invoke(cli, ["unlock", "--force", store])
        assert r.exit_code == 1
        assert f"a running driver holds it (pid {pid} on {HOST}" in r.output
        assert holder_info(store)["pid"] == pid
    finally:
        assert racers.ask(0, "release") == "released"
    with StoreLock(store) as lock:
        assert lock.held and holder_info(store)["pid"] == os.getpid()


def test_sigkilled_holder_is_taken_over(racers, store):
    i = len(racers.procs) - 1
    assert racers.ask(i, "hold", store)[0] == "won"
    with pytest.raises(StoreError, match=rf"pid {racers.pids[i]} on"):
        StoreLock(store).acquire()
    pid = racers.kill(i)
    assert holder_info(store)["pid"] == pid  # left behind, naming the dead driver
    with StoreLock(store):
        assert holder_info(store)["pid"] == os.getpid()
    assert not lockfile(store).exists()


# ---------------------------------------------------------------- one process


def test_acquire_release_reacquire(store):
    lock = StoreLock(store)
    assert lock.path == lockfile(store) and not lock.held
    lock.acquire()
    info = holder_info(store)
    assert lock.held and info["pid"] == os.getpid() and info["host"] == HOST and info["scheme"] == "flock"
    with pytest.raises(StoreError, match="already held by this StoreLock"):
        lock.acquire()
    lock.release()
    assert not lock.held and not lock.path.exists()
    lock.release()  # twice is harmless
    with lock:
        assert lock.held
    assert not lock.path.exists()


def test_second_lock_in_the_same_process_is_refused(store):
    with StoreLock(store):
        with pytest.raises(StoreError, match=rf"in use by another driver \(pid {os.getpid()} on {HOST}"):
            StoreLock(store).acquire()
        assert holder_info(store)["pid"] == os.getpid()


def test_remote_store_takes_no_lock(tmp_path):
    with StoreLock("s3://bucket/s.zarr") as lock:
        assert not lock.held
    assert unlock("s3://bucket/s.zarr") is None


@pytest.mark.parametrize("kind", list(STALE))
def test_stale_lock_is_taken_over(store, kind):
    lockfile(store).write_text(STALE[kind](dead_pid()))
    with StoreLock(store):
        assert holder_info(store)["pid"] == os.getpid()
    assert not lockfile(store).exists()


@pytest.mark.parametrize("text", ["", "\x00\x00\x00", "[]", "null", '"x"', "{}", '{"pid": "12"}',
                                  '{"pid": true, "host": 3}', '{"pid": -1}'])
def test_unreadable_lock_nobody_holds_is_taken_over(store, text):
    lockfile(store).write_text(text)
    with StoreLock(store):
        assert holder_info(store)["pid"] == os.getpid()


def test_legacy_lock_with_a_live_pid_is_refused(store):
    lockfile(store).write_text(legacy(os.getppid()))
    with pytest.raises(StoreError, match=rf"in use by another driver \(pid {os.getppid()} on {HOST}, since "
                                         rf"2026-11-01.*earlier nmm.*`nmm unlock --force "):
        StoreLock(store).acquire()
    assert json.loads(lockfile(store).read_text())["pid"] == os.getppid()  # untouched


def test_legacy_lock_with_a_live_pid_and_no_host_is_refused(store):
    lockfile(store).write_text(json.dumps({"pid": os.getppid()}))
    with pytest.raises(StoreError, match=r"an unknown host, since an unknown time.*nmm unlock --force"):
        StoreLock(store).acquire()


@pytest.mark.parametrize("text", [legacy(4242, FOREIGN), current(4242, FOREIGN)])
def test_foreign_lock_is_refused(store, text):
    lockfile(store).write_text(text)
    with pytest.raises(StoreError, match=rf"\(pid 4242 on {FOREIGN}, since 2026.*cannot be checked from "
                                         rf"{HOST}.*run `nmm unlock .*s.zarr` on {FOREIGN}, or "
                                         r"`nmm unlock --force .*s.zarr` here"):
        StoreLock(store).acquire()
    assert lockfile(store).read_text() == text


def test_full_disk_while_writing_the_lock(store, monkeypatch):
    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(lockmod.os, "pwrite", full)
    with pytest.raises(StoreError, match=r"cannot write the lock .*No space left on device; free some space"):
        StoreLock(store).acquire()
    monkeypatch.undo()
    assert not lockfile(store).exists()
    with StoreLock(store) as lock:
        assert lock.held


def test_release_racing_with_open_cannot_give_two_holders(store, monkeypatch):
    """A driver that opened the file just before the holder unlinked it must not win an orphan."""
    first = StoreLock(store).acquire()
    calls = []

    def flock(fd, op):
        if not calls:
            first.release()  # the holder releases between our open and our flock
        calls.append(fd)
        return fcntl.flock(fd, op)

    monkeypatch.setattr(lockmod, "fcntl", types.SimpleNamespace(flock=flock, LOCK_EX=fcntl.LOCK_EX,
                                                                LOCK_NB=fcntl.LOCK_NB))
    with StoreLock(store) as second:
        assert len(calls) == 2  # went round once, to the new file
        assert os.fstat(second._fd).st_ino == os.stat(second.path).st_ino
        monkeypatch.undo()
        with pytest.raises(StoreError, match="in use by another driver"):
            StoreLock(store).acquire()


@pytest.mark.parametrize("info, held, verdict", [
    (None, False, Verdict.FREE),
    (None, True, Verdict.HELD),
    (LockInfo(1, HOST, None, False), False, Verdict.FREE),  # this version, live pid, no flock: pid reused
    (LockInfo(1, HOST, None, True), False, Verdict.PID_ALIVE),
    (LockInfo(2, HOST, None, True), False, Verdict.FREE),
    (LockInfo(1, FOREIGN, None, False), False, Verdict.FOREIGN),
    (LockInfo(1, None, None, False), False, Verdict.FREE),
    (LockInfo(None, HOST, None, True), False, Verdict.FREE),
])
def test_judge(info, held, verdict):
    assert judge(info, held, HOST, alive=lambda pid: pid == 1) is verdict


def test_parse_lock():
    assert parse_lock(legacy(12)) == LockInfo(12, HOST, "2026-11-01T10:00:00+00:00", True)
    assert parse_lock(current(12)) == LockInfo(12, HOST, "2026-11-01T10:00:00+00:00", False)
    for text in ("", "{", "[1]", "3", '{"pid": 1.5, "host": ""}'):
        assert parse_lock(text) in (None, LockInfo(None, None, None, True))


# ---------------------------------------------------------------- nmm unlock


def invoke(*args):
    return CliRunner().invoke(cli, ["unlock", *map(str, args)])


def test_unlock_without_a_lock(store):
    r = invoke(store)
    assert r.exit_code == 0 and r.output == f"no lock on {store}; nothing to do\n"


@pytest.mark.parametrize("kind", ["current", "legacy", "empty", "list"])
def test_unlock_a_dead_drivers_lock(store, kind):
    pid = dead_pid()
    lockfile(store).write_text(STALE[kind](pid))
    r = invoke(store)
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"removed {lockfile(store)} (")
    if kind in ("current", "legacy"):
        assert f"(pid {pid} on {HOST}, since 2026-11-01" in r.output
    assert not lockfile(store).exists()


def test_unlock_refuses_a_running_driver_even_with_force(store):
    with StoreLock(store):
        for args in ([store], ["--force", store]):
            r = invoke(*args)
            assert r.exit_code == 1
            assert f"error: cannot unlock store {store!r}: a running driver holds it (pid {os.getpid()} on " \
                   f"{HOST}" in r.output
            assert f"`kill {os.getpid()}`" in r.output
        assert lockfile(store).exists()


def test_unlock_legacy_lock_with_a_live_pid_needs_force(store):
    pid = os.getppid()
    lockfile(store).write_text(legacy(pid))
    r = invoke(store)
    assert r.exit_code == 1
    assert f"its lock names pid {pid}, which is alive on this host" in r.output
    assert f"`nmm unlock --force {store}`" in r.output
    assert lockfile(store).exists()
    r = invoke("--force", store)
    assert r.exit_code == 0 and not lockfile(store).exists()


def test_unlock_foreign_lock_needs_force(store):
    lockfile(store).write_text(current(4242, FOREIGN))
    r = invoke(store)
    assert r.exit_code == 1
    assert f"its lock is from host {FOREIGN} (pid 4242 on {FOREIGN}" in r.output
    assert f"run `nmm unlock {store}` on {FOREIGN}, or `nmm unlock --force {store}` if that driver is gone" \
        in r.output
    assert lockfile(store).exists()
    r = invoke("--force", store)
    assert r.exit_code == 0 and f"(pid 4242 on {FOREIGN}" in r.output and not lockfile(store).exists()


def test_unlock_library_function(store):
    lockfile(store).write_text(legacy(os.getppid()))
    with pytest.raises(StoreError, match=rf"cannot unlock store .*: its lock names pid {os.getppid()}, which is "
                                         r"alive on this host"):
        unlock(store)
    assert unlock(store, force=True) == LockInfo(os.getppid(), HOST, "2026-11-01T10:00:00+00:00", True)
    assert unlock(store) is None
