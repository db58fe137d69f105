#!/usr/bin/env python3
"""Self-test of the NumPy reference chain (benches/numpy_chain.py) against the
simulator's truth (tests/py/make_recording.py) and against theory.

    python -m pytest tests/py/test_numpy_chain.py     or     python tests/py/test_numpy_chain.py
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MAKE = os.path.join(HERE, "make_recording.py")
CHAIN = os.path.join(ROOT, "benches", "numpy_chain.py")

_spec = importlib.util.spec_from_file_location("numpy_chain", CHAIN)
nc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nc)

TARGETS = ["4000,25,0", "6123.4,-60,-3", "9000,0,5", "12345.6,140,-6", "15000,-300,2"]


def make(tmp, name, *args):
    base = os.path.join(tmp, name)
    subprocess.run([sys.executable, MAKE, base, *args], check=True, stdout=subprocess.DEVNULL)
    with open(base + ".truth.json") as f:
        return base + ".sigmf-meta", json.load(f)


def circ(a, b, P):
    d = (a - b) % P
    return min(d, P - d)


def check_truth(meta, truth, cfar, tol=0.25):
    plots, summary = nc.process(meta, cfar=cfar)
    P = truth["params"]["pulses_per_cpi"]
    assert summary["cpis"] == truth["params"]["cpis"]
    for t in truth["truth"]:
        cands = [p for p in plots if p["cpi"] == t["cpi"]]
        best = min(cands, key=lambda p: abs(p["range_bin"] - t["range_bin"]) + circ(p["doppler_bin"], t["doppler_bin"], P))
        dr = abs(best["range_bin"] - t["range_bin"])
        dd = circ(best["doppler_bin"], t["doppler_bin"], P)
        assert dr < tol and dd < tol, (cfar, t, best)
        # velocity and range in physical units agree to the same fraction of a bin
        lam = truth["params"]["lambda_m"]
        vbin = lam / (2 * P * truth["params"]["pri_s"])
        if dd == abs(best["doppler_bin"] - t["doppler_bin"]):
            assert abs(best["radial_velocity_mps"] - t["velocity_mps"]) < tol * vbin, (t, best)
        rbin = nc.C_MPS / (2 * truth["params"]["sample_rate_hz"])
        assert abs(best["range_m"] - t["range_m"]) < tol * rbin
        # SNR: within a few dB of (element SNR + MF + Doppler gain), less straddle losses
        assert t["expected_snr_db"] - 6.0 < best["snr_db"] < t["expected_snr_db"] + 3.0, (cfar, t, best)
    return plots, summary


def test_truth_cf32_non_power_of_two():
    with tempfile.TemporaryDirectory() as tmp:
        args = ["--cpis", "2", "--samples-per-pulse", "1000", "--pulses", "64", "--seed", "3"]
        for t in TARGETS:
            args += ["--target", t]
        meta, truth = make(tmp, "cf32", *args)
        for v in ("ca", "go", "so", "os"):
            _, s = check_truth(meta, truth, v)
            assert s["cells_tested"] == 2 * (1000 - 22) * 64


def test_truth_ci16_multichannel():
    with tempfile.TemporaryDirectory() as tmp:
        args = ["--cpis", "3", "--samples-per-pulse", "1024", "--pulses", "32", "--seed", "4",
                "--datatype", "ci16_le", "--channels", "delta_az,sum,delta_el"]
        for t in TARGETS:
            args += ["--target", t]
        meta, truth = make(tmp, "ci16", *args)
        plots, _ = check_truth(meta, truth, "ca")
        # beam pointing and CPI time come from the capture segments
        c1 = [p for p in plots if p["cpi"] == 1]
        assert c1 and all(abs(p["azimuth_deg"] - 30.5) < 1e-9 for p in c1)
        pri = truth["params"]["pri_s"]
        frac = float("0." + c1[0]["time_utc"][-10:-1])
        assert abs(frac - 32 * pri) < 1e-9


def test_alpha_check_values():
    assert abs(nc.cfar_alpha("ca", 1e-6, 24, 18) - 18.68) < 0.01
    assert abs(nc.cfar_alpha("ca", 1e-6, 16, 12) - 21.94) < 0.01
    assert abs(nc.cfar_alpha("ca", 1e-6, 32, 24) - 17.28) < 0.01
    assert abs(nc.pfa_os(6.857, 20, 15) - 1.0e-3) < 0.01e-3
    a = nc.cfar_alpha("os", 1e-3, 20, 15)
    assert abs(a - 6.857) < 0.01
    for v in ("go", "so"):
        a = nc.cfar_alpha(v, 1e-4, 24, 18)
        f = nc.pfa_go if v == "go" else nc.pfa_so
        assert abs(f(a, 12) / 1e-4 - 1) < 1e-9
    # GO + SO = 2 * (1 + beta)^-n for any alpha
    assert abs(nc.pfa_go(5.0, 12) + nc.pfa_so(5.0, 12) - 2 * (1 + 5.0 / 12) ** -12) < 1e-15


def test_cfar_pfa_on_iid_exponential_map():
    rng = np.random.default_rng(11)
    pfa = 1e-3
    pms = [rng.exponential(size=(4096, 128)).astype(np.float32) for _ in range(3)]
    for v in ("ca", "go", "so", "os"):
        c = nc.Cfar(v, pfa, 128)
        det = tested = 0
        noise_mean = []
        for pm in pms:
            d, noise, t = c.run(pm)
            det += int(d.sum())
            tested += t
            noise_mean.append(noise[c.edge(): -c.edge()].mean())
        rate = det / tested
        # ~1500 expected detections: 5 sigma is ~13 %
        assert abs(rate / pfa - 1) < 0.15, (v, rate)
        if v in ("ca", "os"):  # unbiased noise estimates for unit-mean noise
            assert abs(np.mean(noise_mean) - 1) < 0.01, (v, noise_mean)


def test_cfar_statistic_against_brute_force():
    rng = np.random.default_rng(12)
    R, P = 200, 32
    pm = rng.exponential(size=(R, P)).astype(np.float32)
    Tr, Gr, Td, Gd = 8, 3, 4, 2
    for v in ("ca", "go", "so", "os"):
        c = nc.Cfar(v, 1e-2, P, Tr, Gr, Td, Gd)
        det, noise, tested = c.run(pm)
        assert tested == (R - 2 * (Gr + Tr)) * P
        assert not det[: Gr + Tr].any() and not det[R - Gr - Tr:].any()
        for r in range(Gr + Tr, R - Gr - Tr):
            for d in range(P):
                lead = [pm[r - o, d] for o in range(Gr + 1, Gr + Tr + 1)] + \
                       [pm[r, (d - o) % P] for o in range(Gd + 1, Gd + Td + 1)]
                lag = [pm[r + o, d] for o in range(Gr + 1, Gr + Tr + 1)] + \
                      [pm[r, (d + o) % P] for o in range(Gd + 1, Gd + Td + 1)]
                allc = np.array(lead + lag, dtype=np.float64)
                if v == "ca":
                    st = allc.mean()
                elif v == "go":
                    st = max(np.mean(lead), np.mean(lag))
                elif v == "so":
                    st = min(np.mean(lead), np.mean(lag))
                else:
                    st = np.sort(allc)[c.k - 1]
                assert abs(noise[r, d] * c.noise_div - st) <= 1e-6 * st, (v, r, d)
                assert det[r, d] == (pm[r, d] > c.alpha * st)


def test_matched_filter_is_correlation():
    rng = np.random.default_rng(13)
    wf = {"type": "lfm", "bandwidth_hz": 4e6, "pulse_width_s": 3e-6}
    fs, P, N = 10e6, 8, 100
    x = (rng.standard_normal((P, N)) + 1j * rng.standard_normal((P, N))).astype(np.complex64)
    proc = nc.Processor(wf, fs, P, N, "hamming", "none", 1)
    s = nc.replica(wf, fs) * nc.range_window("hamming", 30)
    y = np.array([[np.sum(x[m, n:n + 30] * np.conj(s[: len(x[m, n:n + 30])])) for n in range(N)] for m in range(P)])
    z = np.fft.fftshift(np.fft.fft(y, axis=0), axes=0)
    ref = (np.abs(z) ** 2).T
    pm = proc.power_map(x)
    assert pm.dtype == np.float32 and pm.shape == (N, P)
    assert np.allclose(pm, ref, rtol=1e-4, atol=1e-3 * ref.max())


def test_windows_match_scipy():
    from scipy.signal import windows
    for n in (1, 2, 7, 64, 100, 101):
        assert np.allclose(nc.range_window("hamming", n), windows.hamming(n, sym=True), atol=1e-15)
        assert np.allclose(nc.range_window("hann", n), windows.hann(n, sym=True), atol=1e-15)
        assert np.allclose(nc.doppler_window("hann", n), windows.hann(n, sym=False), atol=1e-15)
        assert np.allclose(nc.doppler_window("hamming", n), windows.hamming(n, sym=False), atol=1e-15)


def test_grouping_wraps_doppler():
    R, P = 50, 16
    pm = np.ones((R, P), dtype=np.float32)
    det = np.zeros((R, P), dtype=bool)
    det[20, 0] = det[21, P - 1] = det[22, P - 1] = True  # one component across the seam
    pm[21, P - 1] = 9.0
    det[30, 5] = det[32, 5] = True  # two components (gap in range)
    pm[30, 5] = pm[32, 5] = 4.0  # tie-break irrelevant: single cells
    det[40, 3] = det[40, 4] = True
    pm[40, 3] = pm[40, 4] = 7.0  # tie: lowest Doppler wins
    g = sorted(nc.group(det, pm))
    assert g == [(21, P - 1, 3), (30, 5, 1), (32, 5, 1), (40, 3, 2)], g


def test_nan_cpi_rejected():
    with tempfile.TemporaryDirectory() as tmp:
        meta, truth = make(tmp, "nan", "--cpis", "3", "--samples-per-pulse", "256", "--pulses", "16",
                           "--target", "5000,10,10")
        raw = np.fromfile(meta.replace("-meta", "-data"), dtype=np.complex64)
        raw[16 * 256 + 77] = np.nan  # CPI 1
        raw.tofile(meta.replace("-meta", "-data"))
        plots, s = nc.process(meta)
        assert s["cpis"] == 3 and s["cpis_rejected"] == 1
        assert s["cells_tested"] == 2 * (256 - 22) * 16
        assert {p["cpi"] for p in plots} == {0, 2}


if __name__ == "__main__":
    failed = 0
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f)]
    for name, fn in tests:
        try:
            fn()
            print(f"ok   {name}")
        except Exception as e:  # noqa: BLE001
            failed += 1
            print(f"FAIL {name}: {e!r}")
    print(f"numpy-chain: {len(tests) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
