"""Type aliases shared by nmm's modules (as ``xarray.core.types``).

Annotations only: nothing here is checked at run time. Arrays are plain
``numpy.ndarray`` (kernels compute in float64 or float32, so the dtype is not part of
the annotation); what a user may pass where an array is expected is
``numpy.typing.ArrayLike``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeAlias

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["ArrayLike", "PathValues", "NoiseSpec", "InputSeries", "PointFunction", "OutputsFunction",
           "KernelFunction", "NetworkKernelFunction"]

#: values by variable path: a number (the same for every point) or a 1-D array (one
#: value per point); a state's path sets its initial value
PathValues: TypeAlias = Mapping[str, ArrayLike]
#: ``noise=``: a state path -> sigma (a number, one per point, or ``{'normal': sigma}``),
#: a parameter path -> ``{'uniform': [low, high]}``, ``{'normal': [mean, sd]}`` or
#: ``{'same_as': path}`` (validated by :func:`nmm.engine.plan_noise`)
NoiseSpec: TypeAlias = Mapping[str, object]
#: ``inputs=``: a parameter path -> a time series with one value per integration step
InputSeries: TypeAlias = Mapping[str, ArrayLike]
#: a compiled single-point function ``f(t, y, p)``: the right-hand side or a Jacobian
PointFunction: TypeAlias = Callable[[float, np.ndarray, np.ndarray], np.ndarray]
#: the compiled ``outputs(times, Y, p)``: outputs (n_outputs, K) of a (n_states, K) trajectory
OutputsFunction: TypeAlias = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
#: the compiled batch kernel (its arguments are described in :mod:`nmm.codegen`)
KernelFunction: TypeAlias = Callable[..., None]
#: the compiled network kernel (its arguments are described in :mod:`nmm.netcodegen`)
NetworkKernelFunction: TypeAlias = Callable[..., None]
