//! Initiator: two-point initialisation of a state from two plots of
//! successive looks, with the velocity gate that decides whether two plots
//! can belong to one object at all.
//!
//! The position is the second plot's; the velocity the difference quotient,
//! corrected by half a step of the ballistic acceleration (the quotient is
//! the mean velocity over the interval, not the velocity at its end). The
//! covariance is the exact first-order one of that construction, plus the
//! velocity an unknown thrust of up to [`MAX_UNMODELLED_ACCEL_MPS2`] could add
//! over half the interval. Cross-range accuracy at long range is poor, so
//! the initial velocity is loose (hundreds of m/s); the filter tightens it.

use nalgebra::{Matrix3, Matrix6};

use super::filter::GaussianState;
use super::measurement::{Measurement, RadarSite};
use crate::geo::gravity::{GravityModel, acceleration_ecef};
use crate::geo::propagate::StateVector;

/// Largest acceleration the initiator allows for beyond gravity (boost), m/s^2.
pub const MAX_UNMODELLED_ACCEL_MPS2: f64 = 60.0;

/// A two-point initial state, or `None` when the plots are too far apart
/// for an object no faster than `max_speed_mps` (allowing 4 sigma of plot
/// error), or the interval is not positive.
pub fn two_point(
    site: &RadarSite,
    first: &Measurement,
    first_time_s: f64,
    second: &Measurement,
    second_time_s: f64,
    max_speed_mps: f64,
) -> Option<GaussianState> {
    let dt = second_time_s - first_time_s;
    if !(dt > 0.0 && dt.is_finite()) {
        return None;
    }
    let (p1, c1) = site.plot_position(first);
    let (p2, c2) = site.plot_position(second);
    let d = p2 - p1;
    let spread = (c1 + c2).trace().max(0.0).sqrt();
    if d.norm() > max_speed_mps * dt + 4.0 * spread {
        return None;
    }
    let v_mean = d / dt;
    let accel = acceleration_ecef(GravityModel::J2, &p2, &v_mean)?;
    let v = v_mean + 0.5 * dt * accel;
    let mut mean = StateVector::zeros();
    mean.fixed_rows_mut::<3>(0).copy_from(&p2);
    mean.fixed_rows_mut::<3>(3).copy_from(&v);
    let thrust_var = (0.5 * dt * MAX_UNMODELLED_ACCEL_MPS2).powi(2);
    let mut cov = Matrix6::zeros();
    cov.fixed_view_mut::<3, 3>(0, 0).copy_from(&c2);
    cov.fixed_view_mut::<3, 3>(0, 3).copy_from(&(c2 / dt));
    cov.fixed_view_mut::<3, 3>(3, 0).copy_from(&(c2 / dt));
    cov.fixed_view_mut::<3, 3>(3, 3)
        .copy_from(&((c1 + c2) / (dt * dt) + Matrix3::identity() * thrust_var));
    Some(GaussianState {
        time_s: second_time_s,
        mean,
        covariance: cov,
    })
}

/// Unused-plot memory for initiation: a plot no track took, waiting for a
/// partner on a later look.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// The plot.
    pub plot: Measurement,
    /// Its time, seconds since the tracker's epoch.
    pub time_s: f64,
    /// Looks since it was seen (0 on its own look).
    pub age_looks: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn plot(range_m: f64, az: f64, el: f64) -> Measurement {
        Measurement {
            time_utc: OffsetDateTime::UNIX_EPOCH,
            range_m,
            azimuth_deg: az,
            elevation_deg: el,
            range_sigma_m: 5.0,
            azimuth_sigma_deg: 0.02,
            elevation_sigma_deg: 0.02,
        }
    }

    #[test]
    fn velocity_from_two_plots_and_speed_gate() {
        let site = RadarSite::new(40.0, 40.0, 0.0).unwrap();
        // Receding 2 km in range in 1 s along the same line of sight.
        let a = plot(300e3, 100.0, 10.0);
        let b = plot(302e3, 100.0, 10.0);
        let s = two_point(&site, &a, 0.0, &b, 1.0, 8000.0).unwrap();
        let los = (site.plot_position(&b).0 - site.frame().origin_ecef).normalize();
        // Radial speed 2000 m/s plus half a second of gravity along the LOS (< 5 m/s).
        assert!((s.velocity().dot(&los) - 2000.0).abs() < 5.0);
        // Range-rate variance: (5^2 + 5^2) / 1 + thrust allowance along the LOS.
        let var = (los.transpose() * s.covariance.fixed_view::<3, 3>(3, 3) * los)[0];
        assert!((var - (50.0 + 900.0)).abs() < 1.0, "{var}");
        // 20 km in 1 s is faster than 8 km/s plus noise: refused.
        let far = plot(320e3, 100.0, 10.0);
        assert!(two_point(&site, &a, 0.0, &far, 1.0, 8000.0).is_none());
        assert!(two_point(&site, &a, 1.0, &b, 1.0, 8000.0).is_none());
    }
}
