#!/usr/bin/env python3
"""Independent NumPy monopulse estimator: the angles of tews's plots, computed
again from the recording by processing every channel whole.

    python tests/py/monopulse_numpy.py REC.sigmf-meta PLOTS.jsonl
        [--range-window hamming] [--doppler-window hann]

For each CPI with plots, each channel (sum, delta_az, delta_el) goes through
the full chain of benches/numpy_chain.py (FFT fast convolution with the tapered
replica, windowed Doppler FFT, fftshift), keeping the complex map. For each
plot, its own peak cell is the strongest sum-channel cell within one cell of
the plot's (rounded) position; there the ratio r = Re(delta / sum) gives the
beam-frame offset theta = r * beamwidth / slope (formats.md §1). A plot whose
offset exceeds 0.6 beamwidth keeps the beam's angles. The direction is built
from beam axes taken from pymap3d (aer2enu of the boresight, of az + 90 deg on
the horizon and of el + 90 deg) and turned into azimuth/elevation by pymap3d's
enu2aer: nothing here comes from the Rust code.

Prints one JSON object: {"plots": [{cpi, range_bin, doppler_bin, peak,
angle_source, azimuth_deg, elevation_deg}, ...]}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np
import scipy.fft

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benches"))
import numpy_chain as nc  # noqa: E402

SPAN = 0.6


def complex_map(rec, x, range_win, doppler_win):
    """Complex processed map [range_bin, doppler_bin] of one channel's CPI x (P, N)."""
    s = nc.replica(rec.waveform, rec.fs)
    s = s * nc.range_window(range_win, len(s))
    m = 1 << int(math.ceil(math.log2(rec.N + len(s) - 1)))
    y = scipy.fft.ifft(scipy.fft.fft(x, m, axis=1) * np.conj(scipy.fft.fft(s, m)), axis=1)[:, : rec.N]
    y = y * nc.doppler_window(doppler_win, rec.P)[:, None]
    z = scipy.fft.fftshift(scipy.fft.fft(y, axis=0), axes=0)
    return z.T


from beam_pymap3d import direction  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("meta")
    ap.add_argument("plots")
    ap.add_argument("--range-window", default="hamming")
    ap.add_argument("--doppler-window", default="hann")
    a = ap.parse_args(argv)

    rec = nc.Recording(a.meta)
    g = rec.sf.get_global_info()
    names = list(g["radar:channels"])
    mono = g["radar:monopulse"]
    plots = [json.loads(l) for l in open(a.plots) if l.strip()]
    by_cpi = {}
    for p in plots:
        by_cpi.setdefault(p["cpi"], []).append(p)
    per_cpi = rec.P * rec.N
    out = []
    for k in sorted(by_cpi):
        d = np.asarray(rec.sf.read_samples(start_index=k * per_cpi, count=per_cpi))
        maps = {
            name: complex_map(rec, d[:, c].reshape(rec.P, rec.N), a.range_window, a.doppler_window)
            for c, name in enumerate(names)
        }
        meta = rec.cpi_meta(k)
        s_map = maps["sum"]
        power = np.abs(s_map) ** 2
        for p in by_cpi[k]:
            r0, d0 = round(p["range_bin"]), round(p["doppler_bin"]) % rec.P
            best = None
            for dr in (-1, 0, 1):
                for dd in (-1, 0, 1):
                    r, dop = r0 + dr, (d0 + dd) % rec.P
                    if 0 <= r < rec.N and (best is None or power[r, dop] > power[best]):
                        best = (r, dop)
            theta = {}
            for axis, ch, bw, slope in (("az", "delta_az", mono["beamwidth_az_deg"], mono["slope_az"]),
                                        ("el", "delta_el", mono["beamwidth_el_deg"], mono["slope_el"])):
                if ch in maps:
                    ratio = (maps[ch][best] / s_map[best]).real
                    theta[axis] = (ratio * bw / slope, bw)
            inside = all(abs(t) <= SPAN * bw for t, bw in theta.values())
            if inside:
                az, el = direction(meta["azimuth_deg"], meta["elevation_deg"],
                                   theta.get("az", (0.0, 1))[0], theta.get("el", (0.0, 1))[0])
                source = "monopulse"
            else:
                az, el, source = meta["azimuth_deg"], meta["elevation_deg"], "beam"
            out.append({"cpi": k, "range_bin": p["range_bin"], "doppler_bin": p["doppler_bin"],
                        "peak": list(best), "angle_source": source,
                        "azimuth_deg": az % 360.0, "elevation_deg": el})
    print(json.dumps({"plots": out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
