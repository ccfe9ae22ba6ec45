"""Sweep axes: a parameter path and the values it takes."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nmm.validation import check_keys

from .errors import SpecError

__all__ = ["Axis", "axis_from_dict", "to_float"]

_FORMS = ("values", "linspace", "logspace", "range", "bounds")


def to_float(value: Any, what: str) -> float:
    """A finite float from a number or a numeric string (YAML reads ``1e-4`` as a string)."""
    if isinstance(value, bool):
        raise SpecError(f"{what} must be a number, got {value!r}.")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{what} must be a number, got {value!r}.") from None
    if not math.isfinite(v):
        raise SpecError(f"{what} must be finite, got {value!r}.")
    return v


def _count(value: Any, what: str) -> int:
    v = to_float(value, what)
    if v != int(v) or v < 1:
        raise SpecError(f"{what} must be a positive whole number, got {value!r}.")
    return int(v)


@dataclass(frozen=True)
class Axis:
    """One swept parameter.

    Attributes
    ----------
    path : str
        The parameter path, e.g. ``'pc/rpo_e_in/u'`` (a state's path sweeps its initial
        value; an edge weight is ``'source->target/weight'``).
    form : {'values', 'linspace', 'logspace', 'range', 'bounds'}
        How the values are given: an explicit list; ``linspace``/``logspace`` (start,
        stop, num; logspace is log-spaced between start and stop, as numpy.geomspace);
        ``range`` (start, stop, step; stop excluded); ``bounds`` (low, high) for
        random designs.
    args : tuple of float
    name : str
        The dimension (or coordinate) name in the dataset.
    scale : {'linear', 'log'}
        For ``bounds``: sample uniformly in the value or in its logarithm.
    targets : tuple of (str, float)
        Optional: the axis value times each factor is set on each target path, and
        ``path`` is only a label. The Jansen-Rit connectivity constant C, for example:
        ``{path: C, targets: {'pc/pro/m->ein/rpo_e/m_in/weight': 1.0,
        'ein/pro/m->pc/rpo_e_in/m_in/weight': 0.8, ...}}``.
    """

    path: str
    form: str
    args: tuple
    name: str = ""
    scale: str = "linear"
    targets: tuple = ()

    def __post_init__(self) -> None:
        where = f"axis {self.path!r}"
        if not isinstance(self.path, str) or not self.path:
            raise SpecError(f"every axis needs a 'path' (a parameter path such as 'pc/rpo_e_in/u'), got {self.path!r}.")
        if self.form not in _FORMS:
            raise SpecError(f"{where}: unknown form {self.form!r}; give one of {', '.join(_FORMS)}.")
        if not self.name:
            object.__setattr__(self, "name", default_name(self.path))
        _check_name(self.name, where)
        t = self.targets.items() if isinstance(self.targets, dict) else self.targets
        t = tuple((str(p), to_float(f, f"{where} factor of target {p!r}")) for p, f in t)
        if isinstance(self.targets, (dict, tuple, list)) and self.targets and not t:
            raise SpecError(f"{where}: targets is empty.")
        object.__setattr__(self, "targets", t)
        if self.scale not in ("linear", "log"):
            raise SpecError(f"{where}: scale must be 'linear' or 'log', got {self.scale!r}.")
        args = tuple(self.args)
        if self.form == "values":
            if len(args) == 0:
                raise SpecError(f"{where} has no values; give at least one, e.g. values: [100, 200].")
            args = tuple(to_float(a, f"{where} value") for a in args)
            if len(set(args)) != len(args):
                dup = next(a for a in args if args.count(a) > 1)
                raise SpecError(f"{where} repeats the value {dup!r}; values of an axis must be distinct.")
        elif self.form in ("linspace", "logspace"):
            if len(args) != 3:
                raise SpecError(f"{where}: {self.form} takes [start, stop, num], got {list(args)!r}.")
            a, b = to_float(args[0], f"{where} start"), to_float(args[1], f"{where} stop")
            n = _count(args[2], f"{where} num")
            if self.form == "logspace" and (a <= 0 or b <= 0):
                hint = (f" logspace takes the first and last values, as numpy.geomspace: for 10^{a:g} .. 10^{b:g} "
                        f"write logspace: [{10 ** a:g}, {10 ** b:g}, num].") if abs(a) < 300 and abs(b) < 300 else ""
                raise SpecError(f"{where}: logspace needs positive start and stop, got {a!r}, {b!r}.{hint}")
            if n > 1 and a == b:
                raise SpecError(f"{where}: start and stop are both {a!r}; {n} values would repeat.")
            if not math.isfinite(b - a):
                raise SpecError(f"{where}: {self.form} [{a}, {b}, {n}] has non-finite values (stop - start overflows).")
            args = (a, b, n)
        elif self.form == "range":
            if len(args) != 3:
                raise SpecError(f"{where}: range takes [start, stop, step], got {list(args)!r}.")
            a, b, s = (to_float(x, f"{where} range") for x in args)
            if s == 0 or (b - a) / s <= 0:
                raise SpecError(f"{where}: range [{a}, {b}, {s}] is empty; the step must go from start towards stop.")
            if not math.isfinite((b - a) / s):
                raise SpecError(f"{where}: range [{a}, {b}, {s}] has too many values; use a larger step.")
            args = (a, b, s)
        else:  # bounds
            if len(args) != 2:
                raise SpecError(f"{where}: bounds takes [low, high], got {list(args)!r}.")
            a, b = to_float(args[0], f"{where} low"), to_float(args[1], f"{where} high")
            if not a < b:
                raise SpecError(f"{where}: bounds [{a}, {b}] must have low < high.")
            if self.scale == "log" and a <= 0:
                raise SpecError(f"{where}: log-scaled bounds must be positive, got low={a}.")
            args = (a, b)
        object.__setattr__(self, "args", args)

    @property
    def values(self) -> np.ndarray:
        """The values of the axis (not defined for ``bounds``)."""
        if self.form == "values":
            return np.array(self.args, dtype=float)
        if self.form == "linspace":
            return np.linspace(self.args[0], self.args[1], int(self.args[2]))
        if self.form == "logspace":
            return np.geomspace(self.args[0], self.args[1], int(self.args[2]))
        if self.form == "range":
            return np.arange(*self.args, dtype=float)
        raise SpecError(f"axis {self.path!r} gives bounds, which only a random design can sample.")

    @property
    def size(self) -> int:
        """The number of values, without making them (an axis may declare 10**9 values)."""
        if self.form == "values":
            return len(self.args)
        if self.form in ("linspace", "logspace"):
            return int(self.args[2])
        if self.form == "range":
            a, b, s = self.args
            return int(math.ceil((b - a) / s))  # numpy.arange's length
        raise SpecError(f"axis {self.path!r} gives bounds, which only a random design can sample.")

    @property
    def paths(self) -> dict[str, float]:
        """Model paths this axis sets, with the factor applied to its value."""
        return dict(self.targets) if self.targets else {self.path: 1.0}

    def scale_unit(self, u: np.ndarray) -> np.ndarray:
        """Map samples in [0, 1) to the bounds."""
        lo, hi = self.args
        if self.scale == "log":
            return np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
        return lo + u * (hi - lo)

    def to_dict(self) -> dict:
        d: dict = {"path": self.path}
        if self.name != default_name(self.path):
            d["name"] = self.name
        if self.form in ("linspace", "logspace"):
            d[self.form] = [self.args[0], self.args[1], int(self.args[2])]
        else:
            d[self.form] = list(self.args)
        if self.scale != "linear":
            d["scale"] = self.scale
        if self.targets:
            d["targets"] = dict(self.targets)
        return d


def default_name(path: str) -> str:
    """``'pc/rpo_e_in/u'`` -> ``'pc.rpo_e_in.u'`` (zarr names cannot hold '/')."""
    return path.replace("/", ".")


def _check_name(name: str, where: str) -> None:
    if not isinstance(name, str) or not name or "/" in name or name in (".", "..") or name.startswith("__"):
        raise SpecError(
            f"{where}: name {name!r} cannot name a dataset dimension; use letters, digits, '_' and '.', "
            "e.g. name: u."
        )


def axis_from_dict(d: object) -> Axis:
    """Parse one axis entry of a sweep file."""
    if not isinstance(d, dict):
        raise SpecError(f"each axis must be a mapping with 'path' and one of {', '.join(_FORMS)}, got {d!r}.")
    check_keys(d, ("path", "name", "scale", "targets", *_FORMS), f"axis {d.get('path')!r}", error=SpecError)
    forms = [f for f in _FORMS if f in d]
    if len(forms) != 1:
        raise SpecError(
            f"axis {d.get('path')!r} must give exactly one of {', '.join(_FORMS)}; got {forms or 'none'}."
        )
    args = d[forms[0]]
    if not isinstance(args, (list, tuple)):
        raise SpecError(f"axis {d.get('path')!r}: {forms[0]} must be a list, got {args!r}.")
    targets = d.get("targets") or ()
    if targets and not isinstance(targets, dict):
        raise SpecError(f"axis {d.get('path')!r}: targets must map paths to factors, got {targets!r}.")
    # Axis checks the path and the targets itself
    return Axis(path=d.get("path"), form=forms[0], args=tuple(args), name=d.get("name") or "",  # type: ignore[arg-type]
                scale=d.get("scale", "linear"), targets=targets)  # type: ignore[arg-type]
