"""Figures of sweep results (matplotlib, PNG): orbit diagrams, regime and frequency maps,
spectra, and the bifurcation figure (continuation curves over orbit extrema).

Axes are labelled from the variables' ``long_name`` and ``units`` attributes.
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, cast

import numpy as np
import xarray as xr

from nmm.analysis.orbits import REGIMES, extrema
from nmm.analysis.spectral import psd
from nmm.connectomes import load_fc
from nmm.continuation import Continuation

from .adaptive import is_adaptive, rasterize
from .errors import SpecError
from .store import read_meta

if TYPE_CHECKING:  # annotations only: matplotlib is imported when a figure is drawn
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["orbit_diagram", "regime_map", "frequency_map", "spectrum", "power_map", "bifurcation_figure",
           "fc_fit_map", "fc_comparison", "plot_store", "KINDS"]

KINDS = ("orbit", "regime", "frequency", "spectrum", "power", "fc_fit", "fc")


def _plt() -> ModuleType:
    """``matplotlib.pyplot`` with the Agg backend (unless one is chosen already)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def label(da: xr.DataArray, default: str = "") -> str:
    name = da.attrs.get("long_name") or da.name or default
    units = da.attrs.get("units")
    return f"{name} ({units})" if units and units not in ("1", "unknown") else str(name)


def _need(ds: xr.Dataset, var: str, hint: str) -> xr.DataArray:
    if var not in ds:
        raise SpecError(f"the dataset has no {var!r}; {hint}")
    return ds[var]


def _param_dims(ds: xr.Dataset) -> list[Hashable]:
    return [d for d in ds["status"].dims] if "status" in ds else [d for d in ds.dims if d not in (
        "time", "frequency", "extremum", "tile")]


def _extrema(ds: xr.Dataset, output: str) -> tuple[xr.DataArray, xr.DataArray]:
    if f"{output}_maxima" in ds:
        return ds[f"{output}_maxima"], ds[f"{output}_minima"]
    if output in ds:  # compute from the stored series

        mx, mn, _, _ = extrema(ds[output].values, tol=1e-3, max_n=16)
        dims = ds[output].dims[:-1] + ("extremum",)
        return (xr.DataArray(mx, dims=dims, coords={d: ds[d] for d in dims[:-1] if d in ds.coords},
                             attrs=ds[output].attrs),
                xr.DataArray(mn, dims=dims, coords={d: ds[d] for d in dims[:-1] if d in ds.coords},
                             attrs=ds[output].attrs))
    raise SpecError(f"the dataset has no {output!r} series nor '{output}_maxima'; keep the series or the "
                    "'orbit' reduction.")


def _axis_coord(ds: xr.Dataset, dims: Sequence[Hashable]) -> xr.DataArray:
    if len(dims) != 1:
        raise SpecError(f"an orbit diagram needs a 1-D sweep, this one has dims {dims}; select one "
                        "(ds.sel(...)) or use the regime map.")
    d = dims[0]
    if d == "point":
        cands = [c for c in ds.coords if ds[c].dims == ("point",) and c != "point"]
        if len(cands) != 1:
            raise SpecError("a point design has several coordinates; plot against one with a grid design.")
        return ds[cands[0]]
    return ds[d]


def orbit_diagram(ds: xr.Dataset, output: str, ax: Axes | None = None) -> Axes:
    """Distinct maxima and minima of ``output`` against the swept parameter (1-D sweeps)."""
    plt = _plt()
    mx, mn = _extrema(ds, output)
    if "init" in mx.dims:  # attractors from every initial state, overlaid
        mx = mx.stack(ext=("init", "extremum")).rename(ext="extremum_")
        mn = mn.stack(ext=("init", "extremum")).rename(ext="extremum_")
        mx, mn = (a.drop_vars([c for c in a.coords if c in ("init", "extremum", "extremum_")]).rename(
            extremum_="extremum") for a in (mx, mn))
    x = _axis_coord(ds, [d for d in mx.dims if d != "extremum"])
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    mx = mx.transpose(x.dims[0], "extremum")
    mn = mn.transpose(x.dims[0], "extremum")
    X = np.broadcast_to(x.values[:, None], mx.shape)
    ax.plot(X.ravel(), np.asarray(mx).ravel(), ".", color="C0", ms=2, ls="none", label="maxima")
    ax.plot(X.ravel(), np.asarray(mn).ravel(), ".", color="C3", ms=2, ls="none", label="minima")
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(mx, output).replace("distinct local maxima of ", ""))
    ax.set_title(f"orbit diagram of {output}")
    return ax


