#!/usr/bin/env python3
"""Wall-time comparison of `tews run` with the NumPy/SciPy reference chain.

    python benches/compare_numpy.py [--tews target/release/tews] [--cpis 64]
        [--pulses 128] [--samples-per-pulse 4096] [--datatype cf32_le|ci16_le]
        [--cfar ca|go|so|os] [--pfa 1e-6] [--repeat 1] [--workdir DIR] [--keep]

Simulates one recording with tests/py/make_recording.py (not timed; default
64 CPIs x 128 pulses x 4096 samples, 256 MiB as cf32), then on the same machine,
in this one invocation, runs benches/numpy_chain.py and `tews run` on it
(tews first, so its calibrated CFAR multiplier can be handed to the NumPy
chain; the file was just written, so both read it from the page cache).
Each is timed as a whole process (wall, start-up and imports included) and by
the `seconds` its own summary reports. With --repeat N the fastest run of each
counts. Prints both times, the ratios, and finally one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
    return wall


def count_lines(path: str) -> int:
    with open(path) as f:
        return sum(1 for line in f if line.strip())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tews", default=os.path.join(ROOT, "target", "release", "tews"))
    ap.add_argument("--python", default=sys.executable, help="interpreter for the NumPy chain and simulator")
    ap.add_argument("--cpis", type=int, default=64)
    ap.add_argument("--pulses", type=int, default=128)
    ap.add_argument("--samples-per-pulse", type=int, default=4096)
    ap.add_argument("--datatype", choices=["cf32_le", "ci16_le"], default="cf32_le")
    ap.add_argument("--cfar", choices=["ca", "go", "so", "os"], default="ca")
    ap.add_argument("--pfa", default="1e-6")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--workdir", default=None, help="where the recording goes (default: a temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the recording and outputs")
    a = ap.parse_args(argv)

    if not os.access(a.tews, os.X_OK):
        sys.exit(f"no tews binary at {a.tews} (cargo build --release, or pass --tews PATH)")
    work = a.workdir or tempfile.mkdtemp(prefix="tews-compare-")
    os.makedirs(work, exist_ok=True)
    base = os.path.join(work, "bench")
    meta = base + ".sigmf-meta"
    try:
        t = time.perf_counter()
        subprocess.run(
            [a.python, os.path.join(ROOT, "tests", "py", "make_recording.py"), base,
             "--cpis", str(a.cpis), "--pulses", str(a.pulses), "--samples-per-pulse", str(a.samples_per_pulse),
             "--datatype", a.datatype, "--seed", "7",
             "--target", "10000,20,-10", "--target", "25000,-45,-15", "--target", "40000,5,-5",
             "--target", "52000,90,-20"],
            check=True, stdout=subprocess.DEVNULL)
        data_bytes = os.path.getsize(base + ".sigmf-data")
        print(f"recording: {meta} ({data_bytes / 2**20:.0f} MiB, {a.cpis} CPIs of {a.pulses} x "
              f"{a.samples_per_pulse} {a.datatype}), simulated in {time.perf_counter() - t:.1f} s", flush=True)

        runs = {}
        # tews first: its summary gives the calibrated CFAR multiplier, which
        # the NumPy chain then applies too, so both do the same work and
        # report the same plots (the NumPy default would be the textbook
        # multiplier for independent cells).
        tews_summary = {}
        for name in ("tews", "numpy"):
            plots = os.path.join(work, f"{name}.jsonl")
            summ = os.path.join(work, f"{name}.summary.json")
            if name == "numpy":
                cmd = [a.python, os.path.join(HERE, "numpy_chain.py"), meta, "--cfar", a.cfar, "--pfa", a.pfa,
                       "--alpha", str(tews_summary["cfar_alpha"]),
                       "--noise-scale", str(tews_summary["cfar_noise_scale"]),
                       "--out", plots, "--summary", summ]
            else:
                cmd = [a.tews, "run", "--input", meta, "--output", f"jsonl:{plots}", "--summary", summ,
                       "--cfar", a.cfar, "--pfa", a.pfa]
            best = None
            for _ in range(a.repeat):
                wall = timed(cmd)
                with open(summ) as f:
                    s = json.load(f)
                if best is None or wall < best[0]:
                    best = (wall, s)
            wall, s = best
            if name == "tews":
                tews_summary = s
            runs[name] = {"wall_s": wall, "chain_s": s.get("seconds"), "plots": count_lines(plots),
                          "detections": s.get("detections"), "cells_tested": s.get("cells_tested"),
                          "backend": s.get("backend")}
            print(f"{name:6s} wall {wall:8.3f} s   own summary {s.get('seconds', float('nan')):8.3f} s   "
                  f"plots {runs[name]['plots']}  detections {s.get('detections')}", flush=True)

        n, tw = runs["numpy"], runs["tews"]
        ratio_wall = n["wall_s"] / tw["wall_s"]
        ratio_chain = (n["chain_s"] / tw["chain_s"]) if n["chain_s"] and tw["chain_s"] else None
        print(f"speed-up of tews over NumPy: {ratio_wall:.2f}x wall"
              + (f", {ratio_chain:.2f}x by own summaries" if ratio_chain else ""))
        print(json.dumps({
            "bench": "compare_numpy", "cfar": a.cfar, "pfa": float(a.pfa), "datatype": a.datatype,
            "cpis": a.cpis, "pulses": a.pulses, "samples_per_pulse": a.samples_per_pulse, "bytes": data_bytes,
            "numpy": n, "tews": tw, "speedup_wall": ratio_wall, "speedup_chain": ratio_chain,
            "repeat": a.repeat, "host": {"cpus": os.cpu_count(), "machine": platform.machine(),
                                         "python": platform.python_version()},
        }))
    finally:
        if not a.keep:
            if a.workdir:
                for ext in (".sigmf-meta", ".sigmf-data", ".truth.json"):
                    if os.path.exists(base + ext):
                        os.remove(base + ext)
                for name in ("numpy", "tews"):
                    for ext in (".jsonl", ".summary.json"):
                        p = os.path.join(work, name + ext)
                        if os.path.exists(p):
                            os.remove(p)
            else:
                shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
