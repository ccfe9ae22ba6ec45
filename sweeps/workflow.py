"""Workflow files: a sweep spec plus the analysis to run and the plots to make.

::

    name: jansenrit_input_bifurcation
    model: {template: nmm.templates.jansenrit.JRC}
    axes: [{path: pc/rpo_e_in/u, name: u, linspace: [-50, 400, 226]}]
    simulation: {...}
    keep: {series: false, reductions: [mean, min, max, peak, orbit]}
    storage: {store: out/jr_bifurcation.zarr}
    analysis:
      continuation:                 # equilibria, folds and Hopf points along one parameter
        parameter: pc/rpo_e_in/u    # default: the first axis
        start: -50                  # default: the axis range
        stop: 400
        outputs: {V_pc: pc/pro/v}   # default: the sweep's outputs
        cycles: true                # limit cycles from every Hopf point (or options, see
                                    # nmm.cycles.CycleOptions); default false
      loci:                         # folds and Hopf points as a second parameter varies
        second: pc/rpo_e_in/h       # a parameter, or the name of an axis with targets (C)
        values: {linspace: [3e-3, 3.5e-3, 6]}
        cycles: false               # true: also folds of cycles (one cycle continuation per value)
    plots:
      - {kind: bifurcation, output: V_pc}            # file: <store>_bifurcation.png
      - {kind: frequency, output: V_pc, file: out/f.png}

Plot kinds: orbit, regime, frequency, spectrum, power (alpha-band power) from the store,
fc_fit (the fit to empirical FC over two axes) and fc (the best-fitting simulated FC
beside the empirical one) for networks, and bifurcation (the continuation over the orbit diagram). Outputs go next to the store unless ``file`` says.
"""
from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import xarray as xr

import nmm
from nmm.errors import did_you_mean
from nmm.model import Model
from nmm.netmodel import NetworkModel
from nmm.validation import check_file, check_keys
from nmm.yamlio import load_yaml_file

from . import plots as P
from .adaptive import rasterize
from .axes import axis_from_dict, to_float
from .errors import SpecError
from .loci import two_parameter_loci
from .runner import run_sweep
from .spec import SweepSpec

if TYPE_CHECKING:  # annotations only: the client is the caller's, matplotlib is imported to draw
    from distributed import Client
    from matplotlib.figure import Figure

__all__ = ["Workflow", "WorkflowResult"]

PLOT_KINDS = ("orbit", "regime", "frequency", "spectrum", "power", "bifurcation", "fc_fit", "fc")


def _keys(d: object, allowed: Iterable[str], where: str) -> None:
    check_keys(d, allowed, where, error=SpecError)


def _cycle_options(value: object, where: str) -> object:
    """A validated ``cycles`` entry in a hashable form: False, True or sorted (key, value) pairs."""
    if value is False or value is None:
        return False
    if value is True:
        return True
    if not isinstance(value, dict):
        raise SpecError(f"{where} must be true, false or a mapping of cycle options, got {value!r}; "
                        "e.g. cycles: {ntst: 60, switch_period_doubling: true}.")
    try:
        nmm.CycleOptions.from_value(value)
    except nmm.NMMError as exc:
        raise SpecError(f"{where}: {exc}") from None
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in value.items()))


def _cycles_kw(value: object) -> bool | dict[str, object]:
    """The ``cycles=`` argument of :func:`nmm.continuation` from :func:`_cycle_options`' form."""
    return dict(value) if isinstance(value, tuple) else bool(value)


@dataclass(frozen=True)
class WorkflowResult:
    """What :meth:`Workflow.execute` produced: the store and the files written beside it."""

    store: str
    files: tuple[str, ...] = ()


def cycles_for_netcdf(cycles: xr.Dataset) -> xr.Dataset:
    """``Continuation.cycles`` in types netCDF 3 holds: the complex ``floquet`` as
    ``floquet_real`` and ``floquet_imag``, ``stable`` as int8, the string coordinates as str.

    The workflow writes it only with at least one branch: scipy's netCDF 3 writer stores a
    variable over two empty dimensions in a file that its reader cannot open.
    """
    cyc = cycles.assign(floquet_real=cycles.floquet.real, floquet_imag=cycles.floquet.imag,
                        stable=cycles.stable.astype(np.int8)).drop_vars("floquet")
    for v in ("floquet_real", "floquet_imag"):
        cyc[v].attrs = {"units": "1", "long_name": f"{v.split('_')[1]} part of the Floquet multipliers"}
    cyc["stable"].attrs = dict(cycles.stable.attrs)
    cyc.coords["start"] = cyc.start.astype(str)
    cyc.coords["end"] = cyc.end.astype(str)
    return cyc


