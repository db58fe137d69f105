//! Assessment of a ballistic track: where and when it will land, where and
//! when it was launched, its apogee, each with an honest 95% uncertainty.
//!
//! # Covariance propagation: sigma points
//! The impact and launch points are strongly non-linear functions of the
//! state (a stopping condition on a numerically integrated trajectory), so
//! the filter covariance is pushed through them with the unscented transform
//! rather than a Jacobian: `2n = 12` symmetric sigma points `x +- sqrt(n)
//! L_i` (`L L' = P`, from the symmetric eigen-decomposition so a
//! near-singular `P` still works), equal weights `1/(2n)`. Each point is
//! propagated with the same ballistic dynamics (formats.md §5) to its own
//! crossing of height 0; the points' spread on the local tangent plane at the
//! mean impact point gives the 2x2 covariance, their times the time sigma.
//! The transform is exact for the mean and covariance of a linear map and
//! good to second order otherwise; at the errors a converged track has
//! (hundreds of metres, a few m/s) the impact map is close to linear.
//!
//! # Launch point: back-propagation plus a boost prior
//! The track's ballistic arc, flown backwards, reaches the ground at a point
//! `B` that is not the launch point: the object was pushed there by a boost
//! the radar never fully saw and the processor does not know (§5). The
//! launch point is estimated as `B` plus the mean offset from `B` to the true
//! launch point over a stated family of boost profiles ([`BoostFamily`]),
//! and its covariance as the sigma points' spread of `B` plus the family's
//! spread of that offset (along and across the arc's ground track, and in
//! time). The offsets are computed by flying profiles of the family from
//! the track's own `B` along its own heading, so latitude and azimuth
//! effects (Coriolis) are included. Across the family the cross-track offset
//! is a curved function of the along-track one, so the Gaussian ellipse of
//! the samples is widened along its minor axis until it holds 95% of them.
//! The stated 95% holds for launches whose boost is drawn from that family
//! (the default includes a small yaw steering, so the boost is not assumed
//! planar); for others, the family must be widened. Measured on the
//! plot-level Monte Carlo: 0.98 at the first warning, but 0.87-0.91 late in
//! the flight, when the family's spread is all that is left: an open
//! shortfall (misses across the track) whose cause is not found. Until it
//! is, the offset's minor axis is widened 1.5x in sigma
//! ([`MINOR_INFLATION`], measured on 120 runs and checked on 60 others:
//! 0.92-0.97 at the end of the observation).
//!
//! # Ellipses
//! `ellipse_95` of a 2x2 east/north covariance: semi-axes `k sqrt(lambda)`
//! with `k = sqrt(-2 ln 0.05) = 2.448` (the Mahalanobis radius holding 95%
//! of a 2-D Gaussian), orientation of the major axis clockwise from north in
//! [0, 180).

pub mod warning;

use nalgebra::{Matrix2, Matrix6, SymmetricEigen, Vector2, Vector3};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::Serialize;

use crate::geo::gravity::GravityModel;
use crate::geo::propagate::{PropagateError, Propagator, StateVector};
use crate::geo::{Geodetic, LocalFrame};
use crate::sim::ballistic::{BoostProfile, Launch, fly_boost, height_m, vertical_speed_mps};
use crate::track::GaussianState;

pub use warning::{WarningIssuer, WarningPoint, WarningReport, WarningRule};

/// Mahalanobis radius of the 95% ellipse of a 2-D Gaussian, `sqrt(-2 ln 0.05)`.
pub const K95: f64 = 2.447_746_830_680_816;

/// Why an assessment could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AssessError {
    /// A sigma point (or the mean) does not come down within the horizon.
    #[error("no crossing of the ellipsoid within {0} s")]
    NoCrossing(f64),
    /// Propagation failed.
    #[error(transparent)]
    Propagate(#[from] PropagateError),
    /// A covariance that is not finite.
    #[error("the track covariance is not finite")]
    BadCovariance,
    /// A time that cannot be represented.
    #[error("time out of range: {0}")]
    Time(String),
    /// The boost family produced no usable sample.
    #[error("boost family: {0}")]
    BoostFamily(String),
}

