"""sweeps: parameter sweeps of nmm models as dask tasks, stored tile by tile in zarr.

::

    import sweeps
    spec = sweeps.SweepSpec.from_yaml("workflows/quickstart.yaml")
    sweeps.run_sweep(spec)                    # or run_sweep(spec, client=Client(...))
    ds = xr.open_zarr(spec.storage.store)
    sweeps.resume(spec.storage.store)         # after a crash: finishes what is missing
    grid = sweeps.rasterize(ds)               # an adaptive sweep on its finest grid
"""
from . import config  # noqa: F401  (registers nmm.yaml defaults with dask.config)
from .adaptive import rasterize
from .axes import Axis
from .errors import SpecError, StoreError, SweepFailed
from .plan import Tile, tile_shape, tiles
from .reductions import Reduction, TileResult, VarInfo
from .runner import resume, run_sweep, sweep_status
from .spec import DesignSpec, KeepSpec, ModelSpec, SimulationSpec, StorageSpec, SweepSpec
from .task import compute_tile, run_tile
from .workflow import Workflow, WorkflowResult
from .verify import verify

__all__ = [
    "SweepSpec", "ModelSpec", "SimulationSpec", "DesignSpec", "KeepSpec", "StorageSpec", "Axis",
    "Workflow", "WorkflowResult", "run_sweep", "resume", "sweep_status", "Tile", "tiles", "tile_shape", "compute_tile", "run_tile",
    "Reduction", "TileResult", "VarInfo", "SpecError", "StoreError", "SweepFailed", "verify", "rasterize",
]
