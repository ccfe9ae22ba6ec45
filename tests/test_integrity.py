"""Damaged stores: checksummed chunks, verify, resume repairs bit for bit; status committed with done."""
from __future__ import annotations

import contextlib
import re
import shutil
import warnings

import numpy as np
import pytest
import xarray as xr
import zarr
from click.testing import CliRunner
from conftest import small_spec
from distributed import Client, LocalCluster

import sweeps
from sweeps.errors import SweepFailed
from sweeps.verify import StoreDamageWarning, VerifyReport

#: the reference sweep: tiles of 3 x 3 points, 4 tiles along u (index = u tile, c1 has one)
TILE = {"u": 3, "c1": 3}


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cl, \
            Client(cl) as c:
        yield c


@pytest.fixture(scope="module")
def reference(tmp_path_factory, client):
    """A finished store and its loaded contents."""
    path = tmp_path_factory.mktemp("ref") / "ref.zarr"
    spec = small_spec(path, tile=TILE, simulation_time=0.1)
    sweeps.run_sweep(spec, client=client, progress=False)
    return str(path), xr.open_zarr(path).load()


@pytest.fixture
def copy(reference, tmp_path):
    """A fresh copy of the reference store to damage."""
    dst = tmp_path / "s.zarr"
    shutil.copytree(reference[0], dst)
    return dst


