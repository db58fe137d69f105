#!/usr/bin/env python3
"""Independent batch weighted least-squares fit of a ballistic arc to plots,
and its impact point and 95% ellipse, for tests/track_batch_fit.rs.

No tews code: the dynamics are tests/py/ballistic_propagate.py's (formats.md
section 5: WGS-84, J2, rotating Earth, no atmosphere, written from the
equations), the geometry is pymap3d's (WGS-84 geodetic/ECEF/ENU/AER).

Usage: batch_fit.py IN.json [OUT.json]   (OUT defaults to stdout)

IN is one problem or {"problems": [problem, ...]} (then OUT is
{"results": [result, ...]}, in order). A problem:
  {"site": {"latitude_deg": .., "longitude_deg": .., "height_m": ..},
   "plots": [{"time_s": .., "range_m": .., "azimuth_deg": .., "elevation_deg": ..,
              "range_sigma_m": .., "azimuth_sigma_deg": .., "elevation_sigma_deg": ..}, ...],
   "reference_time_s": optional (default: the last plot's time)}
Times are seconds from any common epoch; the plots must all be ballistic
(the fit assumes the dynamics are known exactly: no process noise).

Method
- Model: the 6-D ECEF state x at the reference time; plot k is predicted by
  propagating x to its time and taking range/azimuth/elevation from the
  site's ENU (pymap3d.ecef2aer); residuals are divided by the plots' sigmas
  (azimuth wrapped to +-180 deg), so the cost is the weighted sum of squares
  (the Gaussian log-likelihood).
- Start: a polynomial (degree 2 for arcs under 100 s, else 3) through the
  plots' ECEF positions (pymap3d.aer2ecef), position and velocity at the
  reference time. Then scipy.optimize.least_squares (trust region, scaled by
  the Jacobian) to convergence.
- Jacobian: central differences (10 m, 0.01 m/s) through the propagator. The
  nominal and the 12 perturbed states are integrated as one stacked ODE
  (DOP853, rtol 1e-11), so all 13 share one step sequence and the
  differences carry no step-size noise.
- Covariance of the state: (J' W J)^-1 at the solution (the Cramer-Rao bound
  of these measurements with known dynamics, to first order).
- Impact: the fitted state flown to its first downward crossing of height 0
  (the ellipsoid). Its covariance on the tangent plane (east, north) at the
  impact point is linearised: G P G', with G the central-difference
  derivative of the impact point's (east, north) with respect to the state,
  each perturbed state flown to its own crossing (dense output, brentq on
  the height). 95% ellipse: semi-axes 2.4477 sqrt(eigenvalues); area
  pi a b.
"""

import json
import math
import sys

import numpy as np
import pymap3d
from scipy.integrate import solve_ivp
from scipy.optimize import brentq, least_squares

import ballistic_propagate as bp

K95 = math.sqrt(-2.0 * math.log(0.05))  # 2.4477
RTOL = 1e-11
ATOL = 1e-5
# Central-difference steps: position m, velocity m/s.
STEPS = np.array([10.0, 10.0, 10.0, 0.01, 0.01, 0.01])


def stacked_rhs(_t, s):
    """rhs of ballistic_propagate for K states stacked as s = X.ravel(), X (6, K)."""
    x = s.reshape(6, -1)
    r, v = x[:3], x[3:]
    g = bp.gravity(r)  # elementwise: works on (3, K)
    w = bp.W
    # - 2 w x v - w x (w x r) with w = (0, 0, W), by components.
    ax = g[0] + 2.0 * w * v[1] + w * w * r[0]
    ay = g[1] - 2.0 * w * v[0] + w * w * r[1]
    az = g[2]
    return np.concatenate([v[0], v[1], v[2], ax, ay, az])


def check_stacked_rhs():
    """The stacked rhs is ballistic_propagate.rhs, column by column."""
    x = np.array(
        [[4.1e6, 3.5e6, 3.9e6, 1500.0, -2200.0, 900.0], [-2.0e6, 5.0e6, 3.3e6, -10.0, 3000.0, -4000.0]]
    ).T
    ours = stacked_rhs(0.0, x.ravel()).reshape(6, -1)
    for k in range(x.shape[1]):
        theirs = bp.rhs(0.0, x[:, k])
        assert np.allclose(ours[:, k], theirs, rtol=1e-14, atol=1e-12), (ours[:, k], theirs)


