"""A process that takes and releases store locks on command (for tests/test_lock.py).

Started with the multiprocessing spawn context; it answers on its end of a Pipe:

- ``("race", store)``: answer ``"armed"``, wait for the shared ``go`` event, try to acquire,
  answer ``("won", pid)`` or ``("lost", message)``; a won lock is kept until ``"release"``;
- ``("hold", store)``: acquire now, answer ``("won", pid)`` or ``("lost", message)``;
- ``("release", None)``: release what is held, answer ``"released"``;
- ``("stop", None)``: release and exit.

``impl`` names the module whose ``StoreLock`` is used (so the same harness can be pointed at
another implementation).
"""
from __future__ import annotations

import importlib
import os


def serve(impl: str, conn, go) -> None:
    store_lock = importlib.import_module(impl).StoreLock
    from sweeps.errors import StoreError

    held = None
    conn.send(("ready", os.getpid()))
    while True:
        cmd, arg = conn.recv()
        if cmd == "stop":
            if held is not None:
                held.release()
            return
        if cmd == "release":
            if held is not None:
                held.release()
                held = None
            conn.send("released")
            continue
        if cmd == "race":
            conn.send("armed")
            go.wait()
        lock = store_lock(arg)
        try:
            lock.acquire()
        except StoreError as exc:
            conn.send(("lost", str(exc)))
        else:
            held = lock
            conn.send(("won", os.getpid()))
