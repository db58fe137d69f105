"""Independent propagator for tews's ballistic dynamics (formats.md section 5).

Reads one JSON object on stdin: {"state": [x, y, z, vx, vy, vz], "times_s": [...]}
(ECEF metres and metres per second; times after the initial state, increasing),
integrates r'' = g_J2(r) - 2 w x r' - w x (w x r) with SciPy's DOP853 at tight
tolerances, and prints {"states": [[...], ...]} at the requested times.

Written from the equations, not from the Rust code: gravity is the gradient
of the J2 potential U = -GM/r (1 - J2 (a/r)^2 (3 sin^2(phi) - 1) / 2), taken
here in closed form.
"""

import json
import sys

import numpy as np
from scipy.integrate import solve_ivp

GM = 3.986004418e14
J2 = 1.08262668e-3
A = 6378137.0
W = 7.292115e-5


def gravity(r):
    x, y, z = r
    rho2 = x * x + y * y + z * z
    rho = np.sqrt(rho2)
    zr2 = z * z / rho2
    c = 1.5 * J2 * (A * A / rho2)
    common = -GM / rho**3
    gx = common * x * (1.0 + c * (1.0 - 5.0 * zr2))
    gy = common * y * (1.0 + c * (1.0 - 5.0 * zr2))
    gz = common * z * (1.0 + c * (3.0 - 5.0 * zr2))
    return np.array([gx, gy, gz])


def rhs(_t, s):
    r, v = s[:3], s[3:]
    w = np.array([0.0, 0.0, W])
    a = gravity(r) - 2.0 * np.cross(w, v) - np.cross(w, np.cross(w, r))
    return np.concatenate([v, a])


def main():
    req = json.load(sys.stdin)
    times = np.asarray(req["times_s"], dtype=float)
    sol = solve_ivp(
        rhs,
        (0.0, float(times[-1])),
        np.asarray(req["state"], dtype=float),
        method="DOP853",
        t_eval=times,
        rtol=1e-12,
        atol=1e-6,
    )
    if not sol.success:
        raise SystemExit(f"solve_ivp failed: {sol.message}")
    json.dump({"states": sol.y.T.tolist()}, sys.stdout)


if __name__ == "__main__":
    main()
