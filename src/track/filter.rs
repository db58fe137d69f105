//! The filter parts: a predictor (ballistic ECEF dynamics plus white-noise
//! acceleration of a stated spectral density) and an updater (extended
//! Kalman update with a range/azimuth/elevation plot). Each is small and
//! tested alone; [`super::imm`] runs two predictors side by side.

use nalgebra::{Matrix3, Matrix3x6, Matrix6, Matrix6x3, Vector3};

use super::TrackError;
use super::measurement::{Measurement, RadarSite, wrap_pi};
use crate::geo::propagate::{Propagator, StateVector};

/// A Gaussian state estimate at a time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianState {
    /// Seconds since the tracker's epoch.
    pub time_s: f64,
    /// ECEF `[r, v]`, metres and m/s.
    pub mean: StateVector,
    /// Covariance of `mean`.
    pub covariance: Matrix6<f64>,
}

impl GaussianState {
    /// ECEF position, metres.
    pub fn position(&self) -> Vector3<f64> {
        self.mean.fixed_rows::<3>(0).into()
    }
    /// ECEF velocity, m/s.
    pub fn velocity(&self) -> Vector3<f64> {
        self.mean.fixed_rows::<3>(3).into()
    }
    /// Square root of the trace of the position covariance, metres.
    pub fn position_sigma_m(&self) -> f64 {
        self.covariance
            .fixed_view::<3, 3>(0, 0)
            .trace()
            .max(0.0)
            .sqrt()
    }
    /// Square root of the trace of the velocity covariance, m/s.
    pub fn velocity_sigma_mps(&self) -> f64 {
        self.covariance
            .fixed_view::<3, 3>(3, 3)
            .trace()
            .max(0.0)
            .sqrt()
    }
}

/// Predictor: ballistic dynamics (formats.md §5) plus white-noise
/// acceleration of power spectral density `accel_psd_m2_s3` per axis.
/// A tiny density is the ballistic model (it only covers integration error);
/// a large one is the powered model, whose unknown thrust is treated as a
/// random acceleration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Predictor {
    /// Numerical propagator of the dynamics.
    pub propagator: Propagator,
    /// Process-noise spectral density, m^2/s^3 per axis.
    pub accel_psd_m2_s3: f64,
}

impl Predictor {
    /// The state predicted to `time_s` (forward or backward).
    pub fn predict(&self, prior: &GaussianState, time_s: f64) -> Result<GaussianState, TrackError> {
        let dt = time_s - prior.time_s;
        if !dt.is_finite() {
            return Err(TrackError::BadTime(format!("prediction span {dt} s")));
        }
        let (mean, stm) = self.propagator.propagate_with_stm(&prior.mean, dt)?;
        let q = self.accel_psd_m2_s3;
        let a = dt.abs();
        // Continuous white-noise acceleration, discretised for constant
        // velocity (the gravity gradient changes this by ~1e-6 over a revisit).
        let mut qm = Matrix6::zeros();
        for i in 0..3 {
            qm[(i, i)] = q * a.powi(3) / 3.0;
            qm[(i, i + 3)] = q * a * a / 2.0 * dt.signum();
            qm[(i + 3, i)] = qm[(i, i + 3)];
            qm[(i + 3, i + 3)] = q * a;
        }
        let covariance = stm * prior.covariance * stm.transpose() + qm;
        Ok(GaussianState {
            time_s,
            mean,
            covariance: symmetrise(&covariance),
        })
    }
}

/// Innovation of a plot against a predicted state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Innovation {
    /// `z - h(x)`, range metres and angles radians (azimuth wrapped).
    pub residual: Vector3<f64>,
    /// Innovation covariance `H P H' + R`.
    pub covariance: Matrix3<f64>,
    /// Its inverse.
    pub covariance_inverse: Matrix3<f64>,
    /// Measurement Jacobian `H`.
    pub jacobian: Matrix3x6<f64>,
    /// Normalised innovation squared `residual' S^-1 residual` (chi-square, 3 dof).
    pub mahalanobis2: f64,
    /// Gaussian log-likelihood of the residual, `-0.5 (d2 + ln det(2 pi S))`.
    pub log_likelihood: f64,
}

/// Extended Kalman updater for range/az/el plots from one site.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Updater {
    /// The site the plots are measured from.
    pub site: RadarSite,
}

