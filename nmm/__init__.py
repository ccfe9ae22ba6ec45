"""nmm: neural mass models in PyRates' template format, compiled to numba batch kernels.

Load a circuit and run it as in PyRates::

    from nmm import CircuitTemplate
    jrc = CircuitTemplate.from_yaml("model_templates.neural_mass_models.jansenrit.JRC")
    df = jrc.run(simulation_time=2.0, step_size=1e-4, sampling_step_size=1e-3,
                 outputs={"V_pce": "pc/rpo_e_in/v", "V_pci": "pc/rpo_i/v"}, solver="rk4")

or simulate many parameter points at once with :func:`simulate`.
"""

from . import connectomes
from .circuit import CircuitTemplate, circuit_from_yaml
from .codegen import CompiledModel, compile_model
from .continuation import Continuation, continuation, find_equilibrium
from .cycles import CycleOptions
from .engine import BatchResult, RunPlan, Status, TimeGrid, integrate, make_plan, time_grid
from .errors import ConnectomeError, EquationError, NMMError, ParameterError, TemplateError
from .loader import load_template
from .model import Model, build_model
from .network import Network
from .simulate import simulate
from .solvers import SOLVERS

__version__ = "0.1.0"

__all__ = [
    "CircuitTemplate",
    "circuit_from_yaml",
    "Network",
    "connectomes",

    "ConnectomeError",
    "simulate",
    "continuation",
    "Continuation",
    "CycleOptions",
    "find_equilibrium",
    "make_plan",
    "integrate",
    "RunPlan",
    "BatchResult",
    "Status",
    "TimeGrid",
    "time_grid",
    "load_template",
    "build_model",
    "compile_model",
    "CompiledModel",
    "Model",
    "SOLVERS",
    "NMMError",
    "TemplateError",
    "EquationError",
    "ParameterError",
    "__version__",
]
