#!/usr/bin/env python3
"""Independent NumPy/SciPy reference of the tews detection chain.

Used (a) as a test oracle for the Rust chain (tests/numpy_parity.rs) and
(b) as the "straightforward NumPy/SciPy" baseline tews is benchmarked against
(benches/compare_numpy.py). Written from the chain's specification and
docs formats.md §1/§2, not from the Rust code.

    python benches/numpy_chain.py REC.sigmf-meta [--cfar ca|go|so|os] [--pfa P]
        [--range-window hamming|hann|none] [--doppler-window hann|hamming|none]
        [--train-range 8] [--guard-range 3] [--train-doppler 4] [--guard-doppler 2]
        [--os-k K] [--workers W] [--out plots.jsonl] [--summary s.json]

Map convention (same as tews): power[range_bin, doppler_bin]; range_bin n is the
matched-filter output aligned with fast-time sample n; Doppler bins are
fftshifted so zero Doppler is bin P//2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import time

import numpy as np
import scipy.fft
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

C_MPS = 299_792_458.0


def round_half_away(x: float) -> int:
    """Rust's f64::round (half away from zero); Python's round() is half-even."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


# ---------------------------------------------------------------- parameters


class Recording:
    """The radar view of a SigMF recording (formats.md §1)."""

    def __init__(self, path: str):
        import sigmf  # imported here so the CFAR/alpha helpers work without it
        from sigmf import sigmffile

        self.sf = sigmffile.fromfile(path, skip_checksum=True, autoscale=True)
        g = self.sf.get_global_info()
        self.fs = float(g["core:sample_rate"])
        self.P = int(g["radar:pulses_per_cpi"])
        self.N = int(g["radar:samples_per_pulse"])
        self.pri = float(g["radar:pri_s"])
        self.window_delay = float(g["radar:window_delay_s"])
        self.waveform = dict(g["radar:waveform"])
        self.num_channels = int(g.get("core:num_channels", 1))
        names = list(g.get("radar:channels", []))
        self.channel = names.index("sum") if "sum" in names else 0
        total = int(self.sf.sample_count)
        per_cpi = self.P * self.N
        if total % per_cpi:
            raise ValueError(
                f"recording holds {total} samples per channel, not a whole number of CPIs of {per_cpi}"
            )
        self.num_cpis = total // per_cpi
        caps = sorted(self.sf.get_captures(), key=lambda c: c["core:sample_start"])
        if not caps:
            raise ValueError("recording has no capture segments")
        self.segments = []
        for c in caps:
            start = int(c["core:sample_start"])
            if start % per_cpi:
                raise ValueError(f"capture at sample {start} does not start a CPI")
            self.segments.append((start // per_cpi, c))
        self._seg_starts = np.array([k0 for k0, _ in self.segments])

    def cpi_samples(self, k: int) -> np.ndarray:
        """x[m, n] of CPI k, complex64, shape (P, N)."""
        per_cpi = self.P * self.N
        d = self.sf.read_samples(start_index=k * per_cpi, count=per_cpi)
        if d.ndim == 2:
            d = d[:, self.channel]
        return np.asarray(d, dtype=np.complex64).reshape(self.P, self.N)

    def cpi_meta(self, k: int) -> dict:
        i = int(np.searchsorted(self._seg_starts, k, side="right")) - 1
        if i < 0:
            raise ValueError(f"CPI {k} precedes the first capture segment")
        k0, c = self.segments[i]
        t0 = dt.datetime.fromisoformat(c["core:datetime"].replace("Z", "+00:00"))
        ns = round((k - k0) * self.P * self.pri * 1e9)
        return {
            "carrier_hz": float(c["core:frequency"]),
            "azimuth_deg": float(c.get("radar:azimuth_deg", 0.0)),
            "elevation_deg": float(c.get("radar:elevation_deg", 0.0)),
            "time_utc": format_time(t0, ns),
        }


def format_time(t0: dt.datetime, extra_ns: int) -> str:
    """RFC 3339 UTC with nanoseconds: t0 + extra_ns."""
    t0 = t0.astimezone(dt.timezone.utc)
    base_ns = t0.microsecond * 1000 + extra_ns
    whole = t0.replace(microsecond=0) + dt.timedelta(seconds=base_ns // 1_000_000_000)
    frac = base_ns % 1_000_000_000
    return whole.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


# ---------------------------------------------------------------- DSP


def _cosine_window(a0: float, n: int, periodic: bool) -> np.ndarray:
    """a0 - (1 - a0) cos(2 pi i / D), D = n (periodic) or n - 1 (symmetric).

    Identical to scipy.signal.windows.hamming/hann(n, sym=not periodic) (checked in
    tests/py/test_numpy_chain.py); written out because importing scipy.signal
    costs about two seconds of start-up.
    """
    if n == 1:
        return np.ones(1)
    d = n if periodic else n - 1
    return a0 - (1.0 - a0) * np.cos(2.0 * np.pi * np.arange(n) / d)


def range_window(name: str, L: int) -> np.ndarray:
    """Symmetric taper applied to the replica."""
    if name == "none":
        return np.ones(L)
    if name == "hamming":
        return _cosine_window(0.54, L, periodic=False)
    if name == "hann":
        return _cosine_window(0.5, L, periodic=False)
    raise ValueError(f"unknown range window {name!r}")


def doppler_window(name: str, P: int) -> np.ndarray:
    """Periodic (DFT-even) window over pulses."""
    if name == "none":
        return np.ones(P)
    if name == "hann":
        return _cosine_window(0.5, P, periodic=True)
    if name == "hamming":
        return _cosine_window(0.54, P, periodic=True)
    raise ValueError(f"unknown Doppler window {name!r}")


def replica(waveform: dict, fs: float) -> np.ndarray:
    T = float(waveform["pulse_width_s"])
    L = round_half_away(T * fs)
    if L < 1:
        raise ValueError("pulse shorter than one sample")
    t = np.arange(L) / fs
    kind = waveform["type"]
    if kind == "lfm":
        B = float(waveform["bandwidth_hz"])
        return np.exp(1j * np.pi * (B / T) * (t - T / 2) ** 2)
    if kind == "rect":
        return np.ones(L, dtype=complex)
    raise ValueError(f"unknown waveform type {kind!r}")


class Processor:
    """Matched filter + Doppler FFT: x (P, N) complex64 -> power map (N, P) float32."""

    def __init__(self, rec_waveform: dict, fs: float, P: int, N: int,
                 range_win: str, doppler_win: str, workers: int):
        s0 = replica(rec_waveform, fs)
        L = len(s0)
        s = s0 * range_window(range_win, L)
        self.M = 1 << int(math.ceil(math.log2(N + L - 1)))
        self.N, self.P = N, P
        self.Sconj = np.conj(scipy.fft.fft(s.astype(np.complex64), self.M)).astype(np.complex64)
        self.wd = doppler_window(doppler_win, P).astype(np.float32)[:, None]
        self.workers = workers

    def power_map(self, x: np.ndarray) -> np.ndarray:
        w = self.workers
        X = scipy.fft.fft(x, self.M, axis=1, workers=w)
        X *= self.Sconj
        y = scipy.fft.ifft(X, axis=1, workers=w, overwrite_x=True)[:, : self.N]
        y = y * self.wd
        z = scipy.fft.fft(y, axis=0, workers=w, overwrite_x=True)
        z = scipy.fft.fftshift(z, axes=0)
        p = z.real * z.real + z.imag * z.imag  # float32
        return np.ascontiguousarray(p.T)  # [range_bin, doppler_bin]


# ---------------------------------------------------------------- CFAR


def _bisect(f, target: float) -> float:
    """alpha >= 0 with f(alpha) == target for decreasing f (f(0) = 1)."""
    lo, hi = 0.0, 1.0
    while f(hi) > target:
        hi *= 2.0
        if hi > 1e12:
            raise ValueError("CFAR threshold multiplier did not converge")
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if f(mid) > target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * hi:
            break
    return 0.5 * (lo + hi)


def pfa_ca(alpha: float, n: int) -> float:
    return (1.0 + alpha / n) ** (-n)


def pfa_os(alpha: float, n: int, k: int) -> float:
    return math.exp(sum(math.log(n - i) - math.log(n - i + alpha) for i in range(k)))


def pfa_so(alpha: float, n_half: int) -> float:
    b = alpha / n_half
    return 2.0 * sum(math.comb(n_half - 1 + j, j) * (2.0 + b) ** (-(n_half + j)) for j in range(n_half))


def pfa_go(alpha: float, n_half: int) -> float:
    b = alpha / n_half
    return 2.0 * (1.0 + b) ** (-n_half) - pfa_so(alpha, n_half)


def cfar_alpha(variant: str, pfa: float, n_ref: int, k: int) -> float:
    if variant == "ca":
        return n_ref * (pfa ** (-1.0 / n_ref) - 1.0)
    if variant == "os":
        return _bisect(lambda a: pfa_os(a, n_ref, k), pfa)
    if variant == "go":
        return _bisect(lambda a: pfa_go(a, n_ref // 2), pfa)
    if variant == "so":
        return _bisect(lambda a: pfa_so(a, n_ref // 2), pfa)
    raise ValueError(f"unknown CFAR variant {variant!r}")


class Cfar:
    """Cross-shaped 2-D CFAR on a power map [range, doppler] (Doppler wraps)."""

    def __init__(self, variant: str, pfa: float, P: int, Tr=8, Gr=3, Td=4, Gd=2, k=None,
                 alpha=None, noise_div=None):
        if 2 * (Gd + Td) + 1 > P:
            raise ValueError(f"Doppler CFAR window 2*(Gd+Td)+1 = {2 * (Gd + Td) + 1} exceeds {P} pulses")
        self.variant, self.Tr, self.Gr, self.Td, self.Gd = variant, Tr, Gr, Td, Gd
        self.n_ref = 2 * Tr + 2 * Td
        self.k = round_half_away(3 * self.n_ref / 4) if k is None else int(k)
        if variant == "os" and not 1 <= self.k <= self.n_ref:
            raise ValueError("OS rank k out of 1..N_ref")
        # Textbook multiplier (independent reference cells) unless given:
        # tews calibrates alpha for the correlation its tapers cause, and
        # the parity test hands that value over so both chains apply the
        # same threshold (the calibration is tested on its own).
        self.alpha = cfar_alpha(variant, pfa, self.n_ref, self.k) if alpha is None else float(alpha)
        # noise estimate = statistic / noise_div
        self.noise_div = (sum(1.0 / i for i in range(self.n_ref - self.k + 1, self.n_ref + 1))
                          if variant == "os" else 1.0) if noise_div is None else float(noise_div)
        # lead/lag kernels for correlate1d: out[i] = sum_j w[j] * in[i + j - K]
        Kr, Kd = Gr + Tr, Gd + Td
        self.kr_lead = np.zeros(2 * Kr + 1); self.kr_lead[:Tr] = 1.0
        self.kr_lag = self.kr_lead[::-1].copy()
        self.kd_lead = np.zeros(2 * Kd + 1); self.kd_lead[:Td] = 1.0
        self.kd_lag = self.kd_lead[::-1].copy()

    def edge(self) -> int:
        return self.Gr + self.Tr

    def run(self, pm: np.ndarray):
        """Returns (detection mask [R, P] bool, noise estimate [R, P] float64 valid where tested)."""
        R, P = pm.shape
        E = self.edge()
        det = np.zeros((R, P), dtype=bool)
        if R - 2 * E <= 0:
            return det, np.zeros((R, P)), 0
        inner = slice(E, R - E)
        n_half = self.Tr + self.Td
        if self.variant in ("ca", "go", "so"):
            f64 = np.float64
            if self.variant == "ca":
                kr = self.kr_lead + self.kr_lag
                kd = self.kd_lead + self.kd_lag
                s = (ndimage.correlate1d(pm, kr, axis=0, output=f64, mode="constant")[inner]
                     + ndimage.correlate1d(pm[inner], kd, axis=1, output=f64, mode="wrap"))
                stat = s / self.n_ref
            else:
                lead = (ndimage.correlate1d(pm, self.kr_lead, axis=0, output=f64, mode="constant")[inner]
                        + ndimage.correlate1d(pm[inner], self.kd_lead, axis=1, output=f64, mode="wrap"))
                lag = (ndimage.correlate1d(pm, self.kr_lag, axis=0, output=f64, mode="constant")[inner]
                       + ndimage.correlate1d(pm[inner], self.kd_lag, axis=1, output=f64, mode="wrap"))
                stat = (np.maximum(lead, lag) if self.variant == "go" else np.minimum(lead, lag)) / n_half
        else:  # os: k-th smallest of the stacked reference cells
            Rt = R - 2 * E
            ref = np.empty((self.n_ref, Rt, P), dtype=np.float32)
            i = 0
            for o in range(self.Gr + 1, self.Gr + self.Tr + 1):
                ref[i] = pm[E - o: R - E - o]; i += 1
                ref[i] = pm[E + o: R - E + o]; i += 1
            K = self.Gd + self.Td  # Doppler wraps: pad K columns each side
            mid = np.concatenate([pm[inner, P - K:], pm[inner], pm[inner, :K]], axis=1)
            for o in range(self.Gd + 1, self.Gd + self.Td + 1):
                ref[i] = mid[:, K - o: K - o + P]; i += 1  # d - o
                ref[i] = mid[:, K + o: K + o + P]; i += 1  # d + o
            stat = np.partition(ref, self.k - 1, axis=0)[self.k - 1].astype(np.float64)
        det[inner] = pm[inner] > self.alpha * stat
        noise = np.zeros((R, P))
        noise[inner] = stat / self.noise_div
        return det, noise, (R - 2 * E) * P


# ---------------------------------------------------------------- plots


def group(det: np.ndarray, pm: np.ndarray):
    """8-connected components with Doppler wrap. Returns list of (r0, d0, cells)."""
    R, P = det.shape
    lab, n = ndimage.label(det, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return []
    # join components across the Doppler seam (column P-1 next to column 0)
    a_parts, b_parts = [], []
    for dr in (-1, 0, 1):
        a = lab[max(0, -dr): R - max(0, dr), 0]
        b = lab[max(0, dr): R - max(0, -dr), P - 1]
        m = (a > 0) & (b > 0)
        a_parts.append(a[m]); b_parts.append(b[m])
    a = np.concatenate(a_parts); b = np.concatenate(b_parts)
    if a.size:
        g = coo_matrix((np.ones(a.size), (a, b)), shape=(n + 1, n + 1))
        _, comp = connected_components(g, directed=False)
        lab = comp[lab]
        lab[~det] = -1
    else:
        lab = lab.astype(np.int64)
        lab[~det] = -1
    rr, dd = np.nonzero(det)  # row-major: lowest range, then lowest Doppler
    ll = lab[rr, dd]
    pw = pm[rr, dd]
    # sort by label, then power descending, then range, then Doppler (stable on row-major order)
    order = np.lexsort((dd, rr, -pw, ll))
    ll_s = ll[order]
    first = np.ones(ll_s.size, dtype=bool)
    first[1:] = ll_s[1:] != ll_s[:-1]
    heads = order[first]
    sizes = np.diff(np.append(np.flatnonzero(first), ll_s.size))
    return list(zip(rr[heads].tolist(), dd[heads].tolist(), sizes.tolist()))


def interp_delta(pm_, p0, pp) -> float:
    if pm_ <= 0 or p0 <= 0 or pp <= 0:
        return 0.0
    lm, l0, lp = math.log(pm_), math.log(p0), math.log(pp)
    den = lm - 2.0 * l0 + lp
    if den >= 0:
        return 0.0
    return min(0.5, max(-0.5, 0.5 * (lm - lp) / den))


# ---------------------------------------------------------------- driver


def process(rec_path: str, cfar: str = "ca", pfa: float = 1e-6, range_win: str = "hamming",
            doppler_win: str = "hann", Tr=8, Gr=3, Td=4, Gd=2, os_k=None, workers=-1,
            plot_sink=None, alpha=None, noise_scale=None):
    t_start = time.perf_counter()
    rec = Recording(rec_path)
    P, N, fs = rec.P, rec.N, rec.fs
    proc = Processor(rec.waveform, fs, P, N, range_win, doppler_win, workers)
    det_cfar = Cfar(cfar, pfa, P, Tr, Gr, Td, Gd, os_k, alpha, noise_scale)
    plots = []
    summary = dict(cpis=0, cpis_rejected=0, cells_tested=0, detections=0, plots=0)
    for k in range(rec.num_cpis):
        x = rec.cpi_samples(k)
        summary["cpis"] += 1
        if not np.isfinite(x).all():
            summary["cpis_rejected"] += 1
            continue
        pm = proc.power_map(x)
        det, noise, tested = det_cfar.run(pm)
        summary["cells_tested"] += tested
        summary["detections"] += int(np.count_nonzero(det))
        comps = group(det, pm)
        if not comps:
            continue
        meta = rec.cpi_meta(k)
        lam = C_MPS / meta["carrier_hz"]
        R = pm.shape[0]
        for r0, d0, cells in comps:
            p0 = float(pm[r0, d0])
            dr = interp_delta(float(pm[r0 - 1, d0]), p0, float(pm[r0 + 1, d0])) if 0 < r0 < R - 1 else 0.0
            dd = interp_delta(float(pm[r0, (d0 - 1) % P]), p0, float(pm[r0, (d0 + 1) % P]))
            rb, db = r0 + dr, d0 + dd
            f_d = (db - P // 2) / (P * rec.pri)
            plot = {
                "cpi": k,
                "time_utc": meta["time_utc"],
                "range_m": C_MPS * (rec.window_delay + rb / fs) / 2.0,
                "radial_velocity_mps": -f_d * lam / 2.0,
                "azimuth_deg": meta["azimuth_deg"],
                "elevation_deg": meta["elevation_deg"],
                "snr_db": 10.0 * math.log10(p0 / noise[r0, d0]) if noise[r0, d0] > 0 else float("inf"),
                "range_bin": rb,
                "doppler_bin": db,
                "cells": int(cells),
            }
            plots.append(plot)
            if plot_sink is not None:
                plot_sink(plot)
        summary["plots"] = len(plots)
    summary["plots"] = len(plots)
    summary["seconds"] = time.perf_counter() - t_start
    summary["samples_per_second"] = summary["cpis"] * P * N / summary["seconds"] if summary["seconds"] > 0 else 0.0
    summary["backend"] = "numpy"
    return plots, summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recording", help="REC.sigmf-meta")
    ap.add_argument("--cfar", choices=["ca", "go", "so", "os"], default="ca")
    ap.add_argument("--pfa", type=float, default=1e-6)
    ap.add_argument("--range-window", choices=["hamming", "hann", "none"], default="hamming")
    ap.add_argument("--doppler-window", choices=["hann", "hamming", "none"], default="hann")
    ap.add_argument("--train-range", type=int, default=8)
    ap.add_argument("--guard-range", type=int, default=3)
    ap.add_argument("--train-doppler", type=int, default=4)
    ap.add_argument("--guard-doppler", type=int, default=2)
    ap.add_argument("--os-k", type=int, default=None, help="OS rank (1-based), default round(3*N_ref/4)")
    ap.add_argument("--alpha", type=float, default=None,
                    help="CFAR multiplier (default: textbook value from --pfa for independent cells)")
    ap.add_argument("--noise-scale", type=float, default=None,
                    help="divisor of the CFAR statistic giving the noise estimate (default: textbook)")
    ap.add_argument("--workers", type=int, default=-1, help="scipy.fft workers (-1: all cores)")
    ap.add_argument("--out", help="plots as JSON lines (default stdout)")
    ap.add_argument("--summary", help="summary JSON (default stderr)")
    a = ap.parse_args(argv)

    out = open(a.out, "w") if a.out else sys.stdout

    def sink(p):
        out.write(json.dumps(p) + "\n")

    _, summary = process(a.recording, a.cfar, a.pfa, a.range_window, a.doppler_window,
                         a.train_range, a.guard_range, a.train_doppler, a.guard_doppler,
                         a.os_k, a.workers, sink, a.alpha, a.noise_scale)
    if a.out:
        out.close()
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump(summary, f)
            f.write("\n")
    else:
        print(json.dumps(summary), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