/// 95% ellipse on the local tangent plane (formats.md §7 field names).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Ellipse95 {
    /// Semi-major axis, m.
    pub semi_major_m: f64,
    /// Semi-minor axis, m.
    pub semi_minor_m: f64,
    /// Major axis, deg clockwise from north, in [0, 180).
    pub orientation_deg: f64,
}

impl Ellipse95 {
    /// The 95% ellipse of an east/north covariance (m^2).
    pub fn from_covariance(cov_en_m2: &Matrix2<f64>) -> Self {
        let (a, b, c) = (
            cov_en_m2[(0, 0)],
            0.5 * (cov_en_m2[(0, 1)] + cov_en_m2[(1, 0)]),
            cov_en_m2[(1, 1)],
        );
        let mean = 0.5 * (a + c);
        let half_diff = (0.25 * (a - c) * (a - c) + b * b).sqrt();
        let l1 = (mean + half_diff).max(0.0);
        let l2 = (mean - half_diff).max(0.0);
        // Major-axis direction (e, n) = (b, l1 - a) or (l1 - c, b); azimuth atan2(e, n).
        let (e, n) = if (l1 - a).abs() + b.abs() > (l1 - c).abs() + b.abs() {
            (b, l1 - a)
        } else {
            (l1 - c, b)
        };
        let orientation = if e == 0.0 && n == 0.0 {
            0.0
        } else {
            e.atan2(n).to_degrees().rem_euclid(180.0)
        };
        Ellipse95 {
            semi_major_m: K95 * l1.sqrt(),
            semi_minor_m: K95 * l2.sqrt(),
            orientation_deg: if orientation >= 180.0 {
                0.0
            } else {
                orientation
            },
        }
    }

    /// Squared Mahalanobis distance of an east/north offset (m) from the
    /// ellipse's centre under the Gaussian it was drawn from: inside the
    /// ellipse when at most `K95^2 = 5.99`. Infinite for a degenerate
    /// ellipse.
    pub fn mahalanobis2(&self, east_m: f64, north_m: f64) -> f64 {
        let (s, c) = self.orientation_deg.to_radians().sin_cos();
        // Along the major axis (s, c) in (east, north), and across it.
        let major = east_m * s + north_m * c;
        let minor = -east_m * c + north_m * s;
        let (a, b) = (self.semi_major_m / K95, self.semi_minor_m / K95);
        if a > 0.0 && b > 0.0 {
            (major / a).powi(2) + (minor / b).powi(2)
        } else {
            f64::INFINITY
        }
    }
}

/// An assessed point (impact or launch).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointAssessment {
    /// Predicted time, s since the tracker's epoch.
    pub time_s: f64,
    /// 1-sigma of `time_s`, s.
    pub time_sigma_s: f64,
    /// Predicted position (height 0).
    pub geodetic: Geodetic,
    /// East/north covariance on the tangent plane at `geodetic`, m^2.
    pub covariance_en_m2: Matrix2<f64>,
    /// Its 95% ellipse.
    pub ellipse: Ellipse95,
}

impl PointAssessment {
    /// Squared Mahalanobis distance of a true point from this estimate on its
    /// tangent plane: inside the 95% ellipse when below `K95^2 = 5.99`.
    pub fn mahalanobis2(&self, truth_ecef_m: &Vector3<f64>) -> f64 {
        let frame = LocalFrame::new(Geodetic {
            height_m: 0.0,
            ..self.geodetic
        });
        let d = frame.ecef_to_enu(truth_ecef_m);
        let d = Vector2::new(d.x, d.y);
        match self.covariance_en_m2.try_inverse() {
            Some(inv) => (d.transpose() * inv * d)[0],
            None => f64::INFINITY,
        }
    }
}

/// The assessment of one track state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assessment {
    /// Time of the state assessed, s since the epoch.
    pub time_s: f64,
    /// Predicted impact.
    pub impact: PointAssessment,
    /// Estimated launch.
    pub launch: PointAssessment,
    /// Apogee height of the estimated arc (predicted or passed), m.
    pub apogee_height_m: f64,
    /// Time of that apogee, s since the epoch.
    pub apogee_time_s: f64,
    /// `impact.time_s - time_s`, s.
    pub time_to_impact_s: f64,
}

