"""Whole-brain networks as sweeps: the store's region dimension, the network reductions
against the direct computation, tiling independence, and the spec's refusals."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from distributed import Client, LocalCluster

import nmm
import sweeps
from nmm.analysis import network as netan
from sweeps.errors import SpecError
from sweeps.spec import SweepSpec
from sweeps.workflow import Workflow

LABELS = ["lh", "rh", "th"]
W = np.array([[0.0, 1.0, 0.5], [0.8, 0.0, 0.0], [0.3, 0.6, 0.0]])
LEN = np.array([[0.0, 40.0, 25.0], [40.0, 0.0, 0.0], [25.0, 30.0, 0.0]])  # mm


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cl, \
            Client(cl) as c:
        yield c


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("conn")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    fc = np.corrcoef(a @ a.T + 3 * np.eye(3))
    np.savez(d / "tiny.npz", weights=W, lengths=LEN, labels=np.array(LABELS))
    np.save(d / "fc.npy", fc)
    np.save(d / "fc4.npy", np.eye(4))
    return d


def spec_dict(files, store, tile=None, **over):
    d = {
        "name": "tiny_net",
        "model": {"network": {"unit": "nmm.templates.jansenrit.JRC", "connectome": str(files / "tiny.npz"),
                              "coupling": {"source": "pc/pro/m", "target": "pc/rpo_e_in/m_in"}, "speed": 4.0,
                              "G": 1.0},
                  "params": {"th/pc/rpo_e_in/u": 140.0}},
        "axes": [{"path": "G", "name": "G", "values": [2.0, 40.0]},
                 {"path": "speed", "name": "speed", "values": [3.0, 9.0]}],
        "simulation": {"simulation_time": 0.4, "step_size": 1e-4, "sampling_step_size": 1e-3, "solver": "euler",
                       "outputs": {"V": "pc/rpo_e_in/v"}},
        "keep": {"series": True, "reductions": ["mean", "max", "peak", "fc", "sync", "bold", "bold_fc", "fc_fit"],
                 "options": {"spectral": {"nperseg": 200}, "sync": {"band": [8, 13]},
                             "bold": {"tr": 0.02, "scale": 100.0}, "fc_fit": {"empirical": str(files / "fc.npy")}}},
        "storage": {"store": str(store), **({"tile": tile} if tile else {})},
    }
    d.update(over)
    return d


def test_network_sweep_equals_the_direct_simulation(tmp_path, client, files):
    spec = SweepSpec.from_dict(spec_dict(files, tmp_path / "n.zarr", tile={"G": 1, "speed": 2}))
    sweeps.run_sweep(spec, client=client, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # opening must be silent
        ds = xr.open_zarr(spec.store)
    assert list(ds["region"].values) == LABELS and ds["V"].dims == ("G", "speed", "time", "region")
    assert ds["V_mean"].dims == ("G", "speed", "region") and ds["V_fc"].dims == ("G", "speed", "region", "region_2")
    assert ds["V"].attrs["units"] == "V" and ds["speed"].attrs["units"] == "m/s"
    assert (ds["status"].values == 1).all()
    net = nmm.Network.from_connectome("nmm.templates.jansenrit.JRC", files / "tiny.npz", speed=4.0)
    net.update_var(node_vars={"th/pc/rpo_e_in/u": 140.0})
    G, speed = np.meshgrid([2.0, 40.0], [3.0, 9.0], indexing="ij")
    ref = nmm.simulate(net, {"G": G.ravel(), "speed": speed.ravel()}, simulation_time=0.4, step_size=1e-4,
                       sampling_step_size=1e-3, outputs={"V": "pc/rpo_e_in/v"}, summaries=True)
    V = ref["V"].values.reshape(2, 2, *ref["V"].shape[1:])
    np.testing.assert_array_equal(ds["V"].values, V)  # the kernel is the same: the bits too
    np.testing.assert_allclose(ds["V_mean"].values, ref["V_mean"].values.reshape(2, 2, 3), rtol=1e-12)
    series = np.moveaxis(V, -1, -2)  # (G, speed, region, time)
    np.testing.assert_allclose(ds["V_fc"].values, netan.functional_connectivity(series), atol=1e-12)
    m, s = netan.kuramoto_order(series, fs=1000.0, band=(8, 13))
    np.testing.assert_allclose(ds["V_sync_mean"].values, m, atol=1e-12)
    bold = netan.balloon_windkessel(series * 100.0, dt=1e-3, tr=0.02)
    np.testing.assert_allclose(ds["V_bold"].values, bold, atol=1e-12)
    bfc = netan.functional_connectivity(bold)
    np.testing.assert_allclose(ds["V_bold_fc"].values, bfc, atol=1e-12)
    r, dist = netan.fc_fit(bfc, np.load(files / "fc.npy"))
    np.testing.assert_allclose(ds["fc_fit_r"].values, r, atol=1e-12)
    np.testing.assert_allclose(ds["fc_fit_distance"].values, dist, atol=1e-12)
    # the coupling matters: strong G changes the regions' mean
    assert np.abs(ds["V_mean"].sel(G=40.0).values - ds["V_mean"].sel(G=2.0).values).max() > 1e-4


def test_network_store_does_not_depend_on_the_tiling(tmp_path, client, files):
    """Tiles with one speed (contiguous delays) and tiles mixing speeds (gathered delays)
    store the same bits, noise included."""
    over = {"simulation": {"simulation_time": 0.2, "step_size": 1e-4, "sampling_step_size": 1e-3,
                           "solver": "euler", "outputs": {"V": "pc/rpo_e_in/v"},
                           "noise": {"all/pc/rpo_e_in/u": {"normal": [0, 20], "add": True}}},
            "keep": {"series": True, "reductions": ["mean", "fc"]}}
    stores = []
    for k, tile in enumerate(({"G": 1, "speed": 1}, {"G": 2, "speed": 2}, {"G": 1, "speed": 2})):
        spec = SweepSpec.from_dict(spec_dict(files, tmp_path / f"t{k}.zarr", tile=tile, **over))
        sweeps.run_sweep(spec, client=client, progress=False)
        stores.append(xr.open_zarr(spec.store).load())
    for other in stores[1:]:
        for v in ("V", "V_mean", "V_fc", "status"):
            np.testing.assert_array_equal(stores[0][v].values, other[v].values)
    assert not np.array_equal(stores[0]["V"].values[..., 0], stores[0]["V"].values[..., 1])  # own streams


@pytest.mark.parametrize("change, match", [
    (lambda d: d["model"].update(template="nmm.templates.jansenrit.JRC"), "both template and network"),
    (lambda d: d["axes"].__setitem__(0, {"path": "r9/pc/rpo_e_in/u", "values": [1.0, 2.0]}),
     r"'r9' in 'r9/pc/rpo_e_in/u' is not a region"),
    (lambda d: d["model"]["network"].pop("speed"), "the network has no speed"),
    (lambda d: d["model"]["network"].update(speed=0), "speed = 0.0; the conduction speed must be positive"),
    (lambda d: d["model"]["network"]["coupling"].update(target="pc/rpo_e_in/nope"),
     "coupling target 'pc/rpo_e_in/nope' is not a variable"),
    (lambda d: d["model"]["network"].update(connectome="/nonexistent/conn.npz"), "conn.npz"),
    (lambda d: d["keep"]["options"]["fc_fit"].update(empirical=str(d["_files"] / "fc4.npy")),
     "4 x 4 but the network has 3 regions"),
    (lambda d: d["simulation"].update(solver="scipy"), "cannot integrate a network"),
    (lambda d: d.update(initial_states={"a": {"pc/rpo_e_in/v": 0.01}}), "initial_states on a network"),
    (lambda d: d["simulation"].update(outputs={"V": "lh/pc/rpo_e_in/v"}), "addresses one region"),
])
def test_network_spec_refusals(tmp_path, files, change, match):
    d = spec_dict(files, tmp_path / "x.zarr")
    d["_files"] = files
    change(d)
    d.pop("_files")
    with pytest.raises(SpecError, match=match):
        SweepSpec.from_dict(d).circuit()
    assert not (tmp_path / "x.zarr").exists()


def test_network_reductions_need_a_network(tmp_path):
    d = {"model": {"template": "nmm.templates.jansenrit.JRC"},
         "axes": [{"path": "pc/rpo_e_in/u", "values": [100.0, 200.0]}],
         "simulation": {"simulation_time": 0.2, "step_size": 1e-4, "outputs": {"V": "pc/rpo_e_in/v"}},
         "keep": {"reductions": ["fc"]}, "storage": {"store": str(tmp_path / "c.zarr")}}
    with pytest.raises(SpecError, match="reduction 'fc' compares regions of a whole-brain network"):
        SweepSpec.from_dict(d).circuit()


def test_network_workflow_refuses_continuation(tmp_path, files):
    d = spec_dict(files, tmp_path / "w.zarr")
    d["analysis"] = {"continuation": {"parameter": "G"}}
    with pytest.raises(SpecError, match="a network's are not supported"):
        Workflow.from_dict(d)


def test_shipped_connectome_workflow_loads():
    wf = Workflow.from_yaml("workflows/connectome_fc_fit.yaml")
    assert wf.spec.is_network and wf.spec.dims == {"G": 24, "speed": 12, "u": 2}
    net = wf.spec.circuit()
    assert isinstance(net, nmm.Network) and len(net.labels) == 80
