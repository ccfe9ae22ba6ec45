"""The kernel cache trusts no file: planted, cut or unreadable files are regenerated.

The sources here are small modules written by the tests, independent of the generator.
"""
from __future__ import annotations

import hashlib
import importlib.util
import multiprocessing
import os
import py_compile
import stat
import sys
import tempfile
import threading
import warnings
from pathlib import Path

import pytest

from nmm import kernel_cache
from nmm.kernel_cache import cache_dir, clear_memo, load_module, module_path

PLAIN = "def f(x):\n    return x + 1\n"

# a cut at any line boundary after the function still imports, with a wrong total
TOTAL = "def total():\n    return TOTAL\n\n\nTOTAL = 0\n" + "".join(f"TOTAL += {i}\n" for i in range(1, 21))

# same size for both values: a rewrite can keep the file's size
NUMBA = "import numba\n\n\n@numba.njit(cache=True)\ndef g(x):\n    return x * {} + 1.0\n"


def _key(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:24]


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "kernels"
    monkeypatch.setenv("NMM_CACHE_DIR", str(folder))
    clear_memo()
    yield folder
    clear_memo()


def _permissions_enforced(folder: Path) -> bool:
    """Whether a folder's mode stops this user writing into it (not so for root)."""
    probe = folder / "probe"
    folder.chmod(0o555)
    try:
        probe.touch()
    except PermissionError:
        return True
    finally:
        folder.chmod(0o755)
    probe.unlink()
    return False


def _outside(path: Path, folder: Path) -> bool:
    return not Path(path).resolve().is_relative_to(folder.resolve())


