#!/usr/bin/env python3
"""Independent geodesy for tests/geodesy.rs: pymap3d (WGS-84) on the cases
given as JSON on stdin, results as JSON on stdout.

Input:  {"geodetic": [[lat, lon, h], ...],      -> ECEF by geodetic2ecef
         "ecef": [[x, y, z], ...],              -> geodetic by ecef2geodetic
         "enu": [[lat0, lon0, h0, x, y, z], ...] -> ENU by ecef2enu, and AER by ecef2aer
         "beam": [[az, el, theta_az, theta_el], ...]}
The beam cases: the beam-frame axes are built from pymap3d's aer2enu (the
boresight; azimuth + 90 deg on the horizon; elevation + 90 deg), the
direction at the offsets composed from them and read back with enu2aer.
"""

import json
import math
import sys

import numpy as np
import pymap3d


def main() -> int:
    cases = json.load(sys.stdin)
    out = {
        "geodetic": [list(pymap3d.geodetic2ecef(la, lo, h)) for la, lo, h in cases["geodetic"]],
        "ecef": [list(pymap3d.ecef2geodetic(x, y, z)) for x, y, z in cases["ecef"]],
        "enu": [list(pymap3d.ecef2enu(x, y, z, la, lo, h)) for la, lo, h, x, y, z in cases["enu"]],
        "aer": [list(pymap3d.ecef2aer(x, y, z, la, lo, h)) for la, lo, h, x, y, z in cases["enu"]],
        "beam": [],
    }
    for az, el, th_az, th_el in cases["beam"]:
        b = np.array(pymap3d.aer2enu(az, el, 1.0))
        e_az = np.array(pymap3d.aer2enu(az + 90.0, 0.0, 1.0))
        e_el = np.array(pymap3d.aer2enu(az, el + 90.0, 1.0))
        u, v = math.sin(math.radians(th_az)), math.sin(math.radians(th_el))
        t = b * math.sqrt(1.0 - u * u - v * v) + e_az * u + e_el * v
        a, e, _ = pymap3d.enu2aer(*(t * 1e6))  # metres: enu2aer zeroes components under 1 mm
        out["beam"].append([float(a), float(e)])
    json.dump({k: [[float(x) for x in row] for row in v] for k, v in out.items()}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