/// A Gaussian family of boost profiles: each parameter `mean +- sigma`,
/// clipped to `[min, max]` (see the module docs for what it is used for).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoostFamily {
    /// Burn time (mean, sigma, min, max), s.
    pub burn_time_s: [f64; 4],
    /// Thrust acceleration, m/s^2.
    pub thrust_accel_mps2: [f64; 4],
    /// Vertical rise, s.
    pub vertical_rise_s: [f64; 4],
    /// Burnout flight-path angle, deg.
    pub burnout_flight_path_deg: [f64; 4],
    /// Yaw steering rate after the vertical rise, deg/s.
    pub yaw_rate_deg_s: [f64; 4],
}

impl Default for BoostFamily {
    /// Single-stage short/medium-range missiles: 60-120 s burn at 2.5-4 g,
    /// 5-15 s vertical rise, 30-50 deg at burnout, yaw steering of
    /// 0.005 deg/s rms (a few tenths of a degree of dog-leg over the burn).
    fn default() -> Self {
        BoostFamily {
            burn_time_s: [90.0, 12.0, 60.0, 120.0],
            thrust_accel_mps2: [35.0, 3.0, 25.0, 45.0],
            vertical_rise_s: [10.0, 2.5, 4.0, 16.0],
            burnout_flight_path_deg: [40.0, 4.0, 28.0, 52.0],
            yaw_rate_deg_s: [0.0, 0.005, -0.02, 0.02],
        }
    }
}

impl BoostFamily {
    /// One profile drawn from the family.
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> BoostProfile {
        let mut draw = |p: [f64; 4]| {
            let z: f64 = rng.sample(StandardNormal);
            (p[0] + p[1] * z).clamp(p[2], p[3])
        };
        BoostProfile {
            burn_time_s: draw(self.burn_time_s),
            thrust_accel_mps2: draw(self.thrust_accel_mps2),
            vertical_rise_s: draw(self.vertical_rise_s),
            burnout_flight_path_deg: draw(self.burnout_flight_path_deg),
            yaw_rate_deg_s: draw(self.yaw_rate_deg_s),
        }
    }
}

/// Settings of the assessor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assessor {
    /// Propagator for the sigma points (J2, a few seconds per step).
    pub propagator: Propagator,
    /// Longest flight searched for a crossing, s.
    pub horizon_s: f64,
    /// The boost family the launch estimate assumes.
    pub boost_family: BoostFamily,
    /// Profiles drawn from it per assessment.
    pub boost_samples: usize,
    /// Seed of those draws (fixed: the same track gives the same answer).
    pub boost_seed: u64,
}

impl Default for Assessor {
    fn default() -> Self {
        Assessor {
            propagator: Propagator {
                model: GravityModel::J2,
                max_step_s: 2.0,
            },
            horizon_s: 5_000.0,
            boost_family: BoostFamily::default(),
            boost_samples: 200,
            boost_seed: 0x7e55,
        }
    }
}

/// Sigma points of `N(mean, cov)`: `mean +- sqrt(6) L_i`, weights 1/12 each.
pub fn sigma_points(mean: &StateVector, cov: &Matrix6<f64>) -> Option<Vec<StateVector>> {
    if !cov.iter().all(|v| v.is_finite()) {
        return None;
    }
    let eig = SymmetricEigen::new((cov + cov.transpose()) * 0.5);
    let mut points = Vec::with_capacity(12);
    for i in 0..6 {
        let col = eig.eigenvectors.column(i) * (6.0 * eig.eigenvalues[i].max(0.0)).sqrt();
        points.push(mean + col);
        points.push(mean - col);
    }
    Some(points)
}

/// Mean and east/north covariance of ECEF points on a tangent plane at their
/// mean (projected to height 0), and mean/sigma of their times.
fn plane_statistics(points: &[(f64, Vector3<f64>)]) -> (Geodetic, Matrix2<f64>, f64, f64) {
    let n = points.len() as f64;
    let mean_r = points.iter().map(|p| p.1).sum::<Vector3<f64>>() / n;
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / n;
    let g = Geodetic {
        height_m: 0.0,
        ..Geodetic::from_ecef(&mean_r)
    };
    let frame = LocalFrame::new(g);
    let mut cov = Matrix2::zeros();
    let mut var_t = 0.0;
    for (t, r) in points {
        let d = frame.ecef_to_enu(r);
        let d = Vector2::new(d.x, d.y);
        cov += d * d.transpose() / n;
        var_t += (t - mean_t).powi(2) / n;
    }
    (g, cov, mean_t, var_t.sqrt())
}

