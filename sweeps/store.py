"""The zarr store of a sweep: layout, creation, provenance and the done mask (the lock: ``lock.py``).

Layout (zarr format 3, consolidated metadata, opens with plain ``xr.open_zarr(path)``):

- one dimension per grid axis with its values as coordinate (``point`` for zip and
  random designs, with each axis as a coordinate along it), ``time`` when series are
  kept, and any dimension a reduction adds (``frequency``);
- an adaptive design has ``point`` slots for its budget (pre-sized: each level starts
  on a tile of its own), with the axes, ``level`` (0: empty slot) and ``lattice`` (the
  index on the finest grid; its attributes describe the lattice) as coordinates along
  it, written by the driver for each level's tiles before it submits them; an empty
  slot has level 0 and status 0, NaN in float variables but 0 in integer ones (a regime
  of 0 would read as a fixed point): select ``level > 0`` before reading along point;
- one variable per output (parameter dims + ``time``), per reduction variable, and
  ``status`` (0 not computed, 1 ok, 2 diverged);
- every variable chunked so one tile is one chunk along the parameter dimensions;
- every chunk of every variable (``status`` and ``done`` included) ends with a CRC32C
  checksum (zarr's ``crc32c`` codec after the compressor, or alone without compression),
  so a damaged chunk fails to read instead of reading as other numbers;
- a tile's data chunks are written by its task with ``write_empty_chunks=True``: every
  done tile has every chunk on disk, even an all-NaN (diverged) one, so a missing chunk
  is damage (:func:`sweeps.verify`);
- ``status`` of a tile is written by the driver from the task's report, then ``done``
  (dim ``tile``, one chunk per tile) is set: a point reads "ok" only when its tile's data
  was written; only the driver writes these two;
- attributes: the spec (YAML), the model files (YAML), hashes, package versions,
  creation time, seed, tile shape.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numba
import numpy as np
import xarray as xr
import zarr
from zarr.abc.codec import BytesBytesCodec
from zarr.codecs import BloscCodec, Crc32cCodec, GzipCodec, ZstdCodec

import nmm
from nmm.circuit import CircuitTemplate
from nmm.engine import Status, time_grid
from nmm.network import Network

from .axes import Axis
from .errors import StoreError
from .lock import StoreLock
from .plan import design_points, lattice_axes, n_tiles
from .reduction_base import ExtraDim
from .reductions import resolve
from .spec import SweepSpec

__all__ = ["create_store", "read_meta", "StoreMeta", "StoreLock", "open_done", "open_status", "open_coordinates",
           "model_text", "versions",
           "STATUS_NOT_COMPUTED", "STATUS_OK", "STATUS_DIVERGED"]

STATUS_NOT_COMPUTED, STATUS_OK, STATUS_DIVERGED = (int(s) for s in Status)
_FORMAT = "nmm-sweep-1"


def versions() -> dict[str, str]:
    return {"nmm": nmm.__version__, "numpy": np.__version__, "numba": numba.__version__,
            "dask": dask.__version__, "xarray": xr.__version__, "zarr": zarr.__version__}


def model_text(circuit: CircuitTemplate | Network) -> str:
    """The text of every template file the circuit (or a network's unit) was loaded from;
    for a network also a digest of its connectome (weights, lengths, labels)."""
    unit = circuit.unit if isinstance(circuit, Network) else circuit
    parts = []
    for f in sorted(set(unit.definition.files) | {unit.definition.source}):
        parts.append(f"# ---- {Path(f).name}\n{Path(f).read_text()}")
    if isinstance(circuit, Network):
        c = circuit.connectome
        h = hashlib.sha256(np.ascontiguousarray(c.weights).tobytes())
        h.update(b"" if c.lengths is None else np.ascontiguousarray(c.lengths).tobytes())
        h.update("\n".join(c.labels).encode())
        parts.append(f"# ---- connectome {c.name!r}: {c.n_regions} regions, sha256 {h.hexdigest()}")
    return "\n".join(parts)


def _unit_of(circuit: CircuitTemplate | Network) -> Any:
    """``unit(path)`` of a circuit's variables, or of a network's (``G``, ``speed`` and
    region-prefixed paths included)."""
    return circuit.model.unit_of if isinstance(circuit, Network) else circuit.model.unit


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _compressors(spec: SweepSpec) -> list[BytesBytesCodec]:
    """The bytes codecs of every variable: the spec's compressor (if any), then a CRC32C
    checksum of the compressed chunk."""
    c = dict(spec.storage.compression)
    crc = Crc32cCodec()
    if not c:
        return [crc]
    level = int(c.get("level", 3))
    codec = c["codec"]
    if codec == "zstd":
        return [ZstdCodec(level=level), crc]
    if codec == "gzip":
        return [GzipCodec(level=level), crc]
    return [BloscCodec(clevel=level), crc]


def layout(spec: SweepSpec, circuit: CircuitTemplate | Network,
           shape: dict[str, int]) -> tuple[xr.Dataset, dict[str, dict[str, Any]]]:
    """The lazy template dataset and its encoding (nothing is computed)."""
    unit_of = _unit_of(circuit)
    regions = circuit.labels if isinstance(circuit, Network) else ()
    region_dim: tuple[ExtraDim, ...] = (("region", np.asarray(regions, dtype=object), {"units": "1", "long_name": "region"}),) \
        if regions else ()

    sim = spec.simulation
    grid = time_grid(sim.simulation_time, sim.step_size, sim.sampling_step_size, sim.cutoff)
    dims = spec.dims
    pdims = tuple(dims)
    psizes = tuple(dims.values())
    pchunks = tuple(shape[d] for d in pdims)
    coords: dict = {}
    data: dict = {}
    enc: dict = {}
    comp = _compressors(spec)
    pts = design_points(spec) if spec.design.kind != "adaptive" else {}
    def axis_attrs(a: Axis) -> dict[str, str]:
        if a.targets:
            tgt = ", ".join(f"{f:g} x {p}" for p, f in a.targets)
            units = {unit_of(p) for p in a.paths}
            return {"units": units.pop() if len(units) == 1 else "1", "long_name": a.path, "targets": tgt}
        return {"units": unit_of(a.path), "long_name": a.path, "path": a.path}

    if spec.design.kind == "grid":
        for a in spec.axes:
            coords[a.name] = (a.name, pts[a.name], axis_attrs(a))
    elif spec.design.kind == "adaptive":
        # decided level by level: written by the driver for each level's tiles (one chunk per tile)
        coords["point"] = ("point", np.arange(spec.n_points), {"units": "1", "long_name": "slot"})
        lat = spec.lattice
        lazy = {"chunks": -1}
        for a in spec.axes:
            coords[a.name] = ("point", da.full(psizes, np.nan, **lazy), axis_attrs(a))
            enc[a.name] = {"chunks": pchunks, "compressors": comp, "_FillValue": np.nan}
        coords["level"] = ("point", da.zeros(psizes, dtype=np.int8, **lazy), {
            "units": "1", "long_name": "refinement level (0: empty slot)"})
        enc["level"] = {"chunks": pchunks, "compressors": comp}
        coords["lattice"] = ("point", da.zeros(psizes, dtype=np.int64, **lazy), {
            "units": "1", "long_name": "index on the finest grid (C order)", "nmm_lattice": 1,
            "nmm_lattice_base": list(lat.base), "nmm_lattice_levels": lat.levels,
            "nmm_lattice_axes": [a.name for a in spec.axes],
            "nmm_lattice_values": [v.tolist() for v in lattice_axes(spec).values()]})
        enc["lattice"] = {"chunks": pchunks, "compressors": comp}
    else:
        coords["point"] = ("point", np.arange(spec.n_points), {"units": "1", "long_name": "point index"})
        for a in spec.axes:
            coords[a.name] = ("point", pts[a.name], axis_attrs(a))
    if spec.initial_states:
        labels = [lbl for lbl, _ in spec.initial_states]
        coords["init"] = ("init", np.arange(len(labels)), {
            "units": "1", "long_name": "initial state", "flag_values": list(range(len(labels))),
            "flag_meanings": " ".join(labels),
            "initial_states": json.dumps({lbl: dict(v) for lbl, v in spec.initial_states})})
    time_unit = circuit.time_unit
    outputs = [n for n, _ in sim.outputs]
    units = {n: unit_of(p) for n, p in sim.outputs}
    units["time"] = time_unit
    fdt = np.dtype(sim.float_precision)

    def add(name: str, extra_dims: tuple[ExtraDim, ...], dtype: np.dtype, attrs: dict[str, Any],
            fill: float) -> None:
        edims = tuple(d for d, _, _ in extra_dims)
        esizes = tuple(len(v) for _, v, _ in extra_dims)
        # one dask chunk: the template is never computed, and a graph of one task per
        # tile would take minutes to build for a million tiles (zarr chunks: encoding)
        arr = da.full(psizes + esizes, fill, dtype=dtype, chunks=-1)
        data[name] = (pdims + edims, arr, attrs)
        e: dict[str, Any] = {"chunks": pchunks + esizes, "compressors": comp}
        if np.issubdtype(dtype, np.floating):
            e["_FillValue"] = np.nan
        enc[name] = e
        for d, v, a in extra_dims:
            coords.setdefault(d, (d, np.asarray(v), a))

    if spec.keep.series:
        coords["time"] = ("time", grid.times, {"units": time_unit, "long_name": "time"})
        for n, p in sim.outputs:
            add(n, (("time", grid.times, {}),) + region_dim, fdt, {"units": units[n], "long_name": p, "path": p},
                np.nan)
    for rname in spec.keep.reductions:
        red = resolve(rname, spec.keep.options_dict)
        if red.network:
            made = red.variables(outputs, units, sim, regions=regions)  # type: ignore[call-arg]
            for vname, info in made.items():
                add(vname, info.dims, np.dtype(info.dtype), dict(info.attrs), np.nan)
            continue
        for vname, info in red.variables(outputs, units, sim).items():
            add(vname, region_dim + info.dims, np.dtype(info.dtype), dict(info.attrs), np.nan)
    add("status", (), np.dtype("int8"),
        {"units": "1", "long_name": "point status", "flag_values": [0, 1, 2],
         "flag_meanings": "not_computed ok diverged"}, 0)
    nt = n_tiles(spec, shape)
    data["done"] = (("tile",), da.zeros(nt, dtype=bool, chunks=-1),
                    {"units": "1", "long_name": "tile stored (written by the driver after the tile's data)"})
    enc["done"] = {"chunks": (1,), "compressors": [Crc32cCodec()]}
    return xr.Dataset(data, coords=coords), enc


@dataclass(frozen=True)
class StoreMeta:
    spec: SweepSpec
    spec_hash: str
    model_hash: str
    tile_shape: dict[str, int]
    attrs: dict[str, Any]


def create_store(spec: SweepSpec, circuit: CircuitTemplate | Network, shape: dict[str, int]) -> None:
    """Write the store's metadata and coordinates (no data) atomically.

    The store is built under a temporary name next to the target and renamed into place;
    whatever stops the creation (an error, a full disk, Ctrl-C) removes the temporary
    folder and any parent folder made for it, so nothing is left on disk. The caller
    checks the sweep's size first (:func:`sweeps.plan.check_limits`).
    """
    store = spec.storage.store
    ds, enc = layout(spec, circuit, shape)
    mtext = model_text(circuit)
    ds.attrs = {
        "nmm_format": _FORMAT,
        "title": f"nmm sweep {spec.name!r} of {circuit.name}",
        "nmm_spec": spec.to_yaml(),
        "nmm_spec_hash": spec.hash(),
        "nmm_model_yaml": mtext,
        "nmm_model_hash": _sha(mtext),
        "nmm_hash": _sha(spec.hash() + _sha(mtext)),
        "nmm_versions": json.dumps(versions()),
        "nmm_created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "nmm_seed": spec.seed,
        "nmm_tile_shape": json.dumps(shape),
        "nmm_design": spec.design.kind,
    }
    if "://" in store:
        _write_template(ds, enc, store)
        return
    target = Path(store)
    tmp = target.with_name(f".{target.name}.creating-{os.getpid()}")
    made = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        _write_template(ds, enc, str(tmp))
        try:
            os.rename(tmp, target)
        except OSError as exc:
            raise StoreError(f"cannot create store {store!r}: {exc}.") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for d in made:  # innermost first; only folders made here, and only if empty
            try:
                d.rmdir()
            except OSError:
                break
        raise


def _write_template(ds: xr.Dataset, enc: dict[str, dict[str, Any]], where: str) -> None:
    with warnings.catch_warnings():
        # zarr 3 warns that consolidated metadata is not in the v3 spec; we want it so
        # that xr.open_zarr(path) opens without arguments and without a warning
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        ds.to_zarr(where, mode="w-", compute=False, zarr_format=3, consolidated=True, encoding=enc)


def exists(store: str) -> bool:
    if "://" in store:
        import fsspec

        fs, path = fsspec.core.url_to_fs(store)
        return fs.exists(path)
    return Path(store).exists()


def read_meta(store: str) -> StoreMeta:
    """Read the provenance of a sweep store.

    Raises
    ------
    StoreError
        If the path is not a sweep store.
    """
    if not exists(store):
        raise StoreError(f"store {store!r} does not exist.")
    try:
        g = zarr.open_group(store, mode="r")
        attrs = dict(g.attrs)
    except Exception as exc:  # noqa: BLE001 (zarr raises many kinds)
        reason = str(exc).strip().rstrip(".") or type(exc).__name__
        raise StoreError(f"{store!r} is not a zarr store: {reason}. Give the path of a store made by `nmm run` "
                         "(a folder with zarr.json), or choose a new path for a new sweep.") from None
    if attrs.get("nmm_format") != _FORMAT:
        raise StoreError(f"{store!r} is not an nmm sweep store (no nmm_format attribute).")
    spec = SweepSpec.from_yaml(str(attrs["nmm_spec"])).with_store(store)
    return StoreMeta(spec, str(attrs["nmm_spec_hash"]), str(attrs["nmm_model_hash"]),
                     json.loads(str(attrs["nmm_tile_shape"])), attrs)


def tile_variables(group: zarr.Group, spec: SweepSpec) -> list[tuple[str, zarr.Array]]:
    """The data variables written tile by tile (``status`` included, ``done`` and the
    coordinates not): the arrays whose leading dimensions are the parameter dimensions."""
    pd = tuple(spec.dims)
    # an adaptive design's coordinates along point are decided per level: tile variables too
    coords = set(pd) | ({a.name for a in spec.axes} | {"init"} if spec.design.kind != "adaptive" else set())
    out = []
    for name, arr in sorted(group.arrays(), key=lambda item: item[0]):
        if name in coords:
            continue  # coordinates are written once by the driver
        dn = tuple(getattr(arr.metadata, "dimension_names", None) or ())  # zarr format 3 metadata
        if dn and dn[: len(pd)] == pd:
            out.append((name, arr))
    return out


def check_chunks(store: str, spec: SweepSpec, shape: dict[str, int]) -> None:
    """Refuse a store whose chunks do not match the tiles one to one."""
    g = zarr.open_group(store, mode="r")
    pd = list(spec.dims)
    want = tuple(shape[d] for d in pd)
    for name, arr in tile_variables(g, spec):
        if tuple(arr.chunks[: len(pd)]) != want:
            raise StoreError(
                f"variable {name!r} of {store!r} has chunks {arr.chunks[:len(pd)]} but tiles are {want}; "
                "tiles must equal chunks so that no two tasks write one chunk. Start a new store."
            )


def open_done(store: str, mode: str = "r+") -> zarr.Array:
    """The ``done`` mask (one chunk per tile); the driver alone writes it."""
    return zarr.open_array(store, path="done", mode=mode)


def open_status(store: str, mode: str = "r+") -> zarr.Array:
    """The ``status`` array, for the driver's write of a finished tile's region."""
    return zarr.open_array(store, path="status", mode=mode, config={"write_empty_chunks": True})


def open_coordinates(store: str, spec: SweepSpec, mode: str = "r+") -> dict[str, zarr.Array]:
    """An adaptive store's coordinates along ``point`` (the axes, ``level``, ``lattice``),
    which the driver writes for each level's tiles before it submits them."""
    names = [a.name for a in spec.axes] + ["level", "lattice"]
    return {n: zarr.open_array(store, path=n, mode=mode, config={"write_empty_chunks": True}) for n in names}


def model_hash_now(circuit: CircuitTemplate | Network) -> str:
    return _sha(model_text(circuit))