def _scale_options(d: dict, ratio: float, seconds: float) -> None:
    """Reduction options measured in samples or seconds, shrunk with a shorter simulation:
    a Welch segment no longer than the kept series, and the BOLD TR and discarded time
    scaled with it (whole sampling steps; ``seconds`` per time unit of the model), so that
    a scaled-down workflow still runs."""
    sim = d["simulation"]
    opts = (d.get("keep") or {}).get("options") or {}
    dts = float(sim.get("sampling_step_size") or sim["step_size"])
    n_keep = int((sim["simulation_time"] - sim.get("cutoff", 0.0)) / dts + 1e-9)
    spectral = opts.get("spectral")
    if isinstance(spectral, dict) and "nperseg" in spectral and float(spectral["nperseg"]) > n_keep // 2:
        spectral["nperseg"] = max(8, n_keep // 2)
        for k in ("noverlap", "nfft"):
            spectral.pop(k, None)
    bold = opts.get("bold")
    if isinstance(bold, dict):
        tr = float(bold.get("tr", 2.0)) * ratio
        bold["tr"] = max(1, round(tr / (dts * seconds))) * dts * seconds
        bold["discard"] = float(bold.get("discard", 0.0)) * ratio


@dataclass(frozen=True)
class Workflow:
    """A sweep and what to do with its results (validated on load)."""

    spec: SweepSpec
    continuation: tuple = ()  # sorted (key, value) pairs, or () for none
    loci: tuple = ()
    plots: tuple = ()         # ((kind, output, file or ''), ...)
    source: str = ""

    @classmethod
    def from_dict(cls, d: dict, source: str = "") -> "Workflow":
        spec = SweepSpec.from_dict(d)
        circuit = spec.circuit()  # every path checked against the model now
        model = circuit.model
        analysis = d.get("analysis") or {}
        _keys(analysis, ("continuation", "loci"), "analysis")
        cont = analysis.get("continuation")
        cont_t: tuple = ()
        outs = dict(spec.simulation.outputs)
        if cont is not None and isinstance(model, NetworkModel):
            raise SpecError("analysis.continuation follows the equilibria of one circuit; a network's are not "
                            "supported. Remove analysis.continuation, or continue the unit on its own.")
        if cont is not None and isinstance(model, Model):
            _keys(cont or {}, ("parameter", "start", "stop", "outputs", "params", "cycles"), "analysis.continuation")
            cont = dict(cont or {})
            first = spec.axes[0]
            par = cont.get("parameter", first.path)
            if par not in model.params:
                raise SpecError(f"analysis.continuation.parameter {par!r} is not a parameter."
                                + did_you_mean(par, model.params))
            vals = first.values if first.form != "bounds" else first.args
            start = to_float(cont.get("start", min(vals)), "analysis.continuation.start")
            stop = to_float(cont.get("stop", max(vals)), "analysis.continuation.stop")
            if start == stop:
                raise SpecError("analysis.continuation needs start != stop.")
            c_outs = dict(cont.get("outputs") or outs)
            for name, path in c_outs.items():
                if path not in model.exprs:
                    raise SpecError(f"analysis.continuation.outputs: unknown path {path!r}."
                                    + did_you_mean(path, model.exprs))
            params = dict(spec.model.params)
            params.update({k: to_float(v, f"analysis.continuation.params[{k!r}]")
                           for k, v in (cont.get("params") or {}).items()})
            cont_t = (("outputs", tuple(c_outs.items())), ("parameter", par), ("params", tuple(sorted(params.items()))),
                      ("start", start), ("stop", stop))
            cycles = _cycle_options(cont.get("cycles", False), "analysis.continuation.cycles")
            if cycles:
                cont_t = tuple(sorted(cont_t + (("cycles", cycles),)))
        loci = analysis.get("loci")
        loci_t: tuple = ()
        if loci is not None:
            if not cont_t:
                raise SpecError("analysis.loci needs analysis.continuation (the first parameter and its range).")
            _keys(loci, ("second", "values", "cycles"), "analysis.loci")
            second = loci.get("second")
            by_name = {a.name or a.path: a for a in spec.axes if a.targets}
            targets: tuple = ()
            if second in by_name:
                t = by_name[second].targets
                targets = tuple(sorted((t.items() if isinstance(t, dict) else t)))
            elif second not in model.params:
                raise SpecError(f"analysis.loci.second {second!r} is not a parameter nor an axis with targets."
                                + did_you_mean(str(second), [*model.params, *by_name]))
            v = loci.get("values")
            ax = axis_from_dict({"path": second, **(v if isinstance(v, dict) else {"values": v})})
            loci_t = (("second", second), ("values", tuple(float(x) for x in ax.values)))
            lc = _cycle_options(loci.get("cycles", False), "analysis.loci.cycles")
            if targets:
                loci_t += (("targets", targets),)
            if lc:
                loci_t += (("cycles", lc),)
        plots = []
        raw = d.get("plots") or []
        if not isinstance(raw, list):
            raise SpecError("plots must be a list of {kind: ..., output: ...} entries.")
        for i, p in enumerate(raw):
            _keys(p, ("kind", "output", "file"), f"plots[{i}]")
            kind = p.get("kind")
            if kind not in PLOT_KINDS:
                raise SpecError(f"plots[{i}].kind {kind!r} is unknown; choose one of {', '.join(PLOT_KINDS)}."
                                + did_you_mean(str(kind), PLOT_KINDS))
            out = p.get("output", next(iter(outs)))
            if out not in outs:
                raise SpecError(f"plots[{i}].output {out!r} is not an output of the sweep; outputs: {list(outs)}.")
            if kind == "bifurcation" and not cont_t:
                raise SpecError(f"plots[{i}]: a bifurcation plot needs analysis.continuation.")
            need = {"orbit": None, "regime": "orbit", "frequency": "peak", "spectrum": None,
                    "power": "bands", "fc_fit": "fc_fit", "fc": "fc_fit"}.get(kind)
            if need and need not in spec.keep.reductions:
                raise SpecError(f"plots[{i}] ({kind}) needs the {need!r} reduction in keep.reductions.")
            if kind in ("orbit", "bifurcation", "spectrum") and not spec.keep.series and \
                    ("orbit" if kind != "spectrum" else "psd") not in spec.keep.reductions:
                raise SpecError(f"plots[{i}] ({kind}) needs the series or the "
                                f"{'orbit' if kind != 'spectrum' else 'psd'!r} reduction.")
            if kind == "fc" and not {"fc", "bold_fc"} & set(spec.keep.reductions):
                raise SpecError(f"plots[{i}] (fc) needs the 'bold_fc' or 'fc' reduction in keep.reductions.")
            if kind == "fc_fit" and len([d for d in spec.dims if d != "init"]) < 2:
                raise SpecError(f"plots[{i}]: an FC fit map needs two axes; this sweep has dims {list(spec.dims)}.")
            n_axes = len(spec.axes) if spec.design.kind == "adaptive" else len([d for d in spec.dims if d != "init"])
            if kind == "regime" and n_axes != 2:
                raise SpecError(f"plots[{i}]: a regime map needs a 2-D grid; this sweep has dims {list(spec.dims)}.")
            plots.append((kind, out, str(p.get("file") or "")))
        return cls(spec, cont_t, loci_t, tuple(plots), source)

    @classmethod
    def from_yaml(cls, path: str) -> "Workflow":
        p = check_file(path, "workflow file", error=SpecError)
        d = load_yaml_file(p, what="workflow", error=SpecError)
        if not isinstance(d, dict):
            raise SpecError(f"workflow {path!r} must hold a mapping (name, model, axes, simulation, storage, ...).")
        return cls.from_dict(d, str(p))

    def with_store(self, store: str) -> "Workflow":
        return replace(self, spec=self.spec.with_store(store))

    def scaled(self, max_points_per_axis: int | None = None, simulation_time: float | None = None) -> "Workflow":
        """A smaller version: at most ``max_points_per_axis`` values per axis (evenly picked,
        ends included; an adaptive design's base grid, with at most 3 levels), a shorter
        simulation (the cutoff scaled with it)."""
        d = self.spec.to_dict()
        if max_points_per_axis:
            n = int(max_points_per_axis)
            for a in d["axes"]:
                for form in ("linspace", "logspace"):
                    if form in a:
                        a[form][2] = min(int(a[form][2]), n)
                for form in ("values",):
                    if form in a and len(a[form]) > n:
                        idx = np.unique(np.linspace(0, len(a[form]) - 1, n).round().astype(int))
                        a[form] = [a[form][i] for i in idx]
                if "range" in a:
                    vals = np.arange(*a.pop("range"))
                    idx = np.unique(np.linspace(0, len(vals) - 1, min(n, len(vals))).round().astype(int))
                    a["values"] = [float(vals[i]) for i in idx]
            if isinstance(d["design"], dict) and d["design"].get("kind") == "random":
                d["design"]["n"] = min(d["design"]["n"], n)
            if isinstance(d["design"], dict) and d["design"].get("kind") == "adaptive":
                # a small base and at most 3 levels: the finest grid stays small too
                d["design"]["base"] = [min(int(b), max(2, n)) for b in d["design"]["base"]]
                d["design"]["levels"] = min(int(d["design"]["levels"]), 3)
            d["storage"].pop("tile", None)
        if simulation_time:
            sim = d["simulation"]
            ratio = float(simulation_time) / sim["simulation_time"]
            sim["simulation_time"] = float(simulation_time)
            sim["cutoff"] = sim.get("cutoff", 0.0) * ratio
            _scale_options(d, ratio, {"s": 1.0, "ms": 1e-3}.get(self.spec.circuit().time_unit, 1.0))
        spec = SweepSpec.from_dict(d)
        return replace(self, spec=spec)

    def _out(self, suffix: str) -> str:
        store = self.spec.storage.store.rstrip("/")
        stem = store[:-5] if store.endswith(".zarr") else store
        return f"{stem}_{suffix}"

    def run(self, client: Client | None = None, progress: bool = True) -> str:
        """Run the sweep (or finish it), then the analysis, then the plots; the store path."""
        return self.execute(client, progress).store

    def execute(self, client: Client | None = None, progress: bool = True) -> WorkflowResult:
        """Run the sweep (or finish it), then the analysis, then the plots.

        Returns
        -------
        WorkflowResult
            The store and every file the analysis and the plots wrote.
        """
        store = run_sweep(self.spec, client=client, progress=progress)
        written: list[str] = []
        cont = None
        loci_ds = None
        if self.continuation:
            c = dict(self.continuation)
            circuit = self.spec.circuit()
            assert isinstance(circuit, nmm.CircuitTemplate)  # from_dict refuses continuation on networks
            cont = nmm.continuation(circuit, parameter=c["parameter"], start=c["start"], stop=c["stop"],
                                    params=dict(c["params"]), outputs=dict(c["outputs"]),
                                    cycles=_cycles_kw(c.get("cycles")))
            path = self._out("continuation.nc")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cont.branch.drop_vars([v for v in cont.branch if cont.branch[v].dtype == bool]).to_netcdf(path)
            csv = self._out("special_points.csv")
            cont.special_points.to_csv(csv, index=False)
            written.extend([path, csv])
            if cont.cycles is not None and cont.cycles.sizes["branch"]:
                path = self._out("cycles.nc")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    cycles_for_netcdf(cont.cycles).to_netcdf(path)
                written.append(path)
        if self.loci:
            c, lo = dict(self.continuation), dict(self.loci)
            path = self._out("loci.zarr")
            shutil.rmtree(path, ignore_errors=True)
            loci_ds = two_parameter_loci(self.spec.model.template, c["parameter"], c["start"], c["stop"],
                                         lo["second"], list(lo["values"]), params=dict(c["params"]), client=client,
                                         store=path, targets=dict(lo.get("targets", ())) or None,
                                         cycles=_cycles_kw(lo.get("cycles")))
            written.append(path)
        if self.plots:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            ds = xr.open_zarr(store)
            if self.spec.design.kind == "adaptive":  # drawn on its finest grid
                ds = rasterize(ds)
            for kind, output, file in self.plots:
                path = file or self._out(f"{kind}.png")
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                if kind == "bifurcation":
                    if cont is None:  # a Workflow made in Python: from_dict refuses this
                        raise SpecError(f"the bifurcation plot of {output!r} needs analysis.continuation; "
                                        "this workflow has none.")
                    ax = P.bifurcation_figure(cont, ds, output)
                else:
                    ax = P.draw(ds, kind, output, self.spec.keep.options_dict)
                    if kind == "regime" and loci_ds is not None:
                        P.overlay_loci(ax, loci_ds, ds)
                fig = cast("Figure", ax.figure)  # a figure of its own (plt.subplots), not a subfigure
                if kind != "fc":  # its colorbar spans both axes
                    fig.tight_layout()
                fig.savefig(path, dpi=120)
                plt.close(fig)
                written.append(path)
        return WorkflowResult(store, tuple(written))
