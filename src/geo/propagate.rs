//! Numerical propagation of the ECEF ballistic dynamics of [`super::gravity`].
//!
//! Classical fourth-order Runge-Kutta with a fixed maximum step: a span is cut
//! into equal steps no longer than `max_step_s`, so a propagation is a pure
//! function of (state, span) and two propagations over the same span take the
//! same steps. That determinism is what makes the state transition matrix by
//! central differences of the flow ([`Propagator::propagate_with_stm`]) clean:
//! the perturbed and nominal runs share every step, so the difference holds no
//! step-size noise. Why RK4 and not an adaptive method: tracker spans are one
//! revisit (about a second) and assessment spans a few hundred seconds; with
//! steps of a few seconds the local error `(w_orbit h)^5` is below 1e-12 of the
//! state, far under any measurement accuracy, and the cost is fixed.
//!
//! Events (impact, apogee) are found by watching a scalar event function for a
//! sign change step by step, then bisecting within the step with one RK4 step
//! of the trial length from the step's start.

use nalgebra::{Matrix6, Vector3, Vector6};

use super::gravity::{GravityModel, acceleration_ecef};

/// ECEF state `[x, y, z, vx, vy, vz]`, metres and metres per second.
pub type StateVector = Vector6<f64>;

/// Why a propagation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PropagateError {
    /// The span or step is NaN or infinite, or the step is not positive.
    #[error("propagation span {span_s} s with maximum step {max_step_s} s is not usable")]
    BadSpan {
        /// Requested span, seconds.
        span_s: f64,
        /// Maximum step, seconds.
        max_step_s: f64,
    },
    /// The span would need more steps than the propagator allows.
    #[error("propagation span {span_s} s needs more than {max_steps} steps")]
    TooManySteps {
        /// Requested span, seconds.
        span_s: f64,
        /// The limit.
        max_steps: usize,
    },
    /// The state left the domain of the dynamics (near the Earth's centre) or
    /// became non-finite.
    #[error("state is outside the dynamics' domain (|r| = {radius_m} m)")]
    OutOfDomain {
        /// Distance from the Earth's centre, metres.
        radius_m: f64,
    },
}

/// Most steps one call may take: 10^6 steps of one second is eleven days of
/// flight, far beyond any ballistic trajectory, so hitting it means bad input.
pub const MAX_STEPS: usize = 1_000_000;

/// Fixed-step RK4 propagator of unpowered ECEF motion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Propagator {
    /// Gravity field.
    pub model: GravityModel,
    /// Longest step, seconds.
    pub max_step_s: f64,
}

impl Default for Propagator {
    /// J2 gravity, 2 s steps.
    fn default() -> Self {
        Propagator {
            model: GravityModel::J2,
            max_step_s: 2.0,
        }
    }
}

/// Time derivative of an unpowered state, or `None` outside the domain.
pub fn derivative(model: GravityModel, x: &StateVector) -> Option<StateVector> {
    let r = Vector3::new(x[0], x[1], x[2]);
    let v = Vector3::new(x[3], x[4], x[5]);
    let a = acceleration_ecef(model, &r, &v)?;
    Some(StateVector::new(v.x, v.y, v.z, a.x, a.y, a.z))
}

/// One classical RK4 step of length `h_s` of `x' = f(t, x)` from time `t_s`.
/// `f` returns `None` where the dynamics are undefined.
pub fn rk4_step<F>(f: &F, t_s: f64, x: &StateVector, h_s: f64) -> Option<StateVector>
where
    F: Fn(f64, &StateVector) -> Option<StateVector>,
{
    let k1 = f(t_s, x)?;
    let k2 = f(t_s + 0.5 * h_s, &(x + 0.5 * h_s * k1))?;
    let k3 = f(t_s + 0.5 * h_s, &(x + 0.5 * h_s * k2))?;
    let k4 = f(t_s + h_s, &(x + h_s * k3))?;
    let next = x + h_s / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
    next.iter().all(|c| c.is_finite()).then_some(next)
}

fn out_of_domain(x: &StateVector) -> PropagateError {
    PropagateError::OutOfDomain {
        radius_m: Vector3::new(x[0], x[1], x[2]).norm(),
    }
}