impl Updater {
    /// The innovation of `m` against `predicted` (same time assumed).
    pub fn innovation(
        &self,
        predicted: &GaussianState,
        m: &Measurement,
    ) -> Result<Innovation, TrackError> {
        let p = predicted.position();
        let (Some(z_hat), Some(h)) = (self.site.measure(&p), self.site.jacobian(&p)) else {
            return Err(TrackError::Geometry);
        };
        let z = m.vector();
        let residual = Vector3::new(z.x - z_hat.x, wrap_pi(z.y - z_hat.y), z.z - z_hat.z);
        let s = symmetrise3(&(h * predicted.covariance * h.transpose() + m.noise_covariance()));
        let det = s.determinant();
        let Some(s_inv) = s.try_inverse().filter(|_| det > 0.0 && det.is_finite()) else {
            return Err(TrackError::Singular);
        };
        let d2 = (residual.transpose() * s_inv * residual)[0];
        let log_likelihood = -0.5 * (d2 + (std::f64::consts::TAU.powi(3) * det).ln());
        Ok(Innovation {
            residual,
            covariance: s,
            covariance_inverse: s_inv,
            jacobian: h,
            mahalanobis2: d2,
            log_likelihood,
        })
    }

    /// What gating needs of a predicted state, computed once for all the
    /// look's plots ([`Gate::mahalanobis2`]); `None` at a singular point.
    pub fn gate(&self, predicted: &GaussianState) -> Option<Gate> {
        let p = predicted.position();
        let z_hat = self.site.measure(&p)?;
        let h = self.site.jacobian(&p)?;
        Some(Gate {
            z_hat,
            hph: h * predicted.covariance * h.transpose(),
        })
    }

    /// The posterior after `m`, with its innovation. Joseph form, so the
    /// covariance stays symmetric and positive through thousands of updates.
    pub fn update(
        &self,
        predicted: &GaussianState,
        m: &Measurement,
    ) -> Result<(GaussianState, Innovation), TrackError> {
        let inn = self.innovation(predicted, m)?;
        let k: Matrix6x3<f64> =
            predicted.covariance * inn.jacobian.transpose() * inn.covariance_inverse;
        let mean = predicted.mean + k * inn.residual;
        let i_kh = Matrix6::identity() - k * inn.jacobian;
        let covariance = i_kh * predicted.covariance * i_kh.transpose()
            + k * m.noise_covariance() * k.transpose();
        if !mean.iter().chain(covariance.iter()).all(|v| v.is_finite()) {
            return Err(TrackError::Singular);
        }
        Ok((
            GaussianState {
                time_s: predicted.time_s,
                mean,
                covariance: symmetrise(&covariance),
            },
            inn,
        ))
    }
}

/// A predicted measurement and its covariance `H P H'` (plot noise not
/// included), for gating many plots against one prediction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gate {
    z_hat: Vector3<f64>,
    hph: Matrix3<f64>,
}

impl Gate {
    /// The normalised innovation squared of `m`, or `None` when it exceeds
    /// `limit` (or `S` is singular). Equal to
    /// [`Updater::innovation`]'s `mahalanobis2`. A plot is first tested on
    /// its range alone, `r^2 / S_rr`, which never exceeds the full value (a
    /// marginal's squared z is at most the joint Mahalanobis distance), so
    /// the shortcut rejects nothing the full test would keep.
    pub fn mahalanobis2(&self, m: &Measurement, limit: f64) -> Option<f64> {
        let z = m.vector();
        let residual = Vector3::new(
            z.x - self.z_hat.x,
            wrap_pi(z.y - self.z_hat.y),
            z.z - self.z_hat.z,
        );
        let s_rr = self.hph[(0, 0)] + m.range_sigma_m * m.range_sigma_m;
        if s_rr.is_nan() || s_rr <= 0.0 || residual.x * residual.x / s_rr > limit {
            return None;
        }
        let s = symmetrise3(&(self.hph + m.noise_covariance()));
        let det = s.determinant();
        let s_inv = s.try_inverse().filter(|_| det > 0.0 && det.is_finite())?;
        let d2 = (residual.transpose() * s_inv * residual)[0];
        (d2 <= limit).then_some(d2)
    }
}

/// `(P + P') / 2`.
pub fn symmetrise(p: &Matrix6<f64>) -> Matrix6<f64> {
    (p + p.transpose()) * 0.5
}

