#!/usr/bin/env python3
"""Independent NumPy simulator: writes a SigMF recording with the tews `radar`
extension (docs formats.md §1) plus a truth JSON.

    python tests/py/make_recording.py OUT [--target R,V,SNR_DB ...] [--seed S]
        [--datatype cf32_le|ci16_le] [--samples-per-pulse N] [--pulses P] [--cpis K]
        [--sample-rate HZ] [--bandwidth HZ] [--pulse-width S] [--waveform lfm|rect]
        [--pri S] [--window-delay S] [--carrier HZ] [--noise-power SIGMA2]
        [--channels sum,delta_az,...] [--azimuth DEG] [--azimuth-step DEG]
        [--elevation DEG] [--datetime RFC3339] [--truth PATH]
        [--monopulse A,E,KA,KE]

OUT is the base path (OUT.sigmf-meta, OUT.sigmf-data; a trailing .sigmf-meta is
stripped). Each target is `range_m,range_rate_mps,element_snr_db`: R(t) = R0 + v t
with t measured from the first pulse of CPI 0 (v > 0 receding), and
|a|^2 / sigma^2 = 10^(snr/10) per sample in the sum channel, random phase.
With --monopulse (beamwidths A, E in degrees, slopes KA, KE) a target may add
two more fields, `theta_az_deg,theta_el_deg`: its offsets in the beam frame
(formats.md §5, axes built here from pymap3d's aer2enu). The sum channel then
carries the echo times the two-way voltage gain
exp(-4 ln2 (theta_az^2/A^2 + theta_el^2/E^2)), the `delta_az` channel that
times KA theta_az / A (`delta_el`: KE theta_el / E), each with its own noise,
and the meta gets `radar:monopulse`; the truth gets each target's
theta_az_deg, theta_el_deg, azimuth_deg and elevation_deg. Without it,
non-sum channels carry a quarter of the sum channel's echo.

Signal model (formats.md §1):
  x[m, n] += a * s(t_n - 2 R(t_m) / c) * exp(-j 4 pi R(t_m) / lambda)
  t_n = window_delay + n / fs, t_m = (k P + m) pri
  s(t) = exp(j pi (B/T) (t - T/2)^2) on 0 <= t < T (lfm) or 1 (rect)
plus circular complex white Gaussian noise of total variance sigma^2.
One capture segment per CPI (azimuth advancing by --azimuth-step).

Truth JSON: {"params": {...}, "truth": [{cpi, target, range_m, velocity_mps,
range_bin, doppler_bin, element_snr_db, expected_snr_db}, ...]} where range_m is
R at the CPI's middle pulse, range_bin = (2R/c - window_delay) fs and
doppler_bin = P//2 + f_D P pri folded into [0, P) with f_D = -2 v / lambda.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import sys

import numpy as np

C_MPS = 299_792_458.0


def parse_target(s: str):
    parts = [float(v) for v in s.split(",")]
    if len(parts) == 3:
        parts += [0.0, 0.0]
    if len(parts) != 5:
        raise argparse.ArgumentTypeError(
            "target is range_m,velocity_mps,element_snr_db[,theta_az_deg,theta_el_deg]")
    return tuple(parts)


def beam_direction(az: float, el: float, theta_az: float, theta_el: float):
    """(azimuth_deg, elevation_deg) of the direction at beam-frame offsets (pymap3d axes)."""
    from beam_pymap3d import direction

    return direction(az, el, theta_az, theta_el)


def waveform_eval(t: np.ndarray, kind: str, B: float, T: float) -> np.ndarray:
    inside = (t >= 0.0) & (t < T)
    if kind == "lfm":
        s = np.exp(1j * np.pi * (B / T) * (t - T / 2) ** 2)
    else:
        s = np.ones_like(t, dtype=complex)
    return np.where(inside, s, 0.0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--target", action="append", type=parse_target, default=[])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--datatype", choices=["cf32_le", "ci16_le"], default="cf32_le")
    ap.add_argument("--samples-per-pulse", type=int, default=1000)
    ap.add_argument("--pulses", type=int, default=64)
    ap.add_argument("--cpis", type=int, default=2)
    ap.add_argument("--sample-rate", type=float, default=10e6)
    ap.add_argument("--bandwidth", type=float, default=5e6)
    ap.add_argument("--pulse-width", type=float, default=10e-6)
    ap.add_argument("--waveform", choices=["lfm", "rect"], default="lfm")
    ap.add_argument("--pri", type=float, default=None,
                    help="default: smallest multiple of 50 us holding delay + pulse + window")
    ap.add_argument("--window-delay", type=float, default=20e-6)
    ap.add_argument("--carrier", type=float, default=1.3e9)
    ap.add_argument("--noise-power", type=float, default=1e-4, help="sigma^2 (full scale = 1)")
    ap.add_argument("--channels", default=None, help="comma-separated radar:channels, e.g. delta_az,sum")
    ap.add_argument("--azimuth", type=float, default=30.0)
    ap.add_argument("--azimuth-step", type=float, default=0.5)
    ap.add_argument("--elevation", type=float, default=2.0)
    ap.add_argument("--datetime", default="2026-01-01T12:00:00Z")
    ap.add_argument("--truth", default=None, help="truth JSON (default OUT.truth.json)")
    ap.add_argument("--monopulse", default=None, help="A,E,KA,KE: beamwidths (deg) and slopes")
    a = ap.parse_args(argv)

    base = a.out[: -len(".sigmf-meta")] if a.out.endswith(".sigmf-meta") else a.out
    truth_path = a.truth or base + ".truth.json"
    fs, P, N, K = a.sample_rate, a.pulses, a.samples_per_pulse, a.cpis
    T, B = a.pulse_width, a.bandwidth
    if a.pri is None:
        need = a.window_delay + N / fs + T
        pri = math.ceil(need / 50e-6 + 1e-9) * 50e-6
    else:
        pri = a.pri
    lam = C_MPS / a.carrier
    sigma2 = a.noise_power
    names = a.channels.split(",") if a.channels else None
    nch = len(names) if names else 1
    sum_ch = names.index("sum") if names and "sum" in names else 0
    rng = np.random.default_rng(a.seed)
    amps = [math.sqrt(sigma2 * 10 ** (snr / 10)) * np.exp(2j * np.pi * rng.random())
            for _, _, snr, _, _ in a.target]
    mono = [float(v) for v in a.monopulse.split(",")] if a.monopulse else None

    def channel_gain(name: str, th_az: float, th_el: float) -> float:
        """Voltage gain of channel `name` for a target at the given offsets."""
        if mono is None:
            return 1.0 if name == "sum" else 0.25
        bw_a, bw_e, k_a, k_e = mono
        g = math.exp(-4.0 * math.log(2.0) * ((th_az / bw_a) ** 2 + (th_el / bw_e) ** 2))
        if name == "delta_az":
            return g * k_a * th_az / bw_a
        if name == "delta_el":
            return g * k_e * th_el / bw_e
        return g

    t_n = a.window_delay + np.arange(N) / fs  # (N,)
    data_path = base + ".sigmf-data"
    L = int(math.floor(T * fs + 0.5))
    # processing gains for the expected detector SNR (default windows: hamming / hann)
    from scipy.signal import windows
    wr = windows.hamming(L, sym=True)
    wd = windows.hann(P, sym=False)
    gain_db = 10 * math.log10(wr.sum() ** 2 / (wr ** 2).sum()) + 10 * math.log10(wd.sum() ** 2 / (wd ** 2).sum())

    truth = []
    with open(data_path, "wb") as f:
        for k in range(K):
            t_m = (k * P + np.arange(P)) * pri  # (P,)
            chan_names = names or ["sum"]
            sig = np.zeros((nch, P, N), dtype=np.complex128)
            for i, ((r0, v, snr, th_az, th_el), amp) in enumerate(zip(a.target, amps)):
                R = r0 + v * t_m
                tau = 2.0 * R / C_MPS
                # only the fast-time samples the echo can touch: t_n - tau in [0, T)
                lo = max(0, int(np.floor((tau.min() - a.window_delay) * fs)) - 1)
                hi = min(N, int(np.ceil((tau.max() + T - a.window_delay) * fs)) + 2)
                if lo < hi:
                    s = waveform_eval(t_n[None, lo:hi] - tau[:, None], a.waveform, B, T)
                    echo = amp * s * np.exp(-4j * np.pi * R / lam)[:, None]
                    for c, name in enumerate(chan_names):
                        gain = 1.0 if (mono is None and c == sum_ch) else channel_gain(name, th_az, th_el)
                        sig[c, :, lo:hi] += gain * echo
                r_mid = r0 + v * (k * P + (P - 1) / 2) * pri
                f_d = -2.0 * v / lam
                beam_az = (a.azimuth + k * a.azimuth_step) % 360.0
                az_t, el_t = beam_direction(beam_az, a.elevation, th_az, th_el)
                truth.append({
                    "theta_az_deg": th_az, "theta_el_deg": th_el,
                    "azimuth_deg": az_t, "elevation_deg": el_t,
                    "cpi": k, "target": i, "range_m": r_mid, "velocity_mps": v,
                    "range_bin": (2.0 * r_mid / C_MPS - a.window_delay) * fs,
                    "doppler_bin": float((P // 2 + f_d * P * pri) % P),
                    "element_snr_db": snr, "expected_snr_db": snr + gain_db,
                })
            x = np.empty((P, N, nch), dtype=np.complex128)
            std = math.sqrt(sigma2 / 2)
            for c in range(nch):
                noise = std * (rng.standard_normal((P, N)) + 1j * rng.standard_normal((P, N)))
                x[:, :, c] = noise + sig[c]
            if a.datatype == "cf32_le":
                out = x.astype(np.complex64).view(np.float32)
            else:
                iq = x.view(np.float64) * 32768.0
                if np.abs(iq).max() >= 32767.5:
                    raise SystemExit("ci16 overflow: lower --noise-power or target SNRs")
                out = np.clip(np.rint(iq), -32768, 32767).astype("<i2")
            out.tofile(f)

    from sigmf import SigMFFile

    glob = {
        "core:datatype": a.datatype,
        "core:sample_rate": fs,
        "core:version": "1.2.0",
        "core:description": "tews NumPy simulator (tests/py/make_recording.py)",
        "core:extensions": [{"name": "radar", "version": "0.1.0", "optional": False}],
        "radar:pulses_per_cpi": P,
        "radar:samples_per_pulse": N,
        "radar:pri_s": pri,
        "radar:window_delay_s": a.window_delay,
        "radar:waveform": ({"type": "lfm", "bandwidth_hz": B, "pulse_width_s": T} if a.waveform == "lfm"
                           else {"type": "rect", "pulse_width_s": T}),
        "core:geolocation": {"type": "Point", "coordinates": [10.0, 50.0, 100.0]},
    }
    if names:
        glob["core:num_channels"] = nch
        glob["radar:channels"] = names
    if mono is not None:
        glob["radar:monopulse"] = {"beamwidth_az_deg": mono[0], "beamwidth_el_deg": mono[1],
                                   "slope_az": mono[2], "slope_el": mono[3]}
    meta = SigMFFile(data_file=data_path, global_info=glob, skip_checksum=True)
    t0 = dt.datetime.fromisoformat(a.datetime.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    for k in range(K):
        ns = t0.microsecond * 1000 + round(k * P * pri * 1e9)
        stamp = (t0.replace(microsecond=0) + dt.timedelta(seconds=ns // 10**9)).strftime("%Y-%m-%dT%H:%M:%S")
        meta.add_capture(k * P * N, metadata={
            "core:frequency": a.carrier,
            "core:datetime": f"{stamp}.{ns % 10**9:09d}Z",
            "radar:azimuth_deg": (a.azimuth + k * a.azimuth_step) % 360.0,
            "radar:elevation_deg": a.elevation,
        })
    meta.tofile(base + ".sigmf-meta", overwrite=True)
    params = {"sample_rate_hz": fs, "pulses_per_cpi": P, "samples_per_pulse": N, "cpis": K, "pri_s": pri,
              "window_delay_s": a.window_delay, "carrier_hz": a.carrier, "lambda_m": lam,
              "noise_power": sigma2, "datatype": a.datatype, "replica_len": L, "seed": a.seed,
              "processing_gain_db": gain_db, "channels": names}
    with open(truth_path, "w") as f:
        json.dump({"params": params, "truth": truth}, f, indent=1)
    print(json.dumps({"meta": base + ".sigmf-meta", "data": data_path, "truth": truth_path,
                      "bytes": os.path.getsize(data_path)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