/// Number of equal steps for `span_s` with steps no longer than `max_step_s`.
fn step_count(span_s: f64, max_step_s: f64) -> Result<usize, PropagateError> {
    if !span_s.is_finite() || !max_step_s.is_finite() || max_step_s <= 0.0 {
        return Err(PropagateError::BadSpan { span_s, max_step_s });
    }
    let n = (span_s.abs() / max_step_s).ceil();
    if n > MAX_STEPS as f64 {
        return Err(PropagateError::TooManySteps {
            span_s,
            max_steps: MAX_STEPS,
        });
    }
    // n is a finite non-negative integer no larger than MAX_STEPS.
    Ok((n as usize).max(1))
}

impl Propagator {
    /// The state `dt_s` seconds later (earlier when negative).
    pub fn propagate(&self, x: &StateVector, dt_s: f64) -> Result<StateVector, PropagateError> {
        if dt_s == 0.0 {
            return Ok(*x);
        }
        let n = step_count(dt_s, self.max_step_s)?;
        let h = dt_s / n as f64;
        let f = |_t: f64, s: &StateVector| derivative(self.model, s);
        let mut state = *x;
        for _ in 0..n {
            state = rk4_step(&f, 0.0, &state, h).ok_or_else(|| out_of_domain(&state))?;
        }
        Ok(state)
    }

    /// The state `dt_s` later and the state transition matrix `d x(t+dt) /
    /// d x(t)`, by central differences of the flow (1 m in position, 1 cm/s
    /// in velocity: large against rounding of a 6e6 m state, small against
    /// the flow's curvature).
    pub fn propagate_with_stm(
        &self,
        x: &StateVector,
        dt_s: f64,
    ) -> Result<(StateVector, Matrix6<f64>), PropagateError> {
        let nominal = self.propagate(x, dt_s)?;
        let mut stm = Matrix6::zeros();
        for j in 0..6 {
            let delta = if j < 3 { 1.0 } else { 0.01 };
            let mut plus = *x;
            plus[j] += delta;
            let mut minus = *x;
            minus[j] -= delta;
            let column =
                (self.propagate(&plus, dt_s)? - self.propagate(&minus, dt_s)?) / (2.0 * delta);
            stm.set_column(j, &column);
        }
        Ok((nominal, stm))
    }

