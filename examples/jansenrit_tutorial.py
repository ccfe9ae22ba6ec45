"""The PyRates Jansen-Rit tutorial with nmm: simulate, print the alpha frequency, plot V_pc.

Run: python examples/jansenrit_tutorial.py [-o jansenrit_vpc.png]
"""
from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.signal import welch  # noqa: E402

from nmm import CircuitTemplate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-o", "--output", default="jansenrit_vpc.png", help="PNG file to write")
    args = ap.parse_args()

    jrc = CircuitTemplate.from_yaml("model_templates.neural_mass_models.jansenrit.JRC")
    results = jrc.run(simulation_time=4.0, step_size=1e-4, sampling_step_size=1e-3,
                      outputs={"V_pce": "pc/rpo_e_in/v", "V_pci": "pc/rpo_i/v"},
                      backend="default", solver="rk4")
    v_pc = results["V_pce"] + results["V_pci"]
    f, p = welch(v_pc.loc[1.0:].values, fs=1e3, nperseg=1024, nfft=8192)
    print(f"Jansen-Rit at u = 220 Hz: alpha peak at {f[np.argmax(p)]:.2f} Hz")

    fig, ax = plt.subplots(figsize=(8, 3))
    ax.plot(v_pc.index, v_pc.values * 1e3, lw=0.8)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("V_pc (mV)")
    ax.set_title("Jansen-Rit circuit, pyramidal cell potential")
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
