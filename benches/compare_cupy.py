#!/usr/bin/env python3
"""The tews detection chain in CuPy/cuFFT (or NumPy), for the GPU comparison.

    python benches/compare_cupy.py [--xp cupy|numpy] [--tews target/release/tews]
        [--pulses 128] [--samples-per-pulse 4096] [--cpis 8] [--cfar ca|go|so|os]
        [--pfa 1e-6] [--iterations 50] [--workdir DIR]

In one command: simulates a recording (`tews simulate`), runs `tews run
--backend gpu` on it (its summary gives the CFAR multiplier and noise scale
the chain uses, so both make the same decisions), runs the same chain here
with the chosen array module on every CPI and checks that the detection count
matches tews's (exit status 1 when not), then times both on one CPI held on
the device: this chain (median µs per CPI, upload of the CPI and download of
the detections included) and `tews bench --backend gpu --json`, and prints
the ratio and one JSON line.

Chain (same as tews, written from its specification): per pulse
FFT_M(x) * conj(FFT_M(replica)) / M, IFFT, first N samples; Doppler window
across pulses, FFT, fftshift, |.|^2; cross-shaped CFAR (CA/GO/SO/OS, Doppler
wraps, rows whose range window leaves the map not tested).

`--xp numpy` runs the same code on the CPU (for the check without a GPU:
tests/gpu_cupy_script.rs). With NumPy the timing is not a GPU figure; as of
this commit the CuPy-vs-tews GPU comparison has NOT been measured (no GPU
was available when it was written).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import numpy_chain  # noqa: E402  (replica, windows, recording reader)


class Chain:
    """The detection chain on array module `xp` for one CPI shape."""

    def __init__(self, xp, rep, P, N, dwin, kind, alpha, noise_scale, Tr, Gr, Td, Gd, os_k):
        self.xp, self.P, self.N = xp, P, N
        L = len(rep)
        self.M = 1 << (N + L - 2).bit_length()
        h = np.zeros(self.M, complex)
        h[:L] = rep
        self.filt = xp.asarray((np.conj(np.fft.fft(h)) / self.M).astype(np.complex64))
        self.dwin = xp.asarray(dwin.astype(np.float32))[:, None]
        self.kind, self.alpha, self.noise_scale = kind, np.float32(alpha), np.float32(noise_scale)
        self.Tr, self.Gr, self.Td, self.Gd = Tr, Gr, Td, Gd
        self.n_ref = 2 * (Tr + Td)
        self.os_k = os_k if os_k else int(np.floor(0.75 * self.n_ref + 0.5))

    def power_map(self, x):
        """x: (P, N) complex64 on the device -> power[range, doppler] float32."""
        xp = self.xp
        spec = xp.fft.fft(x, n=self.M, axis=1) * self.filt
        y = xp.fft.ifft(spec, axis=1)[:, : self.N] * self.M  # numpy/cupy ifft has 1/M
        y = y.astype(xp.complex64) * self.dwin
        d = xp.fft.fftshift(xp.fft.fft(y, axis=0), axes=0)
        return (d.real**2 + d.imag**2).astype(xp.float32).T.copy()

    def detect(self, pm):
        """Boolean detections and the noise estimate over the tested rows."""
        xp = self.xp
        m = self.Tr + self.Gr
        R = pm.shape[0]
        rows = slice(m, R - m)
        cut = pm[rows]
        lead_r = [pm[m - self.Gr - i : R - m - self.Gr - i] for i in range(1, self.Tr + 1)]
        lag_r = [pm[m + self.Gr + i : R - m + self.Gr + i] for i in range(1, self.Tr + 1)]
        lead_d = [xp.roll(cut, self.Gd + i, axis=1) for i in range(1, self.Td + 1)]
        lag_d = [xp.roll(cut, -(self.Gd + i), axis=1) for i in range(1, self.Td + 1)]
        if self.kind == "os":
            cells = xp.stack(lead_r + lag_r + lead_d + lag_d)
            stat = xp.sort(cells, axis=0)[self.os_k - 1]
        else:
            lead = sum(lead_r[1:], lead_r[0]) + sum(lead_d[1:], lead_d[0])
            lag = sum(lag_r[1:], lag_r[0]) + sum(lag_d[1:], lag_d[0])
            half = np.float32(self.n_ref // 2)
            stat = {
                "ca": (lead + lag) / np.float32(self.n_ref),
                "go": xp.maximum(lead, lag) / half,
                "so": xp.minimum(lead, lag) / half,
            }[self.kind]
        det = cut > self.alpha * stat
        return det, stat / self.noise_scale

    def run(self, x_host):
        """Upload, process, download the detections (indices, power, noise)."""
        xp = self.xp
        pm = self.power_map(xp.asarray(x_host))
        det, noise = self.detect(pm)
        r, d = xp.nonzero(det)
        out = (r, d, pm[r + self.Tr + self.Gr, d], noise[r, d])
        return tuple(np.asarray(a.get() if hasattr(a, "get") else a) for a in out)


def sync(xp):
    if xp.__name__ == "cupy":
        xp.cuda.Device().synchronize()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xp", choices=["cupy", "numpy"], default="cupy")
    ap.add_argument("--tews", default=os.path.join(ROOT, "target", "release", "tews"))
    ap.add_argument("--tews-backend", default="gpu", help="tews backend for the check run")
    ap.add_argument("--pulses", type=int, default=128)
    ap.add_argument("--samples-per-pulse", type=int, default=4096)
    ap.add_argument("--cpis", type=int, default=8)
    ap.add_argument("--cfar", choices=["ca", "go", "so", "os"], default="os")
    ap.add_argument("--pfa", type=float, default=1e-6)
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--no-bench", action="store_true", help="only the detection check")
    ap.add_argument("--workdir")
    a = ap.parse_args(argv)
    xp = __import__(a.xp)
    work = a.workdir or tempfile.mkdtemp(prefix="tews-cupy-")
    P, N = a.pulses, a.samples_per_pulse
    scenario = os.path.join(work, "scenario.toml")
    with open(scenario, "w") as f:
        f.write(f"""num_cpis = {a.cpis}