/// Azimuth of the horizontal velocity of a state, deg.
fn heading_deg(x: &StateVector) -> f64 {
    let r: Vector3<f64> = x.fixed_rows::<3>(0).into();
    let v: Vector3<f64> = x.fixed_rows::<3>(3).into();
    let frame = LocalFrame::new(Geodetic::from_ecef(&r));
    let enu = frame.rotate_to_enu(&v);
    enu.x.atan2(enu.y).to_degrees()
}

impl Assessor {
    /// The first crossing of height 0 (forward when `span_s > 0`).
    fn crossing(&self, x: &StateVector, span_s: f64) -> Result<(f64, StateVector), AssessError> {
        self.propagator
            .propagate_to_event(x, span_s, height_m, 1e-6)?
            .ok_or(AssessError::NoCrossing(span_s.abs()))
    }

    /// Assesses a ballistic track state.
    pub fn assess(&self, state: &GaussianState) -> Result<Assessment, AssessError> {
        let points =
            sigma_points(&state.mean, &state.covariance).ok_or(AssessError::BadCovariance)?;
        let mut impacts = Vec::with_capacity(points.len());
        let mut grounds = Vec::with_capacity(points.len());
        for p in &points {
            let (dt, s) = self.crossing(p, self.horizon_s)?;
            impacts.push((state.time_s + dt, s.fixed_rows::<3>(0).into()));
            let (dt, s) = self.crossing(p, -self.horizon_s)?;
            grounds.push((state.time_s + dt, s.fixed_rows::<3>(0).into()));
        }
        let (ig, icov, it, its) = plane_statistics(&impacts);
        let impact = PointAssessment {
            time_s: it,
            time_sigma_s: its,
            geodetic: ig,
            covariance_en_m2: icov,
            ellipse: Ellipse95::from_covariance(&icov),
        };
        // Launch: B from the sigma points, then the boost family's offset.
        let (bg, bcov, bt, bts) = plane_statistics(&grounds);
        let (_, b_state) = self.crossing(&state.mean, -self.horizon_s)?;
        let heading = heading_deg(&b_state);
        let offset = self.boost_offsets(bg, heading)?;
        let (sh, ch) = heading.to_radians().sin_cos();
        // Along-track unit (sin h, cos h), cross-track (to the right) (cos h, -sin h).
        let rot = Matrix2::new(sh, ch, ch, -sh);
        let d_en = rot * Vector2::new(offset.mean[0], offset.mean[1]);
        let frame_b = LocalFrame::new(bg);
        let launch_ecef = frame_b.enu_to_ecef(&Vector3::new(d_en.x, d_en.y, 0.0));
        let lg = Geodetic {
            height_m: 0.0,
            ..Geodetic::from_ecef(&launch_ecef)
        };
        // bcov in along/cross axes (rot maps along/cross to east/north).
        let b_ac = rot.transpose() * bcov * rot;
        let offset_cov = calibrated_offset_cov(&offset, &b_ac);
        let lcov = bcov + rot * offset_cov * rot.transpose();
        let launch = PointAssessment {
            time_s: bt + offset.mean[2],
            time_sigma_s: (bts * bts + offset.time_var_s2).sqrt(),
            geodetic: lg,
            covariance_en_m2: lcov,
            ellipse: Ellipse95::from_covariance(&lcov),
        };
        // Apogee of the mean arc, forwards if still climbing, else backwards.
        let climbing = vertical_speed_mps(&state.mean) > 0.0;
        let found = if climbing {
            self.propagator.propagate_to_event(
                &state.mean,
                self.horizon_s,
                vertical_speed_mps,
                1e-3,
            )?
        } else {
            self.propagator.propagate_to_event(
                &state.mean,
                -self.horizon_s,
                |s| -vertical_speed_mps(s),
                1e-3,
            )?
        };
        let (apogee_dt, apogee_state) = found.ok_or(AssessError::NoCrossing(self.horizon_s))?;
        Ok(Assessment {
            time_s: state.time_s,
            impact,
            launch,
            apogee_height_m: height_m(&apogee_state),
            apogee_time_s: state.time_s + apogee_dt,
            time_to_impact_s: impact.time_s - state.time_s,
        })
    }

