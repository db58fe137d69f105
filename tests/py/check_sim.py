#!/usr/bin/env python3
"""Independent check of a `tews simulate` recording against formats.md §1.

Loads the recording with the `sigmf` package (which validates the metadata
against the SigMF schema), recomputes the signal model in NumPy from the
metadata's keys and the scenario TOML (never from tews's truth file), and
compares.

    check_sim.py model PREFIX SCENARIO.toml   # noise-free scenario: samples, captures, beam keys
    check_sim.py noise PREFIX SCENARIO.toml   # noise-only scenario: variance, I/Q split

Exits non-zero with a message on the first mismatch.
"""

import datetime as dt
import json
import sys
import tomllib

import numpy as np
import sigmf

C_MPS = 299_792_458.0


def fail(msg):
    print(f"check_sim: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def load(prefix):
    rec = sigmf.sigmffile.fromfile(prefix + ".sigmf-meta")
    rec.validate()  # schema check, raises on a bad meta
    g = rec.get_global_info()
    with open(prefix + ".sigmf-meta") as f:
        raw = json.load(f)  # the sigmf package rewrites core:version to its own on load
    check(raw["global"]["core:version"] == "1.2.0", f"core:version {raw['global']['core:version']}")
    check(
        {"name": "radar", "version": "0.1.0", "optional": False} in g["core:extensions"],
        f"core:extensions {g['core:extensions']}",
    )
    check(g["radar:simulated"] is True, "radar:simulated is not true")
    x = rec.read_samples()
    chans = g.get("core:num_channels", 1)
    if chans == 1:
        x = x.reshape(-1, 1)
    check(x.shape[1] == chans, f"read_samples shape {x.shape} for {chans} channels")
    p, n = g["radar:pulses_per_cpi"], g["radar:samples_per_pulse"]
    check(x.shape[0] % (p * n) == 0, "not a whole number of CPIs")
    # (cpi, pulse, sample, channel)
    return rec, g, x.reshape(-1, p, n, chans)


def parse_time(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def beam_offsets(beam_az, beam_el, az, el):
    """Beam-frame offsets (theta_az, theta_el), degrees, of direction (az, el)
    from a beam at (beam_az, beam_el); the axes come from pymap3d."""
    from beam_pymap3d import offsets

    return offsets(beam_az, beam_el, az, el)


def beam_per_cpi(rec, g, num_cpis):
    """(carrier, az, el, datetime) per CPI from the capture segments."""
    p, n = g["radar:pulses_per_cpi"], g["radar:samples_per_pulse"]
    caps = rec.get_captures()
    check(caps[0]["core:sample_start"] == 0, "first capture does not start at 0")
    out = []
    for k in range(num_cpis):
        seg = [c for c in caps if c["core:sample_start"] <= k * p * n][-1]
        check(seg["core:sample_start"] % (p * n) == 0, "capture not at a CPI boundary")
        k0 = seg["core:sample_start"] // (p * n)
        t = parse_time(seg["core:datetime"]) + dt.timedelta(seconds=(k - k0) * p * g["radar:pri_s"])
        out.append((seg["core:frequency"], seg["radar:azimuth_deg"], seg["radar:elevation_deg"], t))
    return caps, out


def waveform(wf, u):
    t = wf["pulse_width_s"]
    on = (u >= 0) & (u < t)
    if wf["type"] == "lfm":
        s = np.exp(1j * np.pi * (wf["bandwidth_hz"] / t) * (u - t / 2) ** 2)
    else:
        s = np.ones_like(u, dtype=complex)
    return np.where(on, s, 0)


def check_model(prefix, scen):
    rec, g, x = load(prefix)
    num_cpis = x.shape[0]
    check(num_cpis == scen["num_cpis"], f"{num_cpis} CPIs, scenario says {scen['num_cpis']}")
    fs = g["core:sample_rate"]
    p, n = g["radar:pulses_per_cpi"], g["radar:samples_per_pulse"]
    pri, wd, wf = g["radar:pri_s"], g["radar:window_delay_s"], g["radar:waveform"]
    names = g.get("radar:channels", ["sum"])
    caps, beams = beam_per_cpi(rec, g, num_cpis)

    # Captures: expected beam from the scenario's scan, one segment per change.
    beam = scen.get("beam", {})
    az0, step = beam.get("azimuth_start_deg", 0.0), beam.get("azimuth_step_deg", 0.0)
    el_beam, bw = beam.get("elevation_deg", 0.0), beam.get("beamwidth_deg", 3.0)
    bw_az, bw_el = beam.get("beamwidth_az_deg", bw), beam.get("beamwidth_el_deg", bw)
    k_az, k_el = beam.get("slope_az", 1.6), beam.get("slope_el", 1.6)
    start = parse_time(scen["start_time"])
    expected_segments = 1 if step % 360 == 0 else num_cpis
    check(len(caps) == expected_segments, f"{len(caps)} capture segments, expected {expected_segments}")
    for k, (fc, az, el, t) in enumerate(beams):
        check(abs(fc - scen["radar"]["carrier_hz"]) < 1e-3, f"CPI {k} core:frequency {fc}")
        check(abs(((az - (az0 + k * step)) + 180) % 360 - 180) < 1e-9, f"CPI {k} azimuth {az}")
        check(0 <= az < 360, f"CPI {k} azimuth {az} not in [0, 360)")
        check(abs(el - el_beam) < 1e-12, f"CPI {k} elevation {el}")
        t_expected = start + dt.timedelta(seconds=k * p * pri)
        check(abs((t - t_expected).total_seconds()) < 1e-6, f"CPI {k} datetime {t} != {t_expected}")
    for c in caps:
        k = c["core:sample_start"] // (p * n)
        t_expected = start + dt.timedelta(seconds=k * p * pri)
        check(abs((parse_time(c["core:datetime"]) - t_expected).total_seconds()) < 1e-6, f"capture {c}")

    lam = C_MPS / scen["radar"]["carrier_hz"]
    t_n = wd + np.arange(n) / fs
    y = np.zeros(x.shape, dtype=complex)
    amp_max = 0.0
    for tg in scen["targets"]:
        check("amplitude" in tg and "phase_deg" in tg, "model check needs explicit amplitude and phase_deg")
        check(tg.get("swerling", 0) == 0, "model check needs Swerling 0 targets")
        amp_max = max(amp_max, tg["amplitude"])
        for k in range(num_cpis):
            _, az, el, _ = beams[k]
            if "beam_offset_az_deg" in tg or "beam_offset_el_deg" in tg:
                d_az, d_el = tg.get("beam_offset_az_deg", 0.0), tg.get("beam_offset_el_deg", 0.0)
            else:
                d_az, d_el = beam_offsets(az, el, tg.get("azimuth_deg", az), tg.get("elevation_deg", el))
            # Gaussian two-way power pattern, -6 dB at half the beamwidth, in
            # the beam frame (formats.md §5).
            gain = np.exp(-8 * np.log(2) * ((d_az / bw_az) ** 2 + (d_el / bw_el) ** 2))
            a = tg["amplitude"] * np.sqrt(gain) * np.exp(1j * np.deg2rad(tg["phase_deg"]))
            m = np.arange(p)
            r = tg["range_m"] + tg["range_rate_mps"] * (k * p + m) * pri  # (P,)
            echo = a * waveform(wf, t_n[None, :] - 2 * r[:, None] / C_MPS)
            echo *= np.exp(-1j * 4 * np.pi * r / lam)[:, None]
            for ci, name in enumerate(names):
                ratio = {"sum": 1.0, "delta_az": k_az * d_az / bw_az, "delta_el": k_el * d_el / bw_el}[name]
                y[k, :, :, ci] += ratio * echo
    err = np.max(np.abs(x - y))
    print(f"check_sim: model max |error| = {err:.3e} (amplitude {amp_max}), {len(caps)} captures")
    check(err < 1e-4 * amp_max, f"max abs error {err} >= 1e-4 x amplitude {amp_max}")
    check(np.max(np.abs(y)) > 0.5 * amp_max, "no target energy in the expected model: bad test scenario")


def check_noise(prefix, scen):
    _, g, x = load(prefix)
    sigma2 = scen["noise_power"]
    if g["core:datatype"] == "ci16_le":
        # Documented default: counts per unit = 256 / sigma; the reader scales by 2^-15.
        cpu = scen.get("ci16_counts_per_unit", 256 / np.sqrt(sigma2))
        sigma2 = sigma2 * (cpu / 32768) ** 2
    else:
        check(g["core:datatype"] == "cf32_le", f"datatype {g['core:datatype']}")
    z = x.reshape(-1, x.shape[-1]).astype(np.complex128)
    for ci in range(z.shape[1]):
        v = z[:, ci]
        var, var_i, var_q = np.mean(np.abs(v) ** 2), np.var(v.real), np.var(v.imag)
        rho = np.mean(v.real * v.imag) / np.sqrt(var_i * var_q)
        mean = np.abs(np.mean(v))
        print(
            f"check_sim: channel {ci}: var/sigma^2 = {var / sigma2:.4f}, I {var_i / sigma2:.4f}, "
            f"Q {var_q / sigma2:.4f}, rho_IQ {rho:.4f}, |mean| {mean / np.sqrt(sigma2):.4f} sigma"
        )
        check(abs(var / sigma2 - 1) < 0.03, f"channel {ci} variance {var} vs sigma^2 {sigma2}")
        check(abs(var_i / sigma2 - 0.5) < 0.02, f"channel {ci} I variance {var_i} vs sigma^2/2")
        check(abs(var_q / sigma2 - 0.5) < 0.02, f"channel {ci} Q variance {var_q} vs sigma^2/2")
        check(abs(rho) < 0.02, f"channel {ci} I/Q correlation {rho}")
        check(mean < 0.02 * np.sqrt(sigma2), f"channel {ci} mean {mean}")
        # Gaussian: fourth moment E|z|^4 = 2 sigma^4 for circular complex Gaussian.
        k4 = np.mean(np.abs(v) ** 4) / var**2
        check(abs(k4 - 2) < 0.1, f"channel {ci} E|z|^4 / sigma^4 = {k4}, expected 2")
    if z.shape[1] > 1:
        cc = np.abs(np.mean(z[:, 0] * np.conj(z[:, 1]))) / sigma2
        check(cc < 0.02, f"channels 0 and 1 correlated: {cc}")
    # White: adjacent fast-time samples uncorrelated.
    v = x[..., 0].reshape(-1, x.shape[2])
    adj = np.abs(np.mean(v[:, 1:] * np.conj(v[:, :-1]))) / sigma2
    check(adj < 0.02, f"adjacent-sample correlation {adj}")


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("model", "noise"):
        fail(__doc__)
    mode, prefix, scen_path = sys.argv[1:]
    with open(scen_path, "rb") as f:
        scen = tomllib.load(f)
    (check_model if mode == "model" else check_noise)(prefix, scen)
    # The truth file exists and names the seed (its content is tews's claim, not checked here).
    with open(prefix + ".truth.json") as f:
        check("seed" in json.load(f), "truth file without seed")
    print("check_sim: OK")


if __name__ == "__main__":
    main()
