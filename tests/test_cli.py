"""The nmm command line, through click's runner: workflows, errors, status, plots."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from click.testing import CliRunner

from sweeps.cli import cli

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / "workflows").glob("*.yaml"))


@pytest.fixture
def runner():
    return CliRunner()


def invoke(runner, *args):
    return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.slow
@pytest.mark.parametrize("wf", WORKFLOWS, ids=[w.stem for w in WORKFLOWS])
def test_every_shipped_workflow_runs_scaled_down(tmp_path, runner, wf):
    store = tmp_path / "s.zarr"
    r = invoke(runner, "run", wf, "--store", store, "--max-points-per-axis", 5, "--simulation-time", 1.0,
               "--no-progress", "--cluster", "local")
    assert r.exit_code == 0, r.output
    assert f"store: {store}" in r.output
    ds = xr.open_zarr(store)
    if "lattice" in ds.coords:  # an adaptive sweep fills the slots its levels need
        import sweeps

        s = sweeps.sweep_status(str(store))
        assert s["tiles_done"] == s["tiles_total"] and s["points_ok"] == s["points_total"] > 0
    else:
        assert ds["done"].values.all() and (ds["status"].values == 1).all()
    spec = yaml.safe_load(wf.read_text())
    for p in spec.get("plots", []):
        import matplotlib.image

        png = tmp_path / f"s_{p['kind']}.png"
        img = matplotlib.image.imread(str(png))
        assert img.shape[0] > 300 and img.shape[1] > 500 and img[..., :3].std() > 0.05, png
    if "analysis" in spec:
        assert (tmp_path / "s_special_points.csv").exists()
    # status and info read the store
    r = invoke(runner, "status", store)
    assert r.exit_code == 0 and "done" in r.output and "0 diverged" in r.output
    r = invoke(runner, "info", store)
    assert r.exit_code == 0 and "versions:" in r.output and "numba" in r.output


def check_png(path, size):
    """A PNG that decodes, has the figure's pixel size (inches x 120 dpi) and shows
    something: more than a background colour and axes."""
    import matplotlib.image

    img = matplotlib.image.imread(str(path))
    assert img.shape[:2] == size, (path, img.shape)
    rgb = img[..., :3]
    assert rgb.std() > 0.05, path  # not a blank canvas
    # drawn (non-white) pixels: axes, labels and the data
    assert 0.02 < (rgb.min(axis=-1) < 0.9).mean() < 0.9, path


@pytest.fixture(scope="module")
def quickstart_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("q") / "q.zarr"
    r = invoke(CliRunner(), "run", ROOT / "workflows/quickstart.yaml", "--store", store, "--max-points-per-axis", 6,
               "--simulation-time", 1.0, "--no-progress")
    assert r.exit_code == 0, r.output
    return store


def test_plot_command(tmp_path, runner, quickstart_store):
    # figure sizes (inches) of sweeps.plots at dpi 120
    for kind, size in (("orbit", (480, 840)), ("spectrum", (540, 840)), ("frequency", (480, 840))):
        out = tmp_path / f"{kind}.png"
        r = invoke(runner, "plot", quickstart_store, "--kind", kind, "-o", out)
        assert r.exit_code == 0, r.output
        assert r.output == f"wrote {out}\n"
        check_png(out, size)
    r = invoke(runner, "plot", quickstart_store, "--kind", "regime", "-o", tmp_path / "r.png")
    assert r.exit_code == 1 and r.output.startswith("error: ") and "regime" in r.output
    assert not (tmp_path / "r.png").exists()


def test_plots_draw_the_data_and_label_axes_from_its_attributes(quickstart_store):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sweeps import plots

    ds = xr.open_zarr(quickstart_store).load()
    u = ds["u"]
    assert u.attrs["units"] == "Hz"
    ax = plots.orbit_diagram(ds, "V_pc")
    assert ax.get_xlabel() == f"{u.attrs['long_name']} (Hz)"
    assert ax.get_ylabel().endswith("(V)")
    # the points drawn are the stored extrema
    mx = ds["V_pc_maxima"].transpose("u", "extremum").values
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), np.repeat(u.values, mx.shape[1]))
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), mx.ravel())
    plt.close(ax.figure)
    ax = plots.frequency_map(ds, "V_pc")
    assert ax.get_ylabel() == f"{ds['V_pc_peak_frequency'].attrs['long_name']} (Hz)"
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), ds["V_pc_peak_frequency"].values)
    plt.close(ax.figure)
    ax = plots.spectrum(ds, "V_pc")
    assert ax.get_ylabel() == "frequency (Hz)" and ax.get_xlabel() == f"{u.attrs['long_name']} (Hz)"
    plt.close(ax.figure)
    # labels follow the attributes, whatever they say
    ds["u"].attrs.update(long_name="drive", units="kHz")
    ds["V_pc_maxima"].attrs.update(units="mV")
    ax = plots.orbit_diagram(ds, "V_pc")
    assert ax.get_xlabel() == "drive (kHz)" and ax.get_ylabel().endswith("(mV)")
    plt.close(ax.figure)


@pytest.mark.slow  # a whole workflow run, its resume and a rewrite: ~16 s
def test_resume_command(tmp_path, runner):
    import json

    import zarr

    store = tmp_path / "q.zarr"
    wf = tmp_path / "three_tiles.yaml"  # the quickstart in three tiles, without its analysis and plots
    d = {k: v for k, v in BASE.items() if k not in ("analysis", "plots")}
    d["axes"] = [{**BASE["axes"][0], "linspace": [0, 400, 6]}]
    d["simulation"] = {**BASE["simulation"], "simulation_time": 1.0, "cutoff": 0.5}
    d["storage"] = {"store": str(store), "tile": 2}
    wf.write_text(yaml.safe_dump(d))
    r = invoke(runner, "run", wf, "--no-progress")
    assert r.exit_code == 0, r.output
    assert r.output == f"store: {store}\n"
    full = xr.open_zarr(store).load()
    # a crash before the first tile was marked done, and its data lost
    n_first = json.loads(full.attrs["nmm_tile_shape"])["u"]
    assert n_first == 2 and full["done"].size == 3
    zarr.open_array(str(store), path="done", mode="r+")[0] = False
    for v in full.data_vars:
        if full[v].dims[:1] == ("u",):
            arr = zarr.open_array(str(store), path=v, mode="r+")
            arr[:n_first] = np.nan if arr.dtype.kind == "f" else 0
    damaged = xr.open_zarr(store).load()
    assert np.isnan(damaged["V_pc"].values[:n_first]).all()
    r = invoke(runner, "resume", store, "--no-progress")
    assert r.exit_code == 0, r.output
    assert r.output == f"store: {store} complete\n"
    again = xr.open_zarr(store).load()
    assert again["done"].values.all()
    xr.testing.assert_identical(again.drop_attrs(), full.drop_attrs())


def test_templates_and_simulate(tmp_path, runner):
    r = invoke(runner, "templates")
    assert "nmm.templates.jansenrit.JRC" in r.output
    out = tmp_path / "o.csv"
    r = invoke(runner, "simulate", "nmm.templates.jansenrit.JRC", "-p", "pc/rpo_e_in/u=150", "-O", "v=pc/pro/v",
               "--time", 0.5, "-o", out)
    assert r.exit_code == 0, r.output
    import pandas as pd

    df = pd.read_csv(out, index_col=0)
    assert df.shape == (500, 1) and np.isfinite(df["v"]).all()
    nc = tmp_path / "o.nc"
    r = invoke(runner, "simulate", "nmm.templates.jansenrit.JRC", "--time", 0.1, "-o", nc)
    assert r.exit_code == 0 and xr.open_dataset(nc)["pc.rpo_e_in.v"].size == 100


BASE = yaml.safe_load((ROOT / "workflows/quickstart.yaml").read_text())

BAD = [
    ({"axes": [{"path": "pc/rpo_e_in/uu", "linspace": [0, 1, 3]}]}, "axis path 'pc/rpo_e_in/uu'"),
    ({"axes": []}, "at least one axis"),
    ({"axes": [{"path": "pc/rpo_e_in/u", "values": []}]}, "has no values"),
    ({"simulation": {**BASE["simulation"], "step_size": -1}}, "step_size must be positive"),
    ({"simulation": {**BASE["simulation"], "solver": "rk45"}}, "solver 'rk45' is unknown"),
    ({"simulation": {**BASE["simulation"], "outputs": {"V": "pc/pro/vv"}}}, "unknown variable path 'pc/pro/vv'"),
    ({"storage": {"store": "x.zarr", "tile": 1000}}, "larger than the grid"),
    ({"design": "zip", "axes": [{"path": "pc/rpo_e_in/u", "values": [1, 2]},
                                {"path": "pc/rpo_i/h", "values": [1, 2, 3]}]}, "equal length"),
    ({"model": {"template": "nmm.templates.nope.JRC"}}, "cannot find the template file"),
    ({"plots": [{"kind": "orbitt", "output": "V_pc"}]}, "kind 'orbitt' is unknown.*Did you mean 'orbit'"),
    ({"plots": [{"kind": "regime", "output": "V_pc"}]}, "regime map needs a 2-D grid"),
    ({"plots": [{"kind": "orbit", "output": "V"}]}, "output 'V' is not an output"),
    ({"analysis": {"continuation": {"parameter": "pc/rpo_e_in/uu"}}}, "continuation.parameter 'pc/rpo_e_in/uu'"),
    ({"analysis": {"contination": {}}}, "unknown key 'contination' in analysis"),
    ({"keep": {"series": False, "reductions": ["mean"]}}, "needs the series or the 'orbit' reduction"),
    ({"storag": {}}, "unknown key 'storag'"),
    ({"seed": "abc"}, "seed must be a number"),
]


@pytest.mark.parametrize("change, message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_workflow_files(tmp_path, runner, change, message):
    d = {**BASE, **change}
    d["storage"] = dict(change["storage"]) if "storage" in change else {}
    d["storage"]["store"] = str(tmp_path / "never.zarr")
    wf = tmp_path / "bad.yaml"
    wf.write_text(yaml.safe_dump(d))
    r = runner.invoke(cli, ["run", str(wf), "--no-progress"])
    assert r.exit_code == 1
    assert r.output.startswith("error: ") and len(r.output.strip().splitlines()) == 1, r.output
    import re

    assert re.search(message, r.output), r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "never.zarr").exists()  # nothing written


def test_yaml_syntax_error_and_debug(tmp_path, runner):
    wf = tmp_path / "bad.yaml"
    wf.write_text("name: [x\n")
    r = runner.invoke(cli, ["run", str(wf)])
    assert r.exit_code == 1 and "YAML syntax error" in r.output
    r = runner.invoke(cli, ["--debug", "run", str(wf)])
    assert r.exit_code == 1 and r.exception is not None  # --debug lets the traceback through


def test_missing_store(runner, tmp_path):
    r = runner.invoke(cli, ["status", str(tmp_path / "no.zarr")])
    assert r.exit_code == 1 and "does not exist" in r.output
