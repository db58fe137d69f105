#!/usr/bin/env python3
"""The built-in ballistic scenario's impact ellipse against the Cramer-Rao
bound of the same plots, for the README's accuracy figure.

Usage: tools/accuracy_vs_crb.py DIR   (DIR from `tews demo --ballistic --out DIR`)

For each time t after burnout (60 s steps, and the end of the observation):
tews's impact ellipse (the last warning issued by t) against the batch
weighted least-squares fit of every plot of the object from burnout to t
(tests/py/batch_fit.py: its own propagator and geometry, known dynamics, no
process noise: its covariance is the bound). The object's plots are the
monopulse plots within 2 km of the true range (the truth only selects them,
as a perfect association would); each plot's time is its CPI's mean pulse
time, as the tracker uses. Needs numpy, scipy and pymap3d (the test venv).
"""

import json
import math
import os
import sys
from datetime import datetime

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "py"))
import batch_fit  # noqa: E402


def utc(s):
    s = s.rstrip("Z")
    if "." in s:
        head, frac = s.split(".")
        s = head + "." + frac[:6]
    return datetime.fromisoformat(s)


def main(d):
    truth = json.load(open(os.path.join(d, "ballistic.truth.json")))
    scen = truth["scenario"]
    p, pri = scen["radar"]["pulses_per_cpi"], scen["radar"]["pri_s"]
    site = scen["site"]
    burnout = utc(truth["trajectories"][0]["burnout"]["time_utc"])
    epoch = burnout
    by_cpi = {r["cpi"]: r for r in truth["targets"] if r.get("trajectory") == 0}
    plots = []
    for line in open(os.path.join(d, "plots.jsonl")):
        q = json.loads(line)
        r = by_cpi.get(q["cpi"])
        if q.get("angle_source") != "monopulse" or r is None:
            continue
        if abs(q["range_m"] - r["range_m"]) > 2000.0:
            continue
        t = (utc(q["time_utc"]) - epoch).total_seconds() + (p - 1) * pri / 2
        if t < 0:
            continue
        plots.append({
            "time_s": t, "range_m": q["range_m"], "azimuth_deg": q["azimuth_deg"],
            "elevation_deg": q["elevation_deg"], "range_sigma_m": q["range_sigma_m"],
            "azimuth_sigma_deg": q["azimuth_sigma_deg"],
            "elevation_sigma_deg": q["elevation_sigma_deg"],
        })
    warnings = [json.loads(l) for l in open(os.path.join(d, "warnings.jsonl"))]
    for w in warnings:
        w["t"] = (utc(w["time_utc"]) - epoch).total_seconds()
    end = plots[-1]["time_s"]
    times = [t for t in range(60, int(end), 60)] + [end]
    print("| t after burnout s | plots | tews a95 km | bound a95 km | ratio | tews b95 km | bound b95 km |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for t in times:
        use = [q for q in plots if q["time_s"] <= t + 1e-6]
        issued = [w for w in warnings if w["t"] <= t + 1e-6]
        if len(use) < 10 or not issued:
            continue
        w = issued[-1]["impact"]["ellipse_95"]
        fit = batch_fit.solve({"site": site, "plots": use})
        e = fit["impact"]["ellipse"]
        print("| %.0f | %d | %.3f | %.3f | %.2f | %.3f | %.3f |" % (
            t, len(use), w["semi_major_m"] / 1e3, e["semi_major_m"] / 1e3,
            w["semi_major_m"] / e["semi_major_m"], w["semi_minor_m"] / 1e3,
            e["semi_minor_m"] / 1e3))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