    /// Offset of the true launch point from the back-propagated ground point
    /// over the boost family, flown from `b` along `heading_deg`: mean
    /// (along m, cross m, time s) and the along/cross covariance.
    fn boost_offsets(&self, b: Geodetic, azimuth_deg: f64) -> Result<BoostOffset, AssessError> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.boost_seed);
        let pad_frame = LocalFrame::new(b);
        let mut samples = Vec::with_capacity(self.boost_samples);
        for _ in 0..self.boost_samples {
            let launch = Launch {
                latitude_deg: b.latitude_deg,
                longitude_deg: b.longitude_deg,
                azimuth_deg,
                time_s: 0.0,
                boost: self.boost_family.sample(&mut rng),
            };
            // Only the burnout state is needed: one sample per burn time.
            let Ok(truth) = fly_boost(&launch) else {
                continue;
            };
            let Ok((dt, ground)) = self.crossing(&truth.state, -self.horizon_s) else {
                continue;
            };
            // Offset of the pad from this profile's ground point, in that
            // point's along/cross axes.
            let g = Geodetic::from_ecef(&ground.fixed_rows::<3>(0).into());
            let frame = LocalFrame::new(Geodetic { height_m: 0.0, ..g });
            let d = frame.ecef_to_enu(&pad_frame.origin_ecef);
            let h = heading_deg(&ground).to_radians();
            let (sh, ch) = h.sin_cos();
            let along = d.x * sh + d.y * ch;
            let cross = d.x * ch - d.y * sh;
            // Launch at 0, burnout at burn_time, ground crossing at burn_time + dt.
            let time = -(truth.time_s + dt);
            samples.push([along, cross, time]);
        }
        if samples.len() < 10 {
            return Err(AssessError::BoostFamily(format!(
                "only {} usable profiles",
                samples.len()
            )));
        }
        let n = samples.len() as f64;
        let mut mean = [0.0; 3];
        for s in &samples {
            for k in 0..3 {
                mean[k] += s[k] / n;
            }
        }
        let mut cov = Matrix2::zeros();
        let mut time_var = 0.0;
        for s in &samples {
            let d = Vector2::new(s[0] - mean[0], s[1] - mean[1]);
            cov += d * d.transpose() / (n - 1.0);
            time_var += (s[2] - mean[2]).powi(2) / (n - 1.0);
        }
        Ok(BoostOffset {
            mean,
            cov,
            time_var_s2: time_var,
            samples,
        })
    }
}

struct BoostOffset {
    mean: [f64; 3],
    cov: Matrix2<f64>,
    time_var_s2: f64,
    samples: Vec<[f64; 3]>,
}

/// The along/cross covariance of the launch error, widened along its minor
/// axis until the 95% ellipse holds 95% of the boost family's samples.
///
/// Why: across the family the cross-track offset is a curved function of
/// the along-track one (a thin banana), so the samples' covariance gives an
/// ellipse far too thin across it (measured: 2-3 sigma misses across the
/// track). Only the minor axis is widened; the along-track spread is close
/// to Gaussian and left as it is. `b_cov` is the back-propagated point's own
/// covariance in the same axes.
/// Variance factor on the minor (cross-track) axis of the boost family's
/// launch offset: 1.5x in sigma. An empirical calibration of an open
/// shortfall, not a model: the family reproduces its own draws, yet on the
/// plot-level Monte Carlo the end-of-flight launch ellipse (where the
/// family's spread is all that is left) held the true launch point only
/// 0.87 (seeds 1000-1059) and 0.88-0.91 (other sets) of the time, the
/// misses across the track. Chosen on seeds 1000-1059 and 3000-3059 (0.95
/// and 0.92 with it), checked on 5000-5059 (0.97). An over-confident
/// launch ellipse is a defect; a slightly wide one until the cause is
/// found is not.
pub const MINOR_INFLATION: f64 = 2.25;

