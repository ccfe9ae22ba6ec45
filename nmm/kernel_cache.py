"""The on-disk cache of generated kernel modules, trusted only as far as it is verified.

One module per key lives in :func:`cache_dir` as ``<name_prefix><key>.py``, beside the
``__pycache__`` folder where numba keeps its compiled code (``@njit(cache=True)``). The
cache saves numba's compile time across processes; it is never a source of code:

- The caller passes the exact source text it would generate. A cached file is used only
  if its bytes equal that text; otherwise (planted, truncated, cut at a line, unreadable)
  it is regenerated. The module is executed from the verified text in memory, never from
  a later read of the file or from Python's ``.pyc``, so what runs is what was generated.
- Files are written atomically (a uniquely named temporary file in the same folder,
  fsync, ``os.replace``) with the umask's permissions, so a cache shared by a group stays
  readable and concurrent writers of the same key (threads or processes) each leave a
  complete, identical file.
- When a file is regenerated, numba's cache entries for it (``<stem>.*.nbi``,
  ``<stem>.*.nbc`` in ``__pycache__`` or under ``NUMBA_CACHE_DIR``) are removed. numba
  keys the entries by the function's bytecode (not its constants) and a source stamp:
  older releases stamp with the file's mtime and size, 0.68 with a content hash memoised
  per (path, mtime, size) in a process. A same-size rewrite that keeps the mtime (a
  coarse filesystem clock) would otherwise run code compiled from the bad file.
- A folder that cannot be used (not creatable, ``__pycache__`` not writable for numba,
  file not writable) is replaced, for this process, by one private temporary folder, with
  one ``RuntimeWarning`` that names the folder, the reason and the fix.
- Modules are memoised in-process by key; one lock serialises loading.
"""
from __future__ import annotations

import atexit
import glob
import importlib.abc
import importlib.util
import linecache
import os
import secrets
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

__all__ = ["cache_dir", "module_path", "load_module", "clear_memo"]

_lock = threading.RLock()
_memo: dict[str, ModuleType] = {}
_warned: set[str] = set()
_fallback: tuple[int, Path] | None = None  # (pid that created it, folder)


def cache_dir() -> Path:
    """The folder of generated kernel modules.

    Returns
    -------
    pathlib.Path
        ``$NMM_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/nmm/kernels``, else
        ``~/.cache/nmm/kernels``, made absolute (modules' ``__file__`` and numba's
        cache locations derive from it). The folder may not exist yet.
    """
    env = os.environ.get("NMM_CACHE_DIR")
    if env:
        return Path(env).expanduser().absolute()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return (Path(base) / "nmm" / "kernels").absolute()


def module_path(key: str, name_prefix: str = "nmm_kernel_") -> Path:
    """Where the module of ``key`` is cached in :func:`cache_dir`.

    Parameters
    ----------
    key : str
        The content key (letters, digits and underscores).
    name_prefix : str, default: 'nmm_kernel_'
        Prefix of the module's name and file name.

    Returns
    -------
    pathlib.Path
        ``cache_dir() / f"{name_prefix}{key}.py"``. A module loaded from the fallback
        folder lives elsewhere: its ``__file__`` is authoritative.
    """
    return cache_dir() / f"{_module_name(key, name_prefix)}.py"


def load_module(key: str, source: str | Callable[[], str], name_prefix: str = "nmm_kernel_") -> ModuleType:
    """The module of ``key``, from the in-process memo or the verified on-disk cache.

    Parameters
    ----------
    key : str
        A content key of the source (e.g. a truncated sha256 hex digest): letters, digits
        and underscores. Equal keys must mean equal sources.
    source : str or callable returning str
        The exact source text of the module, or a function that generates it; it is only
        called when ``key`` is not memoised yet.
    name_prefix : str, default: 'nmm_kernel_'
        Prefix of the module's name (``sys.modules``) and file name.

    Returns
    -------
    types.ModuleType
        The module executed from ``source``, registered in ``sys.modules`` as
        ``name_prefix + key``; its ``__file__`` is the cached file (in :func:`cache_dir`, or
        in the process's fallback folder if the cache folder cannot be used).

    Raises
    ------
    ValueError
        If ``name_prefix + key`` is not a Python identifier.
    OSError
        If neither the cache folder nor a private temporary folder can be written.

    Warns
    -----
    RuntimeWarning
        Once per process and cache folder, when that folder cannot be used and the
        fallback folder is used instead.

    Examples
    --------
    >>> mod = load_module("0123abcd", "def f():\\n    return 1\\n")  # doctest: +SKIP
    >>> mod.f()  # doctest: +SKIP
    1
    """
    name = _module_name(key, name_prefix)
    with _lock:
        mod = _memo.get(key)
        if mod is not None:
            return mod
        text = source() if callable(source) else source
        data = text.encode("utf-8")
        primary = cache_dir()
        try:
            path = _ensure_file(primary, name, data)
        except OSError as exc:
            folder = _fallback_dir()
            _warn_fallback(primary, folder, exc)
            try:
                path = _ensure_file(folder, name, data)
            except OSError as exc2:
                exc2.add_note(f"The kernel cache folder {primary} could not be used either: {exc}")
                raise
        mod = _execute(name, path, text)
        _memo[key] = mod
        return mod