start_time = "2025-06-01T12:00:00Z"
noise_power = 1.0
[radar]
sample_rate_hz = 10e6
carrier_hz = 1.3e9
pulses_per_cpi = {P}
samples_per_pulse = {N}
pri_s = {max(250e-6, 2 * N / 10e6 + 100e-6)}
window_delay_s = 60e-6
waveform = {{ type = "lfm", bandwidth_hz = 8e6, pulse_width_s = 10e-6 }}
[[targets]]
range_m = {3e8 * (60e-6 + N / 4 / 10e6) / 2}
range_rate_mps = -180.0
snr_db = 0.0
[[targets]]
range_m = {3e8 * (60e-6 + N / 2 / 10e6) / 2}
range_rate_mps = 250.0
snr_db = -5.0
""")
    rec_prefix = os.path.join(work, "rec")
    subprocess.run([a.tews, "-q", "simulate", "--scenario", scenario, "--out", rec_prefix], check=True)
    meta = rec_prefix + ".sigmf-meta"
    summary_path = os.path.join(work, "summary.json")
    subprocess.run(
        [a.tews, "-q", "run", "--input", meta, "--backend", a.tews_backend, "--cfar", a.cfar,
         "--pfa", str(a.pfa), "--summary", summary_path, "--output", "jsonl:" + os.path.join(work, "p.jsonl")],
        check=True,
    )
    with open(summary_path) as f:
        ts = json.load(f)
    rec = numpy_chain.Recording(meta)
    rep = numpy_chain.replica(rec.waveform, rec.fs)
    rep = rep * numpy_chain.range_window("hamming", len(rep))
    chain = Chain(xp, rep, P, N, numpy_chain.doppler_window("hann", P), a.cfar,
                  ts["cfar_alpha"], ts["cfar_noise_scale"], 8, 3, 4, 2, None)
    detections = 0
    for k in range(rec.num_cpis):
        x = rec.cpi_samples(k)
        x = np.asarray(x[0] if x.ndim == 3 else x, dtype=np.complex64)
        detections += len(chain.run(x)[0])
    # Near-threshold cells may flip between float implementations: allow one
    # per CPI plus 0.1 %.
    tol = rec.num_cpis + ts["detections"] // 1000
    ok = abs(detections - ts["detections"]) <= tol
    print(f"detections: {a.xp} {detections}, tews ({ts['backend']}, {ts.get('adapter')}) "
          f"{ts['detections']} (tolerance {tol}): {'OK' if ok else 'MISMATCH'}")
    result = {"xp": a.xp, "pulses": P, "samples_per_pulse": N, "detections": detections,
              "tews_detections": ts["detections"], "match": ok}
    if not a.no_bench:
        x = np.asarray(rec.cpi_samples(0), dtype=np.complex64)
        x = x[0] if x.ndim == 3 else x
        times = []
        for i in range(5 + a.iterations):
            sync(xp)
            t = time.perf_counter()
            chain.run(x)
            sync(xp)
            if i >= 5:
                times.append(time.perf_counter() - t)
        us = float(np.median(times)) * 1e6
        r = subprocess.run([a.tews, "-q", "bench", "--backend", "gpu", "--json", "--pulses", str(P),
                            "--samples", str(N), "--cfar", a.cfar, "--iterations", str(a.iterations)],
                           capture_output=True, text=True)
        tb = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else None
        result.update(us_per_cpi=us, msamples_per_s=P * N / us,
                      tews_gpu=tb, tews_over_xp=(us / tb["us_per_cpi"]) if tb else None)
        print(f"{a.xp}: {us:.1f} us/CPI ({P * N / us:.1f} M samples/s)")
        if tb:
            print(f"tews gpu [{tb['adapter']}]: {tb['us_per_cpi']:.1f} us/CPI; "
                  f"tews is {us / tb['us_per_cpi']:.2f}x the {a.xp} chain's speed")
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