fn symmetrise3(p: &Matrix3<f64>) -> Matrix3<f64> {
    (p + p.transpose()) * 0.5
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn site() -> RadarSite {
        RadarSite::new(40.0, 40.0, 0.0).unwrap()
    }

    #[test]
    fn the_gate_gives_the_innovation_distance_and_rejects_only_beyond_the_limit() {
        let s = site();
        let updater = Updater { site: s };
        let base = Measurement {
            time_utc: OffsetDateTime::UNIX_EPOCH,
            range_m: 300e3,
            azimuth_deg: 120.0,
            elevation_deg: 10.0,
            range_sigma_m: 20.0,
            azimuth_sigma_deg: 0.05,
            elevation_sigma_deg: 0.04,
        };
        let (p, _) = s.plot_position(&base);
        let mut mean = StateVector::zeros();
        mean.fixed_rows_mut::<3>(0).copy_from(&p);
        let mut covariance = Matrix6::identity() * 4e4;
        covariance[(0, 1)] = 1e4;
        covariance[(1, 0)] = 1e4;
        let pred = GaussianState {
            time_s: 0.0,
            mean,
            covariance,
        };
        let gate = updater.gate(&pred).unwrap();
        for (dr, daz, del) in [
            (0.0, 0.0, 0.0),
            (150.0, 0.02, -0.01),
            (-400.0, 0.1, 0.2),
            (5e3, 0.0, 0.0),
        ] {
            let m = Measurement {
                range_m: base.range_m + dr,
                azimuth_deg: base.azimuth_deg + daz,
                elevation_deg: base.elevation_deg + del,
                ..base
            };
            let full = updater.innovation(&pred, &m).unwrap().mahalanobis2;
            for limit in [1.0, 16.27, 1e9] {
                match gate.mahalanobis2(&m, limit) {
                    Some(d2) => {
                        assert!((d2 - full).abs() <= 1e-9 * full.max(1.0), "{d2} {full}");
                        assert!(full <= limit);
                    }
                    None => assert!(full > limit, "{full} rejected at {limit}"),
                }
            }
        }
    }

    #[test]
    fn update_with_a_precise_plot_pulls_the_state_onto_it() {
        // Hand case: prior position uncertainty 1 km per axis, plot 10x more
        // precise in every direction: the posterior lands within ~1% of the
        // plot-implied position and its position sigma shrinks accordingly.
        let s = site();
        let m = Measurement {
            time_utc: OffsetDateTime::UNIX_EPOCH,
            range_m: 300e3,
            azimuth_deg: 120.0,
            elevation_deg: 10.0,
            range_sigma_m: 10.0,
            azimuth_sigma_deg: 0.0005,
            elevation_sigma_deg: 0.0005,
        };
        let (p_true, _) = s.plot_position(&m);
        let mut mean = StateVector::zeros();
        mean.fixed_rows_mut::<3>(0)
            .copy_from(&(p_true + Vector3::new(500.0, -300.0, 200.0)));
        let prior = GaussianState {
            time_s: 0.0,
            mean,
            covariance: Matrix6::identity() * 1e6,
        };
        let u = Updater { site: s };
        let (post, inn) = u.update(&prior, &m).unwrap();
        assert!(
            (post.position() - p_true).norm() < 10.0,
            "{}",
            (post.position() - p_true).norm()
        );
        assert!(post.position_sigma_m() < 30.0);
        // The innovation is the offset seen through H; its d2 is moderate.
        assert!(
            inn.mahalanobis2 > 0.1 && inn.mahalanobis2 < 2.0,
            "{}",
            inn.mahalanobis2
        );
        // Velocity was uncorrelated with position: untouched.
        assert!((post.velocity_sigma_mps() - 3f64.sqrt() * 1e3).abs() < 1e-6);
    }

    #[test]
    fn predictor_adds_the_hand_process_noise() {
        let p = Predictor {
            propagator: Propagator::default(),
            accel_psd_m2_s3: 12.0,
        };
        let mut mean = StateVector::zeros();
        mean[0] = 6.5e6;
        let prior = GaussianState {
            time_s: 0.0,
            mean,
            covariance: Matrix6::zeros(),
        };
        let out = p.predict(&prior, 2.0).unwrap();
        // q dt^3 / 3 = 12 * 8 / 3 = 32 m^2, q dt = 24 (m/s)^2, q dt^2 / 2 = 24.
        assert!((out.covariance[(1, 1)] - 32.0).abs() < 1e-9);
        assert!((out.covariance[(4, 4)] - 24.0).abs() < 1e-9);
        assert!((out.covariance[(2, 5)] - 24.0).abs() < 1e-9);
        assert!(p.predict(&prior, f64::NAN).is_err());
    }
}