def test_cache_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("NMM_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "nmm" / "kernels"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "nmm" / "kernels"
    monkeypatch.setenv("NMM_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    assert module_path("abc") == tmp_path / "mine" / "nmm_kernel_abc.py"


def test_new_module_written_and_memoised(cache):
    key = _key(PLAIN)
    mod = load_module(key, PLAIN)
    path = module_path(key)
    assert mod.f(1) == 2
    assert Path(mod.__file__) == path
    assert path.read_text() == PLAIN
    assert sys.modules[f"nmm_kernel_{key}"] is mod
    path.unlink()  # the memo answers: the file is not read again, the source not made

    def fail():
        raise AssertionError("source generated for a memoised key")

    assert load_module(key, fail) is mod
    assert not path.exists()
    clear_memo()
    assert f"nmm_kernel_{key}" not in sys.modules
    mod2 = load_module(key, lambda: PLAIN)
    assert mod2 is not mod and mod2.f(1) == 2 and path.read_text() == PLAIN


def test_bad_key_is_refused(cache):
    with pytest.raises(ValueError, match=r"'nmm_kernel_\.\./x' .* must be an ASCII Python identifier"):
        load_module("../x", PLAIN)


def test_planted_code_never_runs(cache, tmp_path):
    key = _key(PLAIN)
    marker = tmp_path / "planted-ran"
    cache.mkdir()
    path = module_path(key)
    path.write_text(f"open({str(marker)!r}, 'w').close()\n" + PLAIN)
    mod = load_module(key, PLAIN)
    assert mod.f(1) == 2
    assert not marker.exists()
    assert path.read_text() == PLAIN


def test_planted_pyc_with_matching_stamp_never_runs(cache, tmp_path):
    """A ``.pyc`` whose header matches the good file's mtime and size is not executed."""
    marker = tmp_path / "pyc-ran"
    planted = f"open({str(marker)!r}, 'w').close()\n"
    good = PLAIN + "#" * (len(planted) - len(PLAIN) - 1) + "\n"
    assert len(planted) == len(good)
    key = _key(good)
    cache.mkdir()
    path = module_path(key)
    path.write_text(planted)
    os.utime(path, ns=(10**18, 10**18))
    py_compile.compile(str(path), cfile=importlib.util.cache_from_source(str(path)), doraise=True)
    path.write_text(good)  # the good source, with the stamp recorded in the .pyc
    os.utime(path, ns=(10**18, 10**18))
    mod = load_module(key, good)
    assert mod.f(1) == 2
    assert not marker.exists()
    # the threat is real: Python's own loader runs the planted bytecode
    spec = importlib.util.spec_from_file_location("plain_import", path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert marker.exists()


def test_truncated_file_is_regenerated(cache):
    key = _key(TOTAL)
    cache.mkdir()
    path = module_path(key)
    path.write_text(TOTAL[: len(TOTAL) // 2 + 3])  # cut inside a line: a SyntaxError if run
    mod = load_module(key, TOTAL)
    assert mod.total() == 210
    assert path.read_text() == TOTAL


def test_file_cut_at_a_line_is_regenerated(cache):
    key = _key(TOTAL)
    cut = TOTAL[: TOTAL.index("TOTAL += 11\n")]
    namespace: dict = {}
    exec(cut, namespace)  # the cut file is valid Python with a silently wrong result
    assert namespace["total"]() == 55
    cache.mkdir()
    module_path(key).write_text(cut)
    mod = load_module(key, TOTAL)
    assert mod.total() == 210
    assert module_path(key).read_text() == TOTAL


@pytest.mark.parametrize(("umask", "mode"), [(0o002, 0o664), (0o022, 0o644)])
def test_new_files_follow_the_umask(cache, umask, mode):
    old = os.umask(umask)
    try:
        mod = load_module(_key(PLAIN), PLAIN)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(mod.__file__).st_mode) == mode
    assert stat.S_IMODE(os.stat(cache / "__pycache__").st_mode) == mode | 0o111


def test_unreadable_file_in_a_writable_folder_is_replaced(cache):
    key = _key(PLAIN)
    cache.mkdir()
    path = module_path(key)
    path.write_text("raise SystemExit('planted')\n")
    path.chmod(0o000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback: the file can be replaced
        mod = load_module(key, PLAIN)
    assert mod.f(1) == 2
    assert path.read_text() == PLAIN
    assert stat.S_IMODE(path.stat().st_mode) != 0


def _check_fallback(cache: Path, key: str, source: str, match: str):
    with pytest.warns(RuntimeWarning, match=match) as record:
        mod = load_module(key, source)
    assert len(record) == 1
    message = str(record[0].message)
    assert str(cache) in message and "Set NMM_CACHE_DIR to a writable folder" in message
    folder = Path(mod.__file__).parent
    assert _outside(folder, cache) and folder.name.startswith("nmm-kernels-")
    assert str(folder) in message
    assert Path(mod.__file__).read_text() == source
    return mod, folder


def test_uncreatable_folder_falls_back_for_module_and_numba_cache(tmp_path, monkeypatch):
    """Works as root too: nothing can be created below a regular file."""
    (tmp_path / "afile").write_text("")
    cache = tmp_path / "afile" / "sub"
    monkeypatch.setenv("NMM_CACHE_DIR", str(cache))
    clear_memo()
    try:
        source = NUMBA.format("2.0")
        key = _key(source)
        mod, folder = _check_fallback(cache, key, source, r"NotADirectoryError")
        assert mod.g(1.0) == 3.0
        assert list((folder / "__pycache__").glob(f"nmm_kernel_{key}.g-*.nbi"))  # numba cached there
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # one warning per process and folder
            other = load_module(_key(PLAIN), PLAIN)
        assert Path(other.__file__).parent == folder
    finally:
        clear_memo()


def test_read_only_folder_falls_back(cache):
    cache.mkdir()
    if not _permissions_enforced(cache):
        pytest.skip("this user (root) writes into read-only folders")
    key = _key(PLAIN)
    module_path(key).write_text(PLAIN)  # even a good file: numba could not cache beside it
    cache.chmod(0o555)
    try:
        mod, _ = _check_fallback(cache, key, PLAIN, r"PermissionError")
        assert mod.f(1) == 2
    finally:
        cache.chmod(0o755)


def test_unreplaceable_path_falls_back(cache):
    """A folder where the module should be: it can neither be read nor replaced."""
    key = _key(PLAIN)
    module_path(key).mkdir(parents=True)
    mod, _ = _check_fallback(cache, key, PLAIN, r"IsADirectoryError")
    assert mod.f(1) == 2


@pytest.mark.parametrize("numba_dir", [None, "numba-cache"])
def test_rewrite_drops_numba_code_compiled_from_the_old_file(cache, tmp_path, monkeypatch, numba_dir):
    """Same size, same mtime: numba would reuse the planted file's machine code.

    numba keeps it in ``__pycache__`` beside the file, or under ``NUMBA_CACHE_DIR``.
    """
    from numba.core import config

    root = cache / "__pycache__"
    if numba_dir:
        root = tmp_path / numba_dir
        monkeypatch.setattr(config, "CACHE_DIR", str(root))
    good, planted = NUMBA.format("1.0"), NUMBA.format("2.0")
    key = _key(good)
    cache.mkdir()
    path = module_path(key)
    path.write_text(planted)
    old = os.stat(path)
    spec = importlib.util.spec_from_file_location("planted_kernel", path)
    bad = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bad)
    assert bad.g(1.0) == 3.0  # compiled and saved
    pattern = f"nmm_kernel_{key}.*.nb*"
    assert list(root.rglob(pattern))

    real_replace = os.replace

    def replace_keeping_mtime(src, dst):  # a coarse filesystem clock
        real_replace(src, dst)
        if Path(dst) == path:
            os.utime(dst, ns=(old.st_atime_ns, old.st_mtime_ns))

    monkeypatch.setattr(kernel_cache.os, "replace", replace_keeping_mtime)
    mod = load_module(key, good)
    monkeypatch.setattr(kernel_cache.os, "replace", real_replace)
    assert path.read_text() == good and os.stat(path).st_mtime_ns == old.st_mtime_ns
    assert not list(root.rglob(pattern))
    assert mod.g(1.0) == 2.0
    assert list(root.rglob(pattern))  # the good code is cached where numba looked


def test_threads_execute_the_module_once(cache, tmp_path):
    marker = tmp_path / "imports"
    source = f"with open({str(marker)!r}, 'a') as _f:\n    _f.write('x')\n" + PLAIN
    key = _key(source)
    barrier = threading.Barrier(8)
    mods = []

    def work():
        barrier.wait()
        mods.append(load_module(key, source))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(mods) == 8 and all(m is mods[0] for m in mods)
    assert marker.read_text() == "x"


# Runs in spawned processes. It loads kernel_cache from its file rather than importing
# the nmm package, which would take seconds per process.
_CHILD = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("kernel_cache_child", kernel_cache_file)
kc = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = kc
spec.loader.exec_module(kc)
barrier.wait()
mod = kc.load_module(key, source)
queue.put((mod.check(), mod.__file__))
"""


def test_concurrent_processes_all_get_a_correct_module(cache):
    blob = "ab" * 2_000_000  # large enough for the writers to overlap
    source = f"BLOB = {blob!r}\n\n\ndef check():\n    return len(BLOB) + END\n\n\nEND = 7\n"
    key = _key(source)
    cache.mkdir()
    module_path(key).write_text(source[: len(source) // 2])  # every process must rewrite
    ctx = multiprocessing.get_context("spawn")
    n = 4
    barrier, queue = ctx.Barrier(n), ctx.Queue()
    names = {"kernel_cache_file": kernel_cache.__file__, "key": key, "source": source,
             "barrier": barrier, "queue": queue}
    procs = [ctx.Process(target=exec, args=(_CHILD, names)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in range(n)]
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * n
    assert results == [(len(blob) + 7, str(module_path(key)))] * n
    assert module_path(key).read_text() == source
    assert sorted(p.name for p in cache.iterdir()) == ["__pycache__", f"nmm_kernel_{key}.py"]


def test_fallback_folder_is_private_and_made_once(monkeypatch, tmp_path):
    monkeypatch.setattr(kernel_cache, "_fallback", None)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    first = kernel_cache._fallback_dir()
    assert kernel_cache._fallback_dir() == first
    assert first.parent == tmp_path and stat.S_IMODE(first.stat().st_mode) == 0o700