    /// The first time within `max_span_s` (of either sign: negative searches
    /// backwards) at which `event(state)` goes from positive to zero or
    /// negative, and the state then; `None` when it does not happen in the span.
    /// The crossing is bisected to `time_tol_s`.
    pub fn propagate_to_event<E>(
        &self,
        x: &StateVector,
        max_span_s: f64,
        event: E,
        time_tol_s: f64,
    ) -> Result<Option<(f64, StateVector)>, PropagateError>
    where
        E: Fn(&StateVector) -> f64,
    {
        let n = step_count(max_span_s, self.max_step_s)?;
        if time_tol_s.is_nan() || time_tol_s <= 0.0 {
            return Err(PropagateError::BadSpan {
                span_s: max_span_s,
                max_step_s: time_tol_s,
            });
        }
        let h = max_span_s / n as f64;
        let f = |_t: f64, s: &StateVector| derivative(self.model, s);
        let mut state = *x;
        let mut g = event(&state);
        for i in 0..n {
            let next = rk4_step(&f, 0.0, &state, h).ok_or_else(|| out_of_domain(&state))?;
            let g_next = event(&next);
            if g > 0.0 && g_next <= 0.0 {
                // Bisect on the fraction of this step.
                let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
                let mut at_hi = next;
                while (hi - lo) * h.abs() > time_tol_s {
                    let mid = 0.5 * (lo + hi);
                    let trial =
                        rk4_step(&f, 0.0, &state, mid * h).ok_or_else(|| out_of_domain(&state))?;
                    if event(&trial) > 0.0 {
                        lo = mid;
                    } else {
                        hi = mid;
                        at_hi = trial;
                    }
                }
                return Ok(Some(((i as f64 + hi) * h, at_hi)));
            }
            state = next;
            g = g_next;
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::gravity::{EARTH_ROTATION_RAD_S, GM_M3_S2, jacobi_integral_point_mass};

    fn leo_state() -> StateVector {
        // A 500 km circular inertial orbit at 30 deg inclination, seen in ECEF
        // at t = 0 (ECEF and inertial axes aligned): v_ecef = v_inertial - w x r.
        let r = 6_878_137.0;
        let v = (GM_M3_S2 / r).sqrt();
        let inc = 30f64.to_radians();
        let rv = Vector3::new(r, 0.0, 0.0);
        let vi = Vector3::new(0.0, v * inc.cos(), v * inc.sin());
        let w = Vector3::new(0.0, 0.0, EARTH_ROTATION_RAD_S);
        let ve = vi - w.cross(&rv);
        StateVector::new(rv.x, rv.y, rv.z, ve.x, ve.y, ve.z)
    }

    #[test]
    fn jacobi_integral_is_conserved_without_j2() {
        let p = Propagator {
            model: GravityModel::PointMass,
            max_step_s: 2.0,
        };
        let x0 = leo_state();
        let c0 = jacobi_integral_point_mass(
            &x0.fixed_rows::<3>(0).into(),
            &x0.fixed_rows::<3>(3).into(),
        );
        let x1 = p.propagate(&x0, 5_000.0).unwrap();
        let c1 = jacobi_integral_point_mass(
            &x1.fixed_rows::<3>(0).into(),
            &x1.fixed_rows::<3>(3).into(),
        );
        // |C| is about 3e7 J/kg; RK4 at 2 s keeps it to well under 1e-9 relative.
        assert!(((c1 - c0) / c0).abs() < 1e-9, "{c0} -> {c1}");
    }

    #[test]
    fn circular_orbit_keeps_its_radius_and_period_without_j2() {
        let p = Propagator {
            model: GravityModel::PointMass,
            max_step_s: 2.0,
        };
        let x0 = leo_state();
        let r0 = 6_878_137.0_f64;
        let period = 2.0 * std::f64::consts::PI * (r0.powi(3) / GM_M3_S2).sqrt();
        let x1 = p.propagate(&x0, period).unwrap();
        let r1 = Vector3::new(x1[0], x1[1], x1[2]);
        assert!((r1.norm() - r0).abs() < 0.05, "{}", r1.norm() - r0);
        // After one inertial period the Earth has turned by w T: the ECEF
        // position is the start rotated by -w T about z.
        let ang = -EARTH_ROTATION_RAD_S * period;
        let expected = Vector3::new(r0 * ang.cos(), r0 * ang.sin(), 0.0);
        assert!((r1 - expected).norm() < 0.5, "{}", (r1 - expected).norm());
    }

    #[test]
    fn backward_undoes_forward_and_stm_matches_a_finite_step() {
        let p = Propagator::default();
        let x0 = leo_state();
        let x1 = p.propagate(&x0, 300.0).unwrap();
        let back = p.propagate(&x1, -300.0).unwrap();
        assert!((back - x0).fixed_rows::<3>(0).norm() < 1e-4);
        let (_, stm) = p.propagate_with_stm(&x0, 60.0).unwrap();
        let mut dx = StateVector::zeros();
        dx[1] = 30.0;
        dx[5] = 0.2;
        let predicted = p.propagate(&x0, 60.0).unwrap() + stm * dx;
        let actual = p.propagate(&(x0 + dx), 60.0).unwrap();
        assert!(
            (predicted - actual).norm() < 1e-3,
            "{}",
            (predicted - actual).norm()
        );
        // Over a short span the STM is close to [[I, dt I], [0, I]].
        assert!((stm[(0, 3)] - 60.0).abs() < 1.0);
    }

    #[test]
    fn events_are_found_and_bad_spans_refused() {
        let p = Propagator::default();
        let x0 = leo_state();
        // z goes from 0 up and comes back through 0 after half an orbit.
        let mut x = x0;
        x[2] = 1.0;
        let hit = p.propagate_to_event(&x, 4_000.0, |s| s[2], 1e-6).unwrap();
        let (t, s) = hit.expect("crossing");
        assert!(t > 2_000.0 && t < 3_500.0, "{t}");
        assert!(s[2].abs() < 0.1, "{}", s[2]);
        assert!(p.propagate(&x0, f64::NAN).is_err());
        assert!(p.propagate(&x0, 1e12).is_err());
        assert!(p.propagate(&StateVector::zeros(), 10.0).is_err());
    }
}