def propagate(states, t0, times):
    """states (K, 6) at t0 -> array (len(times), K, 6) at `times` (either side of t0)."""
    states = np.asarray(states, dtype=float)
    times = np.asarray(times, dtype=float)
    out = np.empty((len(times), states.shape[0], 6))
    y0 = states.T.ravel()
    for sel in (times < t0, times >= t0):
        idx = np.nonzero(sel)[0]
        if len(idx) == 0:
            continue
        ts = times[idx]
        if np.all(ts == t0):
            out[idx] = states[None]
            continue
        order = np.argsort(-ts) if ts[0] < t0 else np.argsort(ts)
        end = ts[order[-1]]
        sol = solve_ivp(stacked_rhs, (t0, end), y0, method="DOP853", t_eval=ts[order], rtol=RTOL, atol=ATOL)
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed: {sol.message}")
        out[idx[order]] = sol.y.T.reshape(len(order), 6, -1).transpose(0, 2, 1)
    return out


class Problem:
    def __init__(self, p):
        s = p["site"]
        self.site = (float(s["latitude_deg"]), float(s["longitude_deg"]), float(s["height_m"]))
        plots = sorted(p["plots"], key=lambda q: q["time_s"])
        if len(plots) < 4:
            raise ValueError(f"{len(plots)} plots: need at least 4")
        col = lambda k: np.array([float(q[k]) for q in plots])  # noqa: E731
        self.t = col("time_s")
        self.z = np.stack([col("range_m"), col("azimuth_deg"), col("elevation_deg")], axis=1)
        self.sigma = np.stack([col("range_sigma_m"), col("azimuth_sigma_deg"), col("elevation_sigma_deg")], axis=1)
        self.t_ref = float(p.get("reference_time_s", self.t[-1]))
        self._cache = (None, None)

    def predicted(self, states):
        """(len(t), K, 3) predicted range m / az deg / el deg of K states at t_ref."""
        traj = propagate(states, self.t_ref, self.t)
        az, el, rng = pymap3d.ecef2aer(traj[..., 0], traj[..., 1], traj[..., 2], *self.site)
        return np.stack([rng, az, el], axis=-1)

    def whitened(self, h):
        """(len(t), ..., 3) predictions -> normalised residuals, same shape."""
        d = h - self.z[:, None, :] if h.ndim == 3 else h - self.z
        d[..., 1] = (d[..., 1] + 180.0) % 360.0 - 180.0
        sig = self.sigma[:, None, :] if h.ndim == 3 else self.sigma
        return d / sig

    def evaluate(self, x):
        """Normalised residuals (flat) and their Jacobian at x, from one stacked run."""
        key = x.tobytes()
        if self._cache[0] == key:
            return self._cache[1]
        states = [x]
        for i in range(6):
            for sgn in (1.0, -1.0):
                y = x.copy()
                y[i] += sgn * STEPS[i]
                states.append(y)
        res = self.whitened(self.predicted(np.array(states)))  # (n, 13, 3)
        f = res[:, 0, :].ravel()
        jac = np.empty((f.size, 6))
        for i in range(6):
            jac[:, i] = (res[:, 1 + 2 * i, :] - res[:, 2 + 2 * i, :]).ravel() / (2.0 * STEPS[i])
        self._cache = (key, (f, jac))
        return f, jac

    def initial_state(self):
        az, el, rng = self.z[:, 1], self.z[:, 2], self.z[:, 0]
        x, y, zc = pymap3d.aer2ecef(az, el, rng, *self.site)
        span = self.t[-1] - self.t[0]
        deg = 2 if span < 100.0 else 3
        tau = (self.t - self.t_ref) / max(span, 1.0)
        state = np.empty(6)
        for i, c in enumerate((x, y, zc)):
            poly = np.polynomial.Polynomial.fit(tau, c, deg, domain=[-1, 1], window=[-1, 1])
            state[i] = poly(0.0)
            state[3 + i] = poly.deriv()(0.0) / max(span, 1.0)
        return state


def height(r):
    return pymap3d.ecef2geodetic(r[0], r[1], r[2])[2]


def impact(x, t_ref, horizon_s=5000.0):
    """First downward crossing of height 0 after t_ref: (time, ECEF position)."""

    def hit(_t, s):
        return height(s[:3])

    hit.terminal = True
    hit.direction = -1.0
    sol = solve_ivp(bp.rhs, (t_ref, t_ref + horizon_s), x, method="DOP853", events=hit, rtol=RTOL, atol=ATOL)
    if not sol.success or len(sol.t_events[0]) == 0:
        raise RuntimeError("no impact within the horizon")
    return float(sol.t_events[0][0]), sol.y_events[0][0][:3]