def _flip(path):
    b = bytearray(path.read_bytes())
    b[len(b) // 2] ^= 0x40
    path.write_bytes(bytes(b))


def _truncate(path):
    b = path.read_bytes()
    path.write_bytes(b[: len(b) // 2])


def _delete(path):
    path.unlink()


DAMAGE = {
    "deleted data chunk": ("V_pce/c/1/0/0", _delete, 1, "missing"),
    "truncated data chunk": ("V_pce_mean/c/2/0", _truncate, 2, "unreadable"),
    "flipped byte in data chunk": ("V_pci/c/3/0/0", _flip, 3, "unreadable.*checksum"),
    "deleted status chunk": ("status/c/0/0", _delete, 0, "missing"),
    "flipped byte in status chunk": ("status/c/2/0", _flip, 2, "unreadable.*checksum"),
}


def test_every_chunk_carries_a_checksum(reference):
    g = zarr.open_group(reference[0], mode="r")
    for name, arr in g.arrays():
        if name in ("u", "c1", "time"):
            continue
        assert type(arr.metadata.codecs[-1]).__name__ == "Crc32cCodec", name
    rep = sweeps.verify(reference[0])
    assert isinstance(rep, VerifyReport) and rep.ok and rep.checksums
    assert rep.tiles_done == rep.tiles_total == 4 and rep.chunks_checked == 4 * 9
    assert "no damage" in str(rep)


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damage_is_named_and_resume_repairs_it_bit_for_bit(case, copy, reference, client):
    key, damage, tile, problem = DAMAGE[case]
    damage(copy / key)
    rep = sweeps.verify(str(copy))
    assert not rep.ok and rep.damaged_tiles == (tile,)
    (d,) = rep.damage
    assert (d.tile, d.variable, d.key) == (tile, key.split("/")[0], key)
    assert re.search(problem, d.problem), d.problem
    assert f"tile {tile}: {d.variable} chunk {key}" in str(rep)
    # status never counts a damaged status chunk, and never crashes
    sweeps.sweep_status(str(copy))
    with pytest.warns(StoreDamageWarning, match=rf"(?s)1 tile of .* failed verification.*\n  tile {tile}: "):
        sweeps.resume(str(copy), client=client, progress=False)
    assert sweeps.verify(str(copy)).ok
    xr.testing.assert_identical(xr.open_zarr(copy).load(), reference[1])


def test_zarr_reads_when_the_fast_decoder_is_unavailable(copy, monkeypatch):
    import sys

    monkeypatch.setattr(sys.modules["sweeps.verify"], "_decoder", lambda arr: None)
    assert sweeps.verify(str(copy)).ok
    _flip(copy / "V_pci/c/3/0/0")
    _truncate(copy / "status/c/1/0")
    _delete(copy / "V_pce_min/c/0/0")
    _truncate(copy / "done/c/2")
    rep = sweeps.verify(str(copy))
    assert rep.damaged_tiles == (0, 1, 2, 3)
    assert [(d.tile, d.variable) for d in rep.damage] == [(0, "V_pce_min"), (1, "status"), (3, "V_pci")]
    assert "checksum" in rep.damage[2].problem and rep.done_damage[0].tile == 2


def test_store_without_checksums_is_still_verified(tmp_path, client, monkeypatch):
    """Stores made before checksums: presence and decoding are checked, and the report says so."""
    import sweeps.store as store_module

    monkeypatch.setattr(store_module, "_compressors", lambda spec: [zarr.codecs.ZstdCodec(level=3)])
    spec = small_spec(tmp_path / "s.zarr", tile=TILE, simulation_time=0.1)
    sweeps.run_sweep(spec, client=client, progress=False)
    monkeypatch.undo()
    rep = sweeps.verify(spec.storage.store)
    assert rep.ok and not rep.checksums and "no checksums in this store" in str(rep)
    _truncate(tmp_path / "s.zarr/V_pce/c/2/0/0")
    rep = sweeps.verify(spec.storage.store)
    assert rep.damaged_tiles == (2,) and "unreadable" in rep.damage[0].problem


@pytest.mark.parametrize("damage", [_flip, _truncate])
def test_damaged_done_chunk_is_reported_and_rewritten(damage, copy, reference, client):
    damage(copy / "done/c/2")
    s = sweeps.sweep_status(str(copy))  # no decompression error
    assert s["tiles_done"] == 3 and s["done_unreadable"] == [2] and s["points_ok"] == 27
    rep = sweeps.verify(str(copy))
    assert rep.damaged_tiles == (2,) and rep.done_damage[0].key == "done/c/2" and not rep.damage
    with pytest.warns(StoreDamageWarning, match="1 tile of"):
        sweeps.resume(str(copy), client=client, progress=False)
    assert sweeps.verify(str(copy)).ok
    xr.testing.assert_identical(xr.open_zarr(copy).load(), reference[1])


def test_several_damaged_tiles_are_all_repaired(copy, reference, client):
    _delete(copy / "V_pce_max/c/0/0")
    _flip(copy / "V_pce/c/3/0/0")
    _truncate(copy / "done/c/1")
    rep = sweeps.verify(str(copy))
    assert rep.damaged_tiles == (0, 1, 3)
    with pytest.warns(StoreDamageWarning, match="3 tiles of"):
        sweeps.resume(str(copy), client=client, progress=False)
    xr.testing.assert_identical(xr.open_zarr(copy).load(), reference[1])


def test_resume_of_a_sound_store_is_silent_and_changes_nothing(copy, reference, client):
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreDamageWarning)
        sweeps.resume(str(copy), client=client, progress=False)
    xr.testing.assert_identical(xr.open_zarr(copy).load(), reference[1])


def test_all_nan_tile_has_its_chunks(tmp_path, client):
    # a diverging point alone in its tile: its reductions are all NaN, still on disk and verified
    spec = small_spec(tmp_path / "s.zarr", solver="euler", n=6, extra_axes=False)
    spec = sweeps.SweepSpec.from_dict({**spec.to_dict(), "axes": [
        {"path": "pc/rpo_e_in/tau", "name": "tau", "values": [0.01, 0.011, -0.0001, 0.012]}],
        "storage": {"store": spec.storage.store, "tile": 1}})
    sweeps.run_sweep(spec, client=client, progress=False)
    ds = xr.open_zarr(spec.storage.store)
    assert ds["status"].values.tolist() == [1, 1, 2, 1] and np.isnan(ds["V_pce_mean"].values[2])
    assert (tmp_path / "s.zarr/V_pce_mean/c/2").exists()
    assert sweeps.verify(spec.storage.store).ok


def test_status_is_committed_with_the_done_mark(tmp_path, client, monkeypatch):
    """A tile whose data write fails partway leaves status 0 (not computed) for its points."""
    spec = small_spec(tmp_path / "s.zarr", tile=TILE, simulation_time=0.1)
    real = xr.Dataset.to_zarr

    def failing_write(self, store=None, *args, region=None, **kwargs):
        if region is not None and region["u"].start == 9:  # tile 3: all but one variable written, then a failure
            real(self[list(self.data_vars)[1:]], store, *args, region=region, **kwargs)
            raise OSError("injected: disk full")
        return real(self, store, *args, region=region, **kwargs)

    monkeypatch.setattr(xr.Dataset, "to_zarr", failing_write)
    with pytest.raises(SweepFailed, match="1 of 4 tiles failed"):
        sweeps.run_sweep(spec, client=client, progress=False, retries=0)
    monkeypatch.undo()
    ds = xr.open_zarr(spec.storage.store)
    assert ds["done"].values.tolist() == [True, True, True, False]
    assert (ds["status"].values[:9] == 1).all() and (ds["status"].values[9:] == 0).all()
    s = sweeps.sweep_status(spec.storage.store)
    assert s["points_ok"] == 27 and s["points_total"] == 36


def test_status_counts_only_done_tiles(copy):
    zarr.open_array(str(copy), path="done", mode="r+")[1] = False  # status chunk still says ok
    s = sweeps.sweep_status(str(copy))
    assert s["tiles_done"] == 3 and s["points_ok"] == 27 and s["points_diverged"] == 0


# command line -------------------------------------------------------------------


@pytest.fixture
def cli(client, monkeypatch):
    from sweeps import cli as cli_module

    monkeypatch.setattr(cli_module, "_client", lambda cluster: contextlib.nullcontext(client))
    runner = CliRunner()
    return lambda *args: runner.invoke(cli_module.cli, [str(a) for a in args], catch_exceptions=False)


def test_status_verify_and_resume_commands(cli, copy, reference):
    r = cli("status", "--verify", copy)
    assert r.exit_code == 0 and "36 ok" in r.output and "no damage" in r.output
    _delete(copy / "V_pci_min/c/3/0")
    _truncate(copy / "done/c/0")
    r = cli("status", copy)
    assert r.exit_code == 0 and "3/4 done" in r.output and "done mark of 1 tile unreadable" in r.output
    r = cli("status", "--verify", copy)
    assert r.exit_code == 1
    assert "2 damaged tiles" in r.output and "tile 3: V_pci_min chunk V_pci_min/c/3/0 missing" in r.output
    assert "tile 0: done chunk done/c/0 unreadable" in r.output and "nmm resume" in r.output
    r = cli("resume", copy, "--no-progress")
    assert r.exit_code == 0, r.output
    assert "repaired: 2 damaged tiles computed again" in r.output and "complete" in r.output
    xr.testing.assert_identical(xr.open_zarr(copy).load(), reference[1])
    r = cli("status", "--verify", copy)
    assert r.exit_code == 0 and "no damage" in r.output