def _map2d(ds: xr.Dataset, var: Hashable, ax: Axes | None, cmap: str | None, title: str, cbar_label: str,
           discrete: Mapping[int, str] | None = None) -> Axes:
    plt = _plt()
    da = ds[var]
    if "init" in da.dims:
        da = da.isel(init=0)  # the first initial state
    dims = list(da.dims)
    if len(dims) != 2:
        raise SpecError(f"a map needs a 2-D grid sweep; {var!r} has dims {dims}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 5))
    y, x = ds[dims[0]], ds[dims[1]]
    values = np.asarray(da.values, dtype=float)
    if discrete:
        from matplotlib.colors import BoundaryNorm, ListedColormap

        codes = sorted(discrete)
        cm = ListedColormap([f"C{i}" for i in range(len(codes))])
        norm = BoundaryNorm(np.arange(min(codes) - 0.5, max(codes) + 1.5), cm.N)
        m = ax.pcolormesh(x.values, y.values, values, cmap=cm, norm=norm, shading="nearest")
        cb = plt.colorbar(m, ax=ax, ticks=codes)
        cb.ax.set_yticklabels([discrete[c] for c in codes])
    else:
        m = ax.pcolormesh(x.values, y.values, values, cmap=cmap, shading="nearest")
        cb = plt.colorbar(m, ax=ax)
        cb.set_label(cbar_label)
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(y))
    if _geometric(x.values):
        ax.set_xscale("log")
    if _geometric(y.values):
        ax.set_yscale("log")
    ax.set_title(title)
    return ax


def _geometric(v: np.ndarray) -> bool:
    """Whether coordinate values are log-spaced (logspace axes get a log scale)."""
    v = np.asarray(v, dtype=float)
    if v.size < 3 or not np.all(v > 0):
        return False
    steps = np.diff(np.log(v))
    return bool(np.allclose(steps, steps[0], rtol=1e-6) and not np.allclose(np.diff(v), np.diff(v)[0], rtol=1e-6))


def regime_map(ds: xr.Dataset, output: str, ax: Axes | None = None) -> Axes:
    """Regime (fixed point / periodic / irregular) over a 2-D grid."""

    _need(ds, f"{output}_regime", "add the 'orbit' reduction to keep.reductions.")
    return _map2d(ds, f"{output}_regime", ax, None, f"regime of {output}", "", discrete=REGIMES)


def frequency_map(ds: xr.Dataset, output: str, ax: Axes | None = None) -> Axes:
    """Peak frequency over a 2-D grid (or against the parameter of a 1-D sweep)."""
    plt = _plt()
    da = _need(ds, f"{output}_peak_frequency", "add the 'peak' reduction to keep.reductions.")
    if len([d for d in da.dims if d != "init"]) == 2:
        return _map2d(ds, da.name, ax, "viridis", f"peak frequency of {output}", label(da))
    x = _axis_coord(ds, [d for d in da.dims if d != "init"])
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    if "init" in da.dims:
        labels = ds["init"].attrs.get("flag_meanings", "").split()
        for i in range(da.sizes["init"]):
            ax.plot(x.values, da.isel(init=i).values, ".-", ms=3, label=labels[i] if i < len(labels) else str(i))
        ax.legend(title="initial state", fontsize=8)
    else:
        ax.plot(x.values, da.values, ".-", ms=3)
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(da))
    ax.set_title(f"peak frequency of {output}")
    return ax