fn calibrated_offset_cov(offset: &BoostOffset, b_cov: &Matrix2<f64>) -> Matrix2<f64> {
    let total = offset.cov + b_cov;
    let eig = SymmetricEigen::new(total);
    let (major, minor) = if eig.eigenvalues[0] >= eig.eigenvalues[1] {
        (0, 1)
    } else {
        (1, 0)
    };
    let (l_major, l_minor) = (
        eig.eigenvalues[major].max(1e-12),
        eig.eigenvalues[minor].max(1e-12),
    );
    let (u_major, u_minor) = (
        eig.eigenvectors.column(major),
        eig.eigenvectors.column(minor),
    );
    let z: Vec<(f64, f64)> = offset
        .samples
        .iter()
        .map(|s| {
            let d = Vector2::new(s[0] - offset.mean[0], s[1] - offset.mean[1]);
            (
                d.dot(&u_major).powi(2) / l_major,
                d.dot(&u_minor).powi(2) / l_minor,
            )
        })
        .collect();
    let inside = |scale: f64| {
        z.iter().filter(|(a, b)| a + b / scale <= K95 * K95).count() as f64 / z.len() as f64
    };
    let mut scale = 1.0;
    if inside(scale) < 0.95 {
        let (mut lo, mut hi) = (1.0, 2.0);
        while inside(hi) < 0.95 && hi < 1e6 {
            hi *= 2.0;
        }
        for _ in 0..40 {
            let mid = 0.5 * (lo + hi);
            if inside(mid) >= 0.95 {
                hi = mid
            } else {
                lo = mid
            }
        }
        scale = hi;
    }
    let widened = u_major * u_major.transpose() * l_major
        + u_minor * u_minor.transpose() * (l_minor * scale * MINOR_INFLATION);
    widened - b_cov
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ellipse_distance_equals_the_covariance_quadratic_form() {
        let cov = Matrix2::new(900.0, 350.0, 350.0, 400.0);
        let e = Ellipse95::from_covariance(&cov);
        let inv = cov.try_inverse().unwrap();
        for (x, y) in [(10.0, 0.0), (0.0, -20.0), (31.0, 17.0), (-5.0, 44.0)] {
            let d = Vector2::new(x, y);
            let q = (d.transpose() * inv * d)[0];
            assert!(
                (e.mahalanobis2(x, y) - q).abs() < 1e-9 * q.max(1.0),
                "{x} {y}"
            );
        }
    }

    #[test]
    fn ellipse_of_hand_covariances() {
        // Diagonal: 400^2 east, 100^2 north: major along east (90 deg).
        let e = Ellipse95::from_covariance(&Matrix2::new(160_000.0, 0.0, 0.0, 10_000.0));
        assert!((e.semi_major_m - K95 * 400.0).abs() < 1e-9);
        assert!((e.semi_minor_m - K95 * 100.0).abs() < 1e-9);
        assert!((e.orientation_deg - 90.0).abs() < 1e-9);
        // Major along north-east: cov = R diag(4, 1) R' with R at 45 deg:
        // [[2.5, 1.5], [1.5, 2.5]].
        let e = Ellipse95::from_covariance(&Matrix2::new(2.5, 1.5, 1.5, 2.5));
        assert!((e.semi_major_m - K95 * 2.0).abs() < 1e-9);
        assert!(
            (e.orientation_deg - 45.0).abs() < 1e-9,
            "{}",
            e.orientation_deg
        );
        let e = Ellipse95::from_covariance(&Matrix2::new(2.5, -1.5, -1.5, 2.5));
        assert!(
            (e.orientation_deg - 135.0).abs() < 1e-9,
            "{}",
            e.orientation_deg
        );
        assert!((K95 - (-2.0 * 0.05f64.ln()).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn sigma_points_reproduce_mean_and_covariance() {
        let mut cov = Matrix6::identity() * 4.0;
        cov[(0, 3)] = 1.5;
        cov[(3, 0)] = 1.5;
        let mean = StateVector::new(1.0, 2.0, 3.0, 4.0, 5.0, 6.0);
        let pts = sigma_points(&mean, &cov).unwrap();
        let m = pts.iter().sum::<StateVector>() / 12.0;
        assert!((m - mean).norm() < 1e-12);
        let c = pts
            .iter()
            .map(|p| (p - mean) * (p - mean).transpose())
            .sum::<Matrix6<f64>>()
            / 12.0;
        assert!((c - cov).norm() < 1e-9);
    }
}
