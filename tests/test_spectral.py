"""Welch spectra, spectral peaks and band powers (numpy and lazy xarray versions)."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import nmm
from nmm.analysis.spectral import (DEFAULT_BANDS, band_power, band_powers, peak_frequency, psd,
                                   spectral_peak, welch_psd)
from nmm.errors import NMMError

FS = 1000.0
T = np.arange(int(8 * FS)) / FS


def _sines(*components, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    x = sum(a * np.sin(2 * np.pi * f * T + ph) for f, a, ph in components)
    return x + noise * rng.standard_normal(T.size)


def test_peaks_of_two_sinusoids():
    x = _sines((7.3, 2.0, 0.0), (23.7, 0.5, 1.0))
    f, P = welch_psd(x, FS)
    assert f[1] == pytest.approx(0.25)  # default segment: 4 s of data
    f1, p1 = spectral_peak(f, P, fmin=5, fmax=15)
    f2, p2 = spectral_peak(f, P, fmin=15, fmax=40)
    assert abs(f1 - 7.3) < 0.05
    assert abs(f2 - 23.7) < 0.05
    # power ratio of the peaks follows the amplitudes (16:1) within the Hann scalloping
    assert 10 < p1 / p2 < 25


def test_band_powers_hold_half_amplitude_squared():
    x = _sines((10.2, 2.0, 0.3), (21.0, 0.5, 0.0))
    f, P = welch_psd(x, FS)
    bp = band_powers(f, P)
    assert list(bp) == list(DEFAULT_BANDS)
    assert bp["alpha"] == pytest.approx(2.0**2 / 2, rel=0.02)
    assert bp["beta"] == pytest.approx(0.5**2 / 2, rel=0.02)
    for band in ("delta", "theta", "gamma"):
        assert bp[band] < 1e-4


def test_band_powers_tile_to_total_power():
    x = _sines((10.2, 2.0, 0.3), noise=0.5)
    f, P = welch_psd(x, FS)
    edges = np.linspace(0.0, 500.1, 9)  # the last band holds the Nyquist bin
    bands = {f"b{i}": (lo, hi) for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:]))}
    total = sum(band_powers(f, P, bands).values())
    assert total == pytest.approx(np.sum(P) * (f[1] - f[0]))


def test_spectral_peak_vectorized_and_all_zero_is_nan():
    x = np.stack([_sines((7.3, 2.0, 0.0)), _sines((12.1, 1.0, 0.0)), np.zeros(T.size)])
    f, P = welch_psd(x.T, FS, axis=0)  # time first
    assert P.shape == (f.size, 3)
    fp, pp = spectral_peak(f, P, axis=0)
    assert fp.shape == (3,)
    assert abs(fp[0] - 7.3) < 0.05 and abs(fp[1] - 12.1) < 0.05
    assert np.isnan(fp[2]) and np.isnan(pp[2])
    fp1, _ = spectral_peak(f, P[:, 1])
    assert fp1 == fp[1]


def _dataarray(chunks=None):
    rows = np.stack([_sines((7.3, 2.0, 0.0), seed=1), _sines((23.7, 1.0, 0.5), seed=2),
                     _sines((10.2, 2.0, 0.3), seed=3), _sines((5.0, 1.0, 0.0), seed=4)])
    da = xr.DataArray(
        rows, dims=("point", "time"), name="v",
        coords={"point": ("point", np.arange(4), {"units": "1", "long_name": "point index"}),
                "u": ("point", [50.0, 100.0, 150.0, 200.0], {"units": "Hz", "long_name": "input"}),
                "time": ("time", T, {"units": "s", "long_name": "time"})},
        attrs={"units": "V", "long_name": "pc/pro/v"},
    )
    return da.chunk(chunks) if chunks else da


def test_psd_dask_is_lazy_and_equals_numpy():
    da = _dataarray({"point": 1, "time": 2000})
    P = psd(da)
    assert P.chunks is not None  # still lazy
    assert P.dims == ("point", "frequency")
    f, Pn = welch_psd(da.values, FS)
    np.testing.assert_array_equal(P["frequency"].values, f)
    assert P["frequency"].attrs["units"] == "Hz"
    assert P.attrs["units"] == "V^2/Hz" and "long_name" in P.attrs
    np.testing.assert_array_equal(P["u"].values, da["u"].values)  # other coordinates kept
    assert P["u"].attrs == da["u"].attrs
    pk = peak_frequency(P, fmin=2, fmax=40)
    bp = band_power(P)
    assert pk["peak_frequency"].chunks is not None and bp["power_alpha"].chunks is not None
    np.testing.assert_allclose(P.compute().values, Pn, rtol=1e-12, atol=0)
    fp, _ = spectral_peak(f, Pn, fmin=2, fmax=40)
    np.testing.assert_allclose(pk["peak_frequency"].compute().values, fp)
    assert pk["peak_frequency"].attrs["units"] == "Hz"
    assert pk["peak_power"].attrs["units"] == "V^2/Hz"
    assert bp["power_alpha"].attrs["units"] == "V^2"
    assert pk["u"].attrs["units"] == "Hz" and bp["u"].attrs["units"] == "Hz"
    np.testing.assert_allclose(bp["power_alpha"].values, band_powers(f, Pn)["alpha"])


def test_psd_frequency_units_follow_time_units():
    da = _dataarray()
    da = da.assign_coords(time=("time", T * 1e3, {"units": "ms"}))
    P = psd(da)
    assert P["frequency"].attrs["units"] == "1/ms"
    # fs = 1/ms: 4 time units would be 4 samples, so the default is the 1024-sample floor
    assert P["frequency"].values[1] == pytest.approx(1 / 1024)
    with pytest.raises(NMMError, match="default bands are in Hz"):
        band_power(P)


def test_psd_rejects_nonuniform_time():
    t = T.copy()
    t[100:] += 1e-4
    da = _dataarray().assign_coords(time=("time", t, {"units": "s"}))
    with pytest.raises(NMMError, match="not uniformly spaced .* index 99"):
        psd(da)


def test_errors_name_the_bad_value():
    da = _dataarray()
    with pytest.raises(NMMError, match="dimension 'samples' not in"):
        psd(da, dim="samples")
    with pytest.raises(NMMError, match="nperseg=9000 is longer than the series"):
        psd(da, nperseg=9000)
    with pytest.raises(NMMError, match="unknown Welch options"):
        psd(da, npserseg=100)
    P = psd(da)
    with pytest.raises(NMMError, match="band 'high' = .* above the highest frequency 500"):
        band_power(P, {"high": (400.0, 600.0)})
    with pytest.raises(NMMError, match="band 'thin' .* contains no frequency bin"):
        band_power(P, {"thin": (10.01, 10.02)})
    with pytest.raises(NMMError, match=r"no frequency in \[fmin=600"):
        peak_frequency(P, fmin=600)


def test_jansen_rit_alpha_peak():
    ds = nmm.simulate("nmm.templates.jansenrit.JRC", None, simulation_time=6.0, step_size=1e-4,
                      sampling_step_size=1e-3, solver="rk4", cutoff=1.0, outputs={"v": "pc/pro/v"})
    pk = peak_frequency(psd(ds["v"]))
    assert 10.5 <= float(pk["peak_frequency"].item()) <= 11.2
    bp = band_power(psd(ds["v"]))
    assert float(bp["power_alpha"].item()) > 0.9 * sum(float(v.item()) for v in bp.data_vars.values())