def clear_memo() -> None:
    """Forget the modules loaded in this process and the warnings given (for tests).

    The modules are also removed from ``sys.modules``; files on disk are left alone and
    the process keeps its fallback folder.
    """
    with _lock:
        for mod in _memo.values():
            if sys.modules.get(mod.__name__) is mod:
                del sys.modules[mod.__name__]
        _memo.clear()
        _warned.clear()


# ---- internals -------------------------------------------------------------------


def _module_name(key: str, name_prefix: str) -> str:
    name = f"{name_prefix}{key}"
    if not name.isidentifier() or not name.isascii():
        raise ValueError(
            f"The kernel module name {name!r} (name_prefix {name_prefix!r} + key {key!r}) must be "
            "an ASCII Python identifier: use a hex digest as the key, e.g. "
            "hashlib.sha256(data).hexdigest()[:24]."
        )
    return name


def _ensure_file(folder: Path, name: str, data: bytes) -> Path:
    """Make ``folder/name.py`` hold exactly ``data``; raise OSError if the folder is unusable."""
    folder.mkdir(parents=True, exist_ok=True)
    pycache = folder / "__pycache__"
    pycache.mkdir(exist_ok=True)
    # numba's own check: without a writable __pycache__ it would look elsewhere or fail
    tempfile.TemporaryFile(dir=pycache).close()
    path = folder / f"{name}.py"
    if not _holds(path, data):
        _write_atomic(path, data)
        _drop_numba_cache(path)
        linecache.checkcache(str(path))
    return path


def _holds(path: Path, data: bytes) -> bool:
    """Whether the file at ``path`` is readable and its bytes equal ``data``."""
    try:
        if os.stat(path).st_size != len(data):
            return False
        with open(path, "rb") as f:
            return f.read(len(data) + 1) == data
    except OSError:  # missing, unreadable, a folder...: rewrite it (or fall back)
        return False


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a unique temporary file and ``os.replace``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    # O_EXCL and 0o666: a fresh file of our own, with the umask's permissions
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename durable; not every filesystem allows fsync on a folder
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _numba_cache_dirs(path: Path) -> list[Path]:
    """The folders where numba may keep compiled code for the functions of ``path``."""
    dirs = [path.parent / "__pycache__"]
    config = sys.modules.get("numba.core.config")  # numba is not imported just for this
    root = config.CACHE_DIR if config is not None else os.environ.get("NUMBA_CACHE_DIR")
    if root:  # NUMBA_CACHE_DIR takes precedence over __pycache__
        try:
            from numba.core.caching import _CacheLocator
        except ImportError:
            return dirs
        dirs.append(Path(root) / _CacheLocator.get_suitable_cache_subpath(str(path)))
    return dirs


def _drop_numba_cache(path: Path) -> None:
    """Remove numba's index and data files compiled from an earlier file at ``path``."""
    pattern = glob.escape(path.stem) + ".*"
    for folder in _numba_cache_dirs(path):
        for entry in folder.glob(pattern):
            if entry.suffix in (".nbi", ".nbc"):
                try:
                    entry.unlink()
                except FileNotFoundError:  # another process removed it first
                    pass


class _VerifiedLoader(importlib.abc.InspectLoader):
    """Executes the verified source text, never the file or a ``.pyc``."""

    def __init__(self, path: Path, text: str) -> None:
        self._path = path
        self._text = text

    def get_source(self, fullname: str) -> str:
        return self._text

    def get_filename(self, fullname: str) -> str:
        return str(self._path)

    def exec_module(self, module: ModuleType) -> None:
        code = compile(self._text, str(self._path), "exec", dont_inherit=True)
        exec(code, module.__dict__)


def _execute(name: str, path: Path, text: str) -> ModuleType:
    loader = _VerifiedLoader(path, text)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    if spec is None:  # only without a loader for the file's suffix; we pass ours
        raise ImportError(f"cannot make a module spec for the kernel module {str(path)!r}.", name=name)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        loader.exec_module(mod)
    except BaseException:
        if sys.modules.get(name) is mod:
            del sys.modules[name]
        raise
    return mod


def _fallback_dir() -> Path:
    """This process's private kernel folder, created on first use and removed at exit."""
    global _fallback
    pid = os.getpid()
    if _fallback is None or _fallback[0] != pid:  # a forked child makes its own
        folder = Path(tempfile.mkdtemp(prefix="nmm-kernels-"))
        _fallback = (pid, folder)
        atexit.register(_remove_fallback, pid, folder)
    return _fallback[1]


def _remove_fallback(pid: int, folder: Path) -> None:
    if os.getpid() == pid:
        shutil.rmtree(folder, ignore_errors=True)


def _warn_fallback(primary: Path, folder: Path, exc: OSError) -> None:
    if str(primary) in _warned:
        return
    _warned.add(str(primary))
    warnings.warn(
        f"The kernel cache folder {primary} cannot be used ({type(exc).__name__}: {exc}); "
        f"this process writes its kernels to the private temporary folder {folder}, so numba "
        "compiles them again in every process. Set NMM_CACHE_DIR to a writable folder "
        "(e.g. export NMM_CACHE_DIR=$HOME/.cache/nmm/kernels) to keep them between runs.",
        RuntimeWarning,
        stacklevel=3,
    )
