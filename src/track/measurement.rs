//! What the tracker consumes: a plot's range, azimuth and elevation from a
//! known site with their 1-sigma accuracies, and the measurement model that
//! maps an ECEF state to those quantities (the EKF's `h(x)` and Jacobian).

use nalgebra::{Matrix3, Matrix3x6, Vector3};
use time::OffsetDateTime;

use super::TrackError;
use crate::geo::{Geodetic, LocalFrame};

/// One plot as the tracker sees it (formats.md §2 fields it uses).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Time of the plot, UTC.
    pub time_utc: OffsetDateTime,
    /// Range from the site, metres.
    pub range_m: f64,
    /// Azimuth, degrees clockwise from north.
    pub azimuth_deg: f64,
    /// Elevation above the local horizontal, degrees.
    pub elevation_deg: f64,
    /// 1-sigma range accuracy, metres.
    pub range_sigma_m: f64,
    /// 1-sigma azimuth accuracy, degrees (already divided by cos(elevation)).
    pub azimuth_sigma_deg: f64,
    /// 1-sigma elevation accuracy, degrees.
    pub elevation_sigma_deg: f64,
}

impl Measurement {
    /// Checks that every value is finite and every sigma positive, and that
    /// the elevation is inside (-90, 90): a bad plot is an error, not a panic
    /// or a NaN in a covariance.
    pub fn validate(&self) -> Result<(), TrackError> {
        let values = [
            ("range_m", self.range_m),
            ("azimuth_deg", self.azimuth_deg),
            ("elevation_deg", self.elevation_deg),
        ];
        for (name, v) in values {
            if !v.is_finite() {
                return Err(TrackError::BadMeasurement(format!(
                    "{name} = {v} is not finite"
                )));
            }
        }
        let sigmas = [
            ("range_sigma_m", self.range_sigma_m),
            ("azimuth_sigma_deg", self.azimuth_sigma_deg),
            ("elevation_sigma_deg", self.elevation_sigma_deg),
        ];
        for (name, v) in sigmas {
            if !(v.is_finite() && v > 0.0) {
                return Err(TrackError::BadMeasurement(format!(
                    "{name} = {v} must be positive"
                )));
            }
        }
        if self.range_m <= 0.0 || self.elevation_deg.abs() >= 90.0 {
            return Err(TrackError::BadMeasurement(format!(
                "range {} m / elevation {} deg outside the usable domain",
                self.range_m, self.elevation_deg
            )));
        }
        Ok(())
    }

    /// The measurement vector `[range_m, azimuth_rad, elevation_rad]`.
    pub fn vector(&self) -> Vector3<f64> {
        Vector3::new(
            self.range_m,
            self.azimuth_deg.to_radians(),
            self.elevation_deg.to_radians(),
        )
    }

    /// The measurement noise covariance, in the units of [`Self::vector`].
    pub fn noise_covariance(&self) -> Matrix3<f64> {
        Matrix3::from_diagonal(&Vector3::new(
            self.range_sigma_m.powi(2),
            self.azimuth_sigma_deg.to_radians().powi(2),
            self.elevation_sigma_deg.to_radians().powi(2),
        ))
    }
}

/// The radar site and its local frame: where range/az/el are measured from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadarSite {
    frame: LocalFrame,
}

impl RadarSite {
    /// A site at a WGS-84 position; rejects non-finite or impossible values.
    pub fn new(latitude_deg: f64, longitude_deg: f64, height_m: f64) -> Result<Self, TrackError> {
        let within = |v: f64, lo: f64, hi: f64| v.is_finite() && (lo..=hi).contains(&v);
        if !(within(latitude_deg, -90.0, 90.0)
            && within(longitude_deg, -180.0, 360.0)
            && within(height_m, -1_000.0, 25_000.0))
        {
            return Err(TrackError::BadSite {
                latitude_deg,
                longitude_deg,
                height_m,
            });
        }
        Ok(RadarSite {
            frame: LocalFrame::new(Geodetic {
                latitude_deg,
                longitude_deg,
                height_m,
            }),
        })
    }

    /// The site's local ENU frame.
    pub fn frame(&self) -> &LocalFrame {
        &self.frame
    }

    /// `[range_m, azimuth_rad, elevation_rad]` of an ECEF point, azimuth in
    /// [0, 2 pi). `None` at the site itself.
    pub fn measure(&self, position_ecef_m: &Vector3<f64>) -> Option<Vector3<f64>> {
        let d = self.frame.ecef_to_enu(position_ecef_m);
        let range = d.norm();
        if range.is_nan() || range <= 1e-3 {
            return None;
        }
        let horizontal = d.x.hypot(d.y);
        let az = d.x.atan2(d.y).rem_euclid(std::f64::consts::TAU);
        Some(Vector3::new(range, az, d.z.atan2(horizontal)))
    }

