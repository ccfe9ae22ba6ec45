"""Workflow files: a sweep spec plus the analysis to run and the plots to make."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from .errors import SpecError
from .spec import SweepSpec

__all__ = ["Workflow"]


@dataclass(frozen=True)
class Workflow:
    """A sweep and what to do with its results."""

    spec: SweepSpec
    source: str = ""
    outputs_written: list = field(default_factory=list, compare=False)

    @classmethod
    def from_yaml(cls, path: str) -> "Workflow":
        p = Path(path)
        if not p.is_file():
            raise SpecError(f"workflow file {path!r} does not exist.")
        try:
            d = yaml.safe_load(p.read_text())
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}" if mark else ""
            raise SpecError(f"YAML syntax error in workflow {path!r}{at}: {getattr(exc, 'problem', exc)}.") from None
        if not isinstance(d, dict):
            raise SpecError(f"workflow {path!r} must hold a mapping (name, model, axes, simulation, storage, ...).")
        for section in ("analysis", "plots"):
            if d.get(section):
                raise SpecError(f"workflow {path!r}: the {section!r} section is not supported yet.")
        spec = SweepSpec.from_dict(d)
        spec.circuit()  # validate every path against the model now
        return cls(spec, str(p))

    def with_store(self, store: str) -> "Workflow":
        return replace(self, spec=self.spec.with_store(store), outputs_written=[])

    def run(self, client=None, progress: bool = True) -> str:
        from .runner import run_sweep

        return run_sweep(self.spec, client=client, progress=progress)
