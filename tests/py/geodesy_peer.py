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
import sys

import pymap3d
from beam_pymap3d import direction


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
        out["beam"].append(list(direction(az, el, th_az, th_el)))
    json.dump({k: [[float(x) for x in row] for row in v] for k, v in out.items()}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