    /// `d [range, az, el] / d [r, v]` at an ECEF point (zero in velocity).
    /// `None` at the site or straight above it, where azimuth is undefined.
    pub fn jacobian(&self, position_ecef_m: &Vector3<f64>) -> Option<Matrix3x6<f64>> {
        let d = self.frame.ecef_to_enu(position_ecef_m);
        let (e, n, u) = (d.x, d.y, d.z);
        let rho2 = d.norm_squared();
        let h2 = e * e + n * n;
        if h2.is_nan() || h2 <= 1e-6 {
            return None;
        }
        let rho = rho2.sqrt();
        let h = h2.sqrt();
        #[rustfmt::skip]
        let j_enu = Matrix3::new(
            e / rho, n / rho, u / rho,
            n / h2, -e / h2, 0.0,
            -e * u / (rho2 * h), -n * u / (rho2 * h), h / rho2,
        );
        let j_ecef = j_enu * self.frame.rotation();
        let mut out = Matrix3x6::zeros();
        out.fixed_view_mut::<3, 3>(0, 0).copy_from(&j_ecef);
        Some(out)
    }

    /// ECEF position of a measurement and its covariance (first order in the
    /// measurement noise): what a one-plot initialisation starts from.
    pub fn plot_position(&self, m: &Measurement) -> (Vector3<f64>, Matrix3<f64>) {
        let (sa, ca) = m.azimuth_deg.to_radians().sin_cos();
        let (se, ce) = m.elevation_deg.to_radians().sin_cos();
        let r = m.range_m;
        let enu = Vector3::new(r * ce * sa, r * ce * ca, r * se);
        // Columns: d enu / d range, d / d az, d / d el.
        #[rustfmt::skip]
        let j = Matrix3::new(
            ce * sa, r * ce * ca, -r * se * sa,
            ce * ca, -r * ce * sa, -r * se * ca,
            se, 0.0, r * ce,
        );
        let rot_t = self.frame.rotation().transpose();
        let j_ecef = rot_t * j;
        let cov = j_ecef * m.noise_covariance() * j_ecef.transpose();
        (self.frame.enu_to_ecef(&enu), cov)
    }
}

/// Wraps an angle difference into (-pi, pi].
pub fn wrap_pi(a: f64) -> f64 {
    let w = (a + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI;
    if w <= -std::f64::consts::PI {
        w + std::f64::consts::TAU
    } else {
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measure_inverts_plot_position_and_jacobian_matches_differences() {
        let site = RadarSite::new(40.0, 40.0, 100.0).unwrap();
        let m = Measurement {
            time_utc: OffsetDateTime::UNIX_EPOCH,
            range_m: 350e3,
            azimuth_deg: 135.0,
            elevation_deg: 12.0,
            range_sigma_m: 5.0,
            azimuth_sigma_deg: 0.05,
            elevation_sigma_deg: 0.05,
        };
        let (p, cov) = site.plot_position(&m);
        let z = site.measure(&p).unwrap();
        assert!((z - m.vector()).norm() < 1e-9);
        // Range variance along the line of sight is the range sigma squared.
        let los = (p - site.frame().origin_ecef).normalize();
        assert!(((los.transpose() * cov * los)[0] - 25.0).abs() < 1e-6);
        let jac = site.jacobian(&p).unwrap();
        for k in 0..3 {
            let mut dp = Vector3::zeros();
            dp[k] = 1.0;
            let num = (site.measure(&(p + dp)).unwrap() - site.measure(&(p - dp)).unwrap()) / 2.0;
            for i in 0..3 {
                assert!((num[i] - jac[(i, k)]).abs() < 1e-9 * (1.0 + jac[(i, k)].abs()));
            }
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(RadarSite::new(f64::NAN, 0.0, 0.0).is_err());
        assert!(RadarSite::new(91.0, 0.0, 0.0).is_err());
        let mut m = Measurement {
            time_utc: OffsetDateTime::UNIX_EPOCH,
            range_m: 1e5,
            azimuth_deg: 0.0,
            elevation_deg: 10.0,
            range_sigma_m: 5.0,
            azimuth_sigma_deg: 0.05,
            elevation_sigma_deg: 0.05,
        };
        assert!(m.validate().is_ok());
        m.range_sigma_m = 0.0;
        assert!(m.validate().is_err());
        m.range_sigma_m = 1.0;
        m.azimuth_deg = f64::INFINITY;
        assert!(m.validate().is_err());
        assert!((wrap_pi(3.0 * std::f64::consts::PI) - std::f64::consts::PI).abs() < 1e-12);
        assert!((wrap_pi(-0.1) + 0.1).abs() < 1e-15);
    }
}