def impact_jacobian(x, t_ref, t_imp, geo_imp):
    """d(impact east, north, time)/dx at x by central differences, on the
    tangent plane at geo_imp = (lat, lon, 0)."""
    states = [x]
    for i in range(6):
        for sgn in (1.0, -1.0):
            y = x.copy()
            y[i] += sgn * STEPS[i]
            states.append(y)
    y0 = np.array(states).T.ravel()
    t_end = t_imp + 30.0
    sol = solve_ivp(stacked_rhs, (t_ref, t_end), y0, method="DOP853", dense_output=True, rtol=RTOL, atol=ATOL)
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")

    def state(t, k):
        return sol.sol(t).reshape(6, -1)[:, k]

    pts = []
    for k in range(1, 13):
        tk = brentq(lambda t: height(state(t, k)[:3]), max(t_ref, t_imp - 30.0), t_end, xtol=1e-9)
        r = state(tk, k)[:3]
        e, n, _ = pymap3d.ecef2enu(r[0], r[1], r[2], geo_imp[0], geo_imp[1], 0.0)
        pts.append((e, n, tk))
    pts = np.array(pts)
    g = np.empty((3, 6))
    for i in range(6):
        g[:, i] = (pts[2 * i] - pts[2 * i + 1]) / (2.0 * STEPS[i])
    return g


def ellipse95(cov):
    lam, vec = np.linalg.eigh(0.5 * (cov + cov.T))
    lam = np.clip(lam, 0.0, None)
    a, b = K95 * math.sqrt(lam[1]), K95 * math.sqrt(lam[0])
    e, n = vec[:, 1]
    return {
        "semi_major_m": a,
        "semi_minor_m": b,
        "orientation_deg": math.degrees(math.atan2(e, n)) % 180.0,
        "area_m2": math.pi * a * b,
    }


def solve(p):
    prob = Problem(p)
    x0 = prob.initial_state()
    fit = least_squares(
        lambda x: prob.evaluate(x)[0],
        x0,
        jac=lambda x: prob.evaluate(x)[1],
        method="trf",
        x_scale="jac",
        xtol=1e-12,
        ftol=1e-12,
        gtol=1e-12,
        max_nfev=100,
    )
    x = fit.x
    f, jac = prob.evaluate(x)
    # (J' W J)^-1 with J already whitened; scaled for conditioning.
    d = np.linalg.norm(jac, axis=0)
    js = jac / d
    cov = np.linalg.inv(js.T @ js) / np.outer(d, d)
    cov = 0.5 * (cov + cov.T)
    t_imp, r_imp = impact(x, prob.t_ref)
    lat, lon, _ = pymap3d.ecef2geodetic(*r_imp)
    g = impact_jacobian(x, prob.t_ref, t_imp, (lat, lon))
    cov_ent = g @ cov @ g.T
    chi2 = float(f @ f)
    dof = f.size - 6
    return {
        "plots": int(len(prob.t)),
        "first_plot_time_s": float(prob.t[0]),
        "last_plot_time_s": float(prob.t[-1]),
        "chi2": chi2,
        "dof": dof,
        "nfev": int(fit.nfev),
        "status": int(fit.status),
        "converged": bool(fit.status > 0),
        "initial_state_ecef": x0.tolist(),
        "state": {"time_s": prob.t_ref, "ecef": x.tolist(), "covariance": cov.tolist()},
        "impact": {
            "time_s": t_imp,
            "time_sigma_s": math.sqrt(max(cov_ent[2, 2], 0.0)),
            "latitude_deg": float(lat),
            "longitude_deg": float(lon),
            "position_ecef_m": [float(v) for v in r_imp],
            "covariance_en_m2": cov_ent[:2, :2].tolist(),
            "ellipse": ellipse95(cov_ent[:2, :2]),
        },
    }


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    check_stacked_rhs()
    with open(argv[1]) as fh:
        req = json.load(fh)
    out = {"results": [solve(p) for p in req["problems"]]} if "problems" in req else solve(req)
    text = json.dumps(out)
    if len(argv) == 3:
        with open(argv[2], "w") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
