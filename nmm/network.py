"""Whole-brain networks: copies of one unit coupled through a connectome.

::

    net = nmm.Network.from_connectome("nmm.templates.jansenrit.JRC", "nmm.connectomes.gw80",
                                      coupling={"source": "pc/pro/m", "target": "pc/rpo_e_in/m_in"},
                                      speed=4.0)
    ds = net.simulate({"G": np.logspace(-1, 1, 8)}, simulation_time=2.0, step_size=1e-4)
    # dims (point, time, region); ds.region holds the region names

A façade like :class:`~nmm.circuit.CircuitTemplate`: ``run`` (a DataFrame with
(output, region) columns) and ``simulate`` (an xarray Dataset) make a plan with
:func:`~nmm.engine.make_network_plan` and integrate it with the network kernel, whose
compile time does not depend on the number of regions (:mod:`nmm.netcodegen`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .circuit import CircuitTemplate, as_circuit, check_run_choices, run_options
from .connectomes import Connectome, load_connectome
from .engine import BatchResult, RunPlan, integrate, make_network_plan
from .errors import NMMError, ParameterError, TemplateError
from .netmodel import NETWORK_PARAMS, NetworkModel, network_model
from .results import to_dataframe, to_dataset
from .types import ArrayLike, InputSeries, NoiseSpec, PathValues

__all__ = ["Network"]


class Network:
    """A network of one unit per region, coupled through a connectome.

    Build it with :meth:`from_connectome`. ``G`` (global coupling) and ``speed``
    (conduction speed, m/s) are parameters like the unit's; unit paths set every region,
    ``<region>/<path>`` one region (:mod:`nmm.netmodel`).

    Parameters
    ----------
    model : NetworkModel
    unit : CircuitTemplate
        The unit (kept for its name, time unit and units).
    connectome : Connectome
    """

    def __init__(self, model: NetworkModel, unit: CircuitTemplate, connectome: Connectome) -> None:
        self._model = model
        self.unit = unit
        self.connectome = connectome
        self._values: dict[str, float] = {}

    @classmethod
    def from_connectome(cls, unit: CircuitTemplate | str, connectome: Connectome | str | Mapping[str, str], *,
                        coupling: Mapping[str, str] | None = None, speed: float | None = None, G: float = 1.0,
                        delays: ArrayLike | None = None, name: str | None = None) -> "Network":
        """A network of ``unit`` on every region of ``connectome``.

        Parameters
        ----------
        unit : CircuitTemplate or str
            Any node or circuit template, e.g. ``'nmm.templates.jansenrit.JRC'``.
        connectome : Connectome, str or mapping
            A shipped connectome (``'nmm.connectomes.gw80'``), a path (``.npz``, a TVB
            connectivity ``.zip`` or folder) or ``{weights: file, lengths: file}``
            (:func:`nmm.connectomes.load_connectome`).
        coupling : mapping, optional
            ``{'source': path, 'target': input path}``: the unit variable each region sends
            and the input it feeds in the regions it projects to; default the Jansen-Rit
            pair ``pc/pro/m`` -> ``pc/rpo_e_in/m_in``.
        speed : float, optional
            Conduction speed (m/s): delays are the tract lengths over it. None: no delays
            (or the explicit ``delays``).
        G : float, default: 1.0
            Global coupling: every weight is multiplied by it.
        delays : array (N, N), optional
            Delays in the unit's time units instead of lengths and a speed.
        name : str, optional

        Raises
        ------
        TemplateError, ConnectomeError
            For a bad coupling path, speed or connectome.
        """
        circuit = as_circuit(unit)
        conn = load_connectome(connectome)
        c = dict(coupling or {"source": "pc/pro/m", "target": "pc/rpo_e_in/m_in"})
        extra = sorted(set(c) - {"source", "target"})
        if extra or "source" not in c or "target" not in c:
            raise TemplateError(f"coupling must be {{source: <unit path>, target: <unit input path>}}, got {c!r}.")
        if delays is not None and speed is not None:
            raise TemplateError("give either delays (time units) or a speed (delays = tract lengths / speed), "
                                "not both.")
        if speed is not None and conn.lengths is None:
            raise TemplateError(f"speed = {speed!r} needs tract lengths, but connectome {conn.name!r} has none; "
                                "give delays instead, or a connectome with lengths.")
        lengths = conn.lengths if speed is not None else (None if delays is None else np.asarray(delays, float))
        model = network_model(circuit.definition, conn.weights, lengths, conn.labels,
                              source=str(c["source"]), target=str(c["target"]), speed=speed, G=G,
                              time_unit=circuit.time_unit, name=name or f"{circuit.name}@{conn.name}")
        net = cls(model, circuit, conn)
        if circuit._values:  # the unit's own changed values apply to every region
            net.update_var(node_vars=dict(circuit._values))
        return net

    # model ----------------------------------------------------------------------
    @property
    def model(self) -> NetworkModel:
        """The network with its current values."""
        vals = dict(self._values)
        G, speed = vals.pop("G", None), vals.pop("speed", None)
        return self._model.with_values(G, speed, tuple(vals.items()))

    @property
    def name(self) -> str:
        return self._model.name

    @property
    def labels(self) -> tuple[str, ...]:
        """Region names."""
        return self._model.labels

    @property
    def time_unit(self) -> str:
        return self.unit.time_unit

    @property
    def parameters(self) -> dict[str, float]:
        """Every parameter shared by the regions (unit paths), ``G`` and ``speed``, with its value."""
        m = self.model
        out = dict(zip(m.params, m.param_values))
        if not m.has_speed:
            out.pop("speed")
        out.update({p: v for p, v in m.overrides if p in out})
        return out

    def update_var(self, node_vars: Mapping[str, float] | None = None,
                   edge_vars: Sequence[object] | None = None) -> "Network":
        """Change values in place: ``G``, ``speed``, a unit path (every region) or
        ``<region>/<path>`` (one region).

        Raises
        ------
        ParameterError
            For unknown paths or values that are not finite numbers.
        """
        if edge_vars:
            raise ParameterError("a network's edges are its connectome: change G (every weight) or speed (every "
                                 "delay), or build the network from other matrices.")
        m = self._model
        for path, value in (node_vars or {}).items():
            if path not in NETWORK_PARAMS:
                upath, _ = m.unit_path(path)
                if upath not in m.unit.params and upath not in m.unit.states:
                    raise ParameterError(f"{path!r} is not a parameter: it is computed from other variables.")
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise ParameterError(f"value of {path!r} must be a number, got {value!r}.") from None
            if not np.isfinite(v):
                raise ParameterError(f"value of {path!r} is {value!r}; it must be finite.")
            if path == "speed" and (not m.has_speed or v <= 0):
                raise ParameterError(f"speed = {v!r}: " + ("it must be positive (m/s)." if m.has_speed else
                                                            "this network has no tract lengths to divide."))
            self._values[path] = v
        return self

    # simulation -----------------------------------------------------------------
    def simulate(self, params: PathValues | None = None, *, simulation_time: float, step_size: float,
                 sampling_step_size: float | None = None, outputs: Mapping[str, str] | None = None,
                 solver: str = "euler", cutoff: float = 0.0, float_precision: str = "float64",
                 keep_series: bool = True, summaries: bool = False, backend: str | None = None,
                 inputs: InputSeries | None = None, noise: NoiseSpec | None = None, seed: int = 0,
                 point_ids: ArrayLike | None = None, **solver_kwargs: Any) -> xr.Dataset:
        """:func:`nmm.simulate` on this network: dims ``('point', 'time', 'region')``."""
        plan, result = self._integrate(
            params, backend, simulation_time=simulation_time, step_size=step_size,
            sampling_step_size=sampling_step_size, cutoff=cutoff, outputs=outputs, solver=solver,
            float_precision=float_precision, keep_series=keep_series, inputs=inputs, noise=noise, seed=seed,
            point_ids=point_ids, solver_options=solver_kwargs)
        assert plan.network is not None
        model = self.model
        return to_dataset(result, model.unit, time_unit=self.time_unit, swept=plan.network.values.swept,
                          summaries=summaries, unit_of=model.unit_of, attrs={
                              "network": self.name, "connectome": self.connectome.name, "solver": plan.solver.name,
                              "step_size": plan.grid.dt, "sampling_step_size": plan.grid.dts,
                              "simulation_time": float(simulation_time), "cutoff": float(cutoff or 0.0),
                              "float_precision": plan.precision.value, "seed": int(seed)})

    def run(self, simulation_time: float, step_size: float, inputs: InputSeries | None = None,
            outputs: Mapping[str, str] | None = None, sampling_step_size: float | None = None,
            cutoff: float = 0.0, solver: str = "euler", backend: str | None = None,
            float_precision: str = "float64", **kwargs: Any) -> pd.DataFrame:
        """Simulate once (PyRates' ``run``): a DataFrame indexed by time with (output,
        region) columns. ``noise`` and ``seed`` may be given as keywords."""
        noise, seed = run_options(kwargs)
        _, result = self._integrate(None, backend, simulation_time=simulation_time, step_size=step_size,
                                    sampling_step_size=sampling_step_size, cutoff=cutoff, outputs=outputs,
                                    solver=solver, float_precision=float_precision, inputs=inputs, noise=noise,
                                    seed=seed, solver_options=kwargs)
        return to_dataframe(result)

    def _integrate(self, params: PathValues | None, backend: str | None, *, solver: str, float_precision: str,
                   **plan_kwargs: Any) -> tuple[RunPlan, BatchResult]:
        check_run_choices(solver, float_precision, backend)
        plan = make_network_plan(self.model, params, solver=solver, float_precision=float_precision, **plan_kwargs)
        return plan, integrate(None, plan)

    def __repr__(self) -> str:
        return f"Network({self.name!r}, {self._model.n_regions} regions, {self._model.n_edges} edges)"


def as_simulable(template: "CircuitTemplate | Network | str") -> "CircuitTemplate | Network":
    """A network or circuit as it is, or the circuit a template reference names."""
    if isinstance(template, Network):
        return template
    if isinstance(template, (CircuitTemplate, str)):
        return as_circuit(template)
    raise NMMError(f"expected a CircuitTemplate, a Network or a template reference, got {type(template).__name__}.")
