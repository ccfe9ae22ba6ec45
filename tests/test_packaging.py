"""pyproject.toml and environment.yml list the same dependencies."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    pp = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_side = {_name(r): r.replace(" ", "") for r in pp["dependencies"]}
    for extra in ("test", "compat"):
        pip_side.update({_name(r): r.replace(" ", "") for r in pp["optional-dependencies"][extra]})
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_side = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            conda_side.update({_name(r): r.replace(" ", "") for r in dep["pip"]})
        elif _name(dep) not in ("python", "pip"):
            conda_side[_name(dep)] = dep.replace(" ", "")
    assert conda_side == pip_side


def test_templates_are_package_data():
    pp = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "templates/*.yaml" in pp["tool"]["setuptools"]["package-data"]["nmm"]