def power_map(ds: xr.Dataset, output: str, ax: Axes | None = None, band: str = "alpha") -> Axes:
    """Power in a frequency band over a 2-D grid (or against the parameter of a 1-D sweep)."""
    plt = _plt()
    da = _need(ds, f"{output}_power_{band}", f"add the 'bands' reduction (with a {band!r} band).")
    if len([d for d in da.dims if d != "init"]) == 2:
        return _map2d(ds, da.name, ax, "magma", f"{band} power of {output}", label(da))
    x = _axis_coord(ds, [d for d in da.dims if d != "init"])
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    ax.semilogy(x.values, da.values if "init" not in da.dims else da.isel(init=0).values, ".-", ms=3)
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(da))
    ax.set_title(f"{band} power of {output}")
    return ax


def spectrum(ds: xr.Dataset, output: str, ax: Axes | None = None) -> Axes:
    """Power spectra: a log-power image over a 1-D sweep (or lines for a few points)."""
    plt = _plt()
    if f"{output}_psd" in ds:
        P = ds[f"{output}_psd"]
    elif output in ds:

        P = psd(ds[output]).compute()
    else:
        raise SpecError(f"the dataset has neither '{output}_psd' nor the {output!r} series.")
    dims = [d for d in P.dims if d != "frequency"]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    f = P["frequency"]
    if len(dims) == 1:
        x = _axis_coord(ds, dims)
        logp = np.log10(np.maximum(P.transpose(dims[0], "frequency").values, 1e-300))
        top = np.nanmax(logp)
        m = ax.pcolormesh(x.values, f.values, logp.T, vmin=top - 8, vmax=top, shading="nearest", cmap="magma")
        cb = plt.colorbar(m, ax=ax)
        cb.set_label(f"log10 {label(P)}")
        ax.set_xlabel(label(x))
        ax.set_ylabel(label(f))
    else:
        flat = P.stack(p=dims).transpose("p", "frequency")
        for row in flat.values[:: max(1, flat.shape[0] // 8)]:
            ax.semilogy(f.values, row, lw=0.8)
        ax.set_xlabel(label(f))
        ax.set_ylabel(label(P))
    ax.set_title(f"power spectrum of {output}")
    return ax


#: (kind, marker, colour) of the special points in the bifurcation figure
SPECIAL_MARKERS = (("fold", "s", "C2"), ("hopf", "o", "C1"), ("fold_cycle", "D", "C3"),
                   ("period_doubling", "v", "C4"), ("torus", "*", "C5"), ("homoclinic", "X", "C6"))


def _cycle_envelopes(ax: Axes, cyc: xr.Dataset, var: str) -> None:
    """Max and min of ``var`` along every cycle branch: stable solid, unstable dashed."""
    for i in range(cyc.sizes["branch"]):
        p = cyc["parameter"].isel(branch=i).values
        ok = ~np.isnan(p)
        st = cyc["stable"].isel(branch=i).values[ok]
        for j, which in enumerate(("max", "min")):
            y = cyc[f"{var}_{which}"].isel(branch=i).values[ok]
            for stable, style in ((True, "-"), (False, "--")):
                keep = (st == stable) | np.r_[False, st[:-1] == stable] | np.r_[st[1:] == stable, False]
                lab = f"cycles ({'stable' if stable else 'unstable'}, max/min)" if i == 0 and j == 0 else None
                ax.plot(p[ok], np.where(keep, y, np.nan), style, color="C0", lw=1.2, label=lab)


def overlay_loci(ax: Axes, loci: xr.Dataset, ds: xr.Dataset) -> Axes:
    """Two-parameter loci (:func:`sweeps.loci.two_parameter_loci`) over a 2-D map of ``ds``:
    each kind of special point as a curve of markers, placed by matching the loci's two
    parameters to the map's coordinates (their ``path`` attributes or names)."""
    par, second = loci.attrs["parameter"], loci.attrs["second"]

    def dim_of(path: str) -> str | None:
        for d in ds.dims:
            if d in ds.coords and (ds[d].attrs.get("path") == path or d == path):
                return str(d)
        return None

    dp, d2 = dim_of(par), dim_of(second)
    if dp is None or d2 is None:
        raise SpecError(f"the loci over ({par!r}, {second!r}) do not match the map's dims {list(ds.dims)}.")
    dims = [d for d in ds.dims if d in (dp, d2)]
    first_is_y = dims and dims[0] == dp  # _map2d draws the first dim on the y axis
    sdim = next(iter(loci.kind.dims))
    sv = np.broadcast_to(loci[sdim].values[:, None], loci.value.shape)
    meanings = str(loci.kind.attrs.get("flag_meanings", "")).split()
    codes = list(loci.kind.attrs.get("flag_values", []))
    style = {kind: (marker, color) for kind, marker, color in SPECIAL_MARKERS}
    for code, kind in zip(codes, meanings):
        if kind == "none" or kind not in style:
            continue
        sel = loci.kind.values == code
        if not sel.any():
            continue
        marker, color = style[kind]
        x, y = (sv[sel], loci.value.values[sel]) if first_is_y else (loci.value.values[sel], sv[sel])
        ax.plot(x, y, marker, color=color, mec="k", mew=0.5, ms=5, ls="none", label=kind)
    ax.legend(loc="best", fontsize=8)
    return ax


def bifurcation_figure(cont: Continuation, ds: xr.Dataset | None, output: str, branch_var: str | None = None,
                       ax: Axes | None = None) -> Axes:
    """Continuation curves (stable solid, unstable dashed) with special points, over the
    orbit-diagram extrema of a sweep along the same parameter; with cycles, the envelopes
    (max and min of the output) of every cycle branch, stable solid, unstable dashed."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5))
    if ds is not None:
        orbit_diagram(ds, output, ax=ax)
    b = cont.branch
    var = branch_var or output
    if var not in b:
        raise SpecError(f"the continuation has no output {var!r}; pass outputs={{{var!r}: path}}.")
    for i in range(b.sizes["branch"]):
        p = b["parameter"].isel(branch=i).values
        y = b[var].isel(branch=i).values
        st = b["stable"].isel(branch=i).values
        ok = ~np.isnan(p)
        p, y, st = p[ok], y[ok], st[ok]
        for stable, style in ((True, "-"), (False, "--")):
            # a segment keeps its neighbour's end point so the curve has no gaps
            keep = (st == stable) | np.r_[False, st[:-1] == stable] | np.r_[st[1:] == stable, False]
            yy = np.where(keep, y, np.nan)
            ax.plot(p, yy, style, color="k", lw=1.2, label=("stable" if stable else "unstable") if i == 0 else None)
    cyc = cont.cycles
    if cyc is not None and f"{var}_max" in cyc:
        _cycle_envelopes(ax, cyc, var)
    spt = cont.special_points
    for kind, marker, color in SPECIAL_MARKERS:
        sel = spt[spt.kind == kind]
        if len(sel):
            ax.plot(sel.value, sel[var], marker, color=color, ms=6, ls="none", label=kind)
    ax.set_xlabel(label(b["parameter"]))
    if ds is None:
        ax.set_ylabel(label(b[var]))
    ax.set_title(f"bifurcation diagram of {output}")
    ax.legend(loc="best", fontsize=8)
    return ax


def fc_fit_map(ds: xr.Dataset, output: str, ax: Axes | None = None) -> Axes:
    """The fit of simulated to empirical FC (``fc_fit_r``) over the first two parameter
    dimensions; further dimensions are reduced to their best fit."""
    da = _need(ds, "fc_fit_r", "add the 'fc_fit' reduction to keep.reductions.")
    dims = [d for d in da.dims if d != "init"]
    if len(dims) < 2:
        raise SpecError(f"an FC fit map needs two parameter dimensions; fc_fit_r has {list(da.dims)}.")
    rest = dims[2:]
    best = da.max(dim=rest) if rest else da
    if "init" in best.dims:
        best = best.max("init")
    best = best.transpose(*dims[:2])
    best.attrs = dict(da.attrs)
    title = "fit to empirical FC (r)" + (f", best over {', '.join(map(str, rest))}" if rest else "")
    return _map2d(xr.Dataset({"fc_fit_r": best}, coords={d: ds[d] for d in dims[:2]}), "fc_fit_r", ax, "viridis",
                  title, "correlation of simulated and empirical FC")


def fc_comparison(ds: xr.Dataset, output: str, empirical: np.ndarray) -> Axes:
    """The simulated FC of the best-fitting point (the BOLD FC when stored, else the FC of
    the output) beside the empirical FC; returns the first of the two axes."""
    plt = _plt()
    r = _need(ds, "fc_fit_r", "add the 'fc_fit' reduction to keep.reductions.")
    var = f"{output}_bold_fc" if f"{output}_bold_fc" in ds else f"{output}_fc"
    sim = _need(ds, var, "add the 'bold_fc' or 'fc' reduction to keep.reductions.")
    vals = np.asarray(r.values, dtype=float)
    if not np.isfinite(vals).any():
        raise SpecError("no point has a finite fc_fit_r (none computed yet, or every point diverged).")
    where = dict(zip(r.dims, np.unravel_index(int(np.nanargmax(vals)), vals.shape)))
    best = sim.isel(where).values
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, mat, title in ((axes[0], best, f"simulated ({var}) at " + ", ".join(
            f"{d}={float(ds[d][i]) if d in ds.coords and ds[d].ndim else i:.3g}" for d, i in where.items())
            + f"\nr = {float(np.nanmax(vals)):.3f}"), (axes[1], empirical, "empirical FC")):
        # each matrix on its own scale (2nd percentile of the off-diagonal to 1): simulated
        # BOLD FC often sits near 1 everywhere, and its structure is what is compared
        off = np.asarray(mat, dtype=float)[~np.eye(len(mat), dtype=bool)]
        lo = float(np.nanpercentile(off, 2)) if np.isfinite(off).any() else -1.0
        m = ax.imshow(mat, vmin=min(lo, 0.999), vmax=1, cmap="viridis", interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("region")
        ax.set_ylabel("region")
        fig.colorbar(m, ax=ax, shrink=0.8, label="correlation")
    return cast("Axes", axes[0])


def draw(ds: xr.Dataset, kind: str, output: str, options: Mapping[str, object]) -> Axes:
    """One figure of a stored sweep (``options``: the spec's ``keep.options``, for the
    empirical FC of the ``fc`` figure)."""
    if kind == "fc":
        emp = dict(options.get("fc_fit") or {}).get("empirical")  # type: ignore[call-overload]
        if emp is None:
            raise SpecError("the fc figure needs keep.options.fc_fit.empirical (the FC it was fitted to).")
        return fc_comparison(ds, output, load_fc(emp))
    fn = {"orbit": orbit_diagram, "regime": regime_map, "frequency": frequency_map, "spectrum": spectrum,
          "power": power_map, "fc_fit": fc_fit_map}[kind]
    return fn(ds, output)


def plot_store(store: str, kind: str, output: str | None, path: str) -> str:
    """Draw one figure kind of a stored sweep to a PNG file."""
    plt = _plt()
    if kind not in KINDS:
        raise SpecError(f"unknown plot kind {kind!r}; choose one of {', '.join(KINDS)}.")
    ds = xr.open_zarr(store)
    if is_adaptive(ds):  # an adaptive sweep is drawn on its finest grid
        ds = rasterize(ds)
    if output is None:
        output = read_meta(store).spec.simulation.outputs[0][0]
    ax = draw(ds, kind, output, read_meta(store).spec.keep.options_dict)
    fig = cast("Figure", ax.figure)  # a figure of its own (plt.subplots), not a subfigure
    if kind != "fc":  # its colorbar spans both axes
        fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
