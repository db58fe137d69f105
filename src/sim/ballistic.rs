//! Plot-level ballistic truth and measurements, for tracker and assessment
//! tests (no IQ samples).
//!
//! # Trajectory
//! An object leaves the ground at rest (in ECEF) at a launch point and time.
//! During the boost its acceleration is gravity and the frame terms of
//! formats.md §5 plus a thrust of constant magnitude `thrust_accel_mps2`
//! along the pitch programme: straight up (along the launch point's
//! ellipsoid normal) for `vertical_rise_s`, then a pitch-over in the vertical
//! plane of `azimuth_deg` in which the thrust's flight-path angle falls
//! linearly from 90 deg to `burnout_flight_path_deg` at `burn_time_s`, the
//! plane's azimuth turning at `yaw_rate_deg_s` (a dog-leg; 0 = planar). The
//! directions are fixed in the launch point's ENU frame (downrange distances
//! at burnout are ~100 km, under 1 deg of Earth curvature, and a programme
//! is whatever the designer chose: this one is simple and documented). After
//! burnout the flight is unpowered per §5 to impact, the first crossing of
//! height 0 after apogee.
//!
//! Boost is integrated with RK4 at 0.02 s, ballistic flight with the shared
//! [`Propagator`] at 0.5 s steps; samples are at `launch time + k interval`.
//!
//! # Measurements
//! [`PlotRadar`] draws plots from a site: range with a constant sigma;
//! angles with the monopulse thermal-noise sigma `beamwidth / (slope
//! sqrt(2 SNR))` in the beam frame (azimuth sigma divided by cos(elevation)),
//! SNR from the radar equation at a reference range falling as `R^-4`; a
//! detection probability per look; false plots Poisson per look, uniform in
//! the beam and the range window (rate = Pfa x cells of the search volume).

use nalgebra::Vector3;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};
use time::OffsetDateTime;

use crate::geo::gravity::{GravityModel, acceleration_ecef};
use crate::geo::propagate::{Propagator, StateVector, rk4_step};
use crate::geo::{Geodetic, LocalFrame};
use crate::track::measurement::{Measurement, RadarSite};

/// Why a trajectory or plot model cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BallisticError {
    /// A parameter out of its range.
    #[error("{key} = {value}: {why}")]
    BadParameter {
        /// The parameter.
        key: &'static str,
        /// Its value.
        value: f64,
        /// What is wrong.
        why: &'static str,
    },
    /// The flight left the dynamics' domain or never came down.
    #[error("trajectory failed: {0}")]
    Flight(String),
}

fn check(key: &'static str, value: f64, ok: bool, why: &'static str) -> Result<(), BallisticError> {
    if value.is_finite() && ok {
        Ok(())
    } else {
        Err(BallisticError::BadParameter { key, value, why })
    }
}

/// Boost profile: see the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoostProfile {
    /// Burn time, s.
    pub burn_time_s: f64,
    /// Thrust acceleration (constant magnitude), m/s^2.
    pub thrust_accel_mps2: f64,
    /// Vertical rise before pitch-over, s.
    pub vertical_rise_s: f64,
    /// Thrust flight-path angle at burnout, deg above the horizontal.
    pub burnout_flight_path_deg: f64,
    /// Yaw steering: the thrust azimuth turns at this rate (clockwise
    /// positive) from the end of the vertical rise, deg/s.
    pub yaw_rate_deg_s: f64,
}

/// A launch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Launch {
    /// Launch point latitude, deg.
    pub latitude_deg: f64,
    /// Launch point longitude, deg.
    pub longitude_deg: f64,
    /// Launch azimuth, deg clockwise from north.
    pub azimuth_deg: f64,
    /// Launch time, s after the run's epoch.
    pub time_s: f64,
    /// The boost.
    pub boost: BoostProfile,
}

impl Launch {
    /// Checks every parameter.
    pub fn validate(&self) -> Result<(), BallisticError> {
        check(
            "latitude_deg",
            self.latitude_deg,
            self.latitude_deg.abs() <= 89.0,
            "must be within [-89, 89] deg",
        )?;
        check(
            "longitude_deg",
            self.longitude_deg,
            self.longitude_deg.abs() <= 360.0,
            "must be within [-360, 360] deg",
        )?;
        check("azimuth_deg", self.azimuth_deg, true, "must be finite")?;
        check(
            "time_s",
            self.time_s,
            self.time_s.abs() < 1e9,
            "must be finite",
        )?;
        let b = &self.boost;
        check(
            "burn_time_s",
            b.burn_time_s,
            b.burn_time_s > 0.0 && b.burn_time_s <= 1000.0,
            "must be in (0, 1000] s",
        )?;
        check(
            "thrust_accel_mps2",
            b.thrust_accel_mps2,
            b.thrust_accel_mps2 > 12.0 && b.thrust_accel_mps2 < 1000.0,
            "must exceed gravity (12 m/s^2) and be below 1000 m/s^2",
        )?;
        check(
            "vertical_rise_s",
            b.vertical_rise_s,
            b.vertical_rise_s >= 0.0 && b.vertical_rise_s < b.burn_time_s,
            "must be in [0, burn_time_s)",
        )?;
        check(
            "burnout_flight_path_deg",
            b.burnout_flight_path_deg,
            b.burnout_flight_path_deg > 0.0 && b.burnout_flight_path_deg <= 90.0,
            "must be in (0, 90] deg",
        )?;
        check(
            "yaw_rate_deg_s",
            b.yaw_rate_deg_s,
            b.yaw_rate_deg_s.abs() <= 1.0,
            "must be within [-1, 1] deg/s",
        )
    }
}

/// The true state at a sample time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TruthSample {
    /// s after the epoch.
    pub time_s: f64,
    /// ECEF `[r, v]`.
    pub state: StateVector,
    /// Thrust on at this time.
    pub powered: bool,
}

/// A named point of the trajectory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TruthEvent {
    /// s after the epoch.
    pub time_s: f64,
    /// ECEF state then.
    pub state: StateVector,
    /// WGS-84 position.
    pub geodetic: Geodetic,
}

impl TruthEvent {
    fn at(time_s: f64, state: StateVector) -> Self {
        TruthEvent {
            time_s,
            state,
            geodetic: Geodetic::from_ecef(&state.fixed_rows::<3>(0).into()),
        }
    }
}

/// A simulated trajectory with its key points.
#[derive(Debug, Clone, PartialEq)]
pub struct BallisticTruth {
    /// Samples from launch to the last sample before impact.
    pub samples: Vec<TruthSample>,
    /// Leaving the ground.
    pub launch: TruthEvent,
    /// End of thrust.
    pub burnout: TruthEvent,
    /// Highest point (geodetic height).
    pub apogee: TruthEvent,
    /// First crossing of height 0 after apogee.
    pub impact: TruthEvent,
}

/// Unit up vector (the ellipsoid normal) at an ECEF point.
pub fn up_ecef(r: &Vector3<f64>) -> Vector3<f64> {
    let g = Geodetic::from_ecef(r);
    let (sl, cl) = g.latitude_deg.to_radians().sin_cos();
    let (so, co) = g.longitude_deg.to_radians().sin_cos();
    Vector3::new(cl * co, cl * so, sl)
}

/// Vertical speed along the local ellipsoid normal, m/s.
pub fn vertical_speed_mps(x: &StateVector) -> f64 {
    let r: Vector3<f64> = x.fixed_rows::<3>(0).into();
    let v: Vector3<f64> = x.fixed_rows::<3>(3).into();
    v.dot(&up_ecef(&r))
}

/// Geodetic height of a state, m.
pub fn height_m(x: &StateVector) -> f64 {
    Geodetic::from_ecef(&x.fixed_rows::<3>(0).into()).height_m
}

/// Flies `launch` and samples it every `interval_s`.
pub fn fly(launch: &Launch, interval_s: f64) -> Result<BallisticTruth, BallisticError> {
    fly_inner(launch, interval_s, false, 0.02)
}

/// Flies only the boost of `launch`: the burnout event (with its time in
/// the run's time, `launch.time_s + burn_time_s`). RK4 at 0.1 s rather than
/// the trajectory's 0.02 s (the programme is smooth but for one kink in its
/// rate; the difference at burnout is millimetres): the assessor flies
/// hundreds of these per assessment.
pub fn fly_boost(launch: &Launch) -> Result<TruthEvent, BallisticError> {
    fly_inner(launch, launch.boost.burn_time_s.min(100.0), true, 0.1).map(|t| t.burnout)
}

fn fly_inner(
    launch: &Launch,
    interval_s: f64,
    boost_only: bool,
    boost_step: f64,
) -> Result<BallisticTruth, BallisticError> {
    launch.validate()?;
    check(
        "interval_s",
        interval_s,
        (0.01..=100.0).contains(&interval_s),
        "must be in [0.01, 100] s",
    )?;
    let b = launch.boost;
    let pad = Geodetic {
        latitude_deg: launch.latitude_deg,
        longitude_deg: launch.longitude_deg,
        height_m: 0.0,
    };
    let frame = LocalFrame::new(pad);
    let thrust_dir = |tau: f64| -> Vector3<f64> {
        let steer_s = (tau - b.vertical_rise_s).max(0.0);
        let (sa, ca) = (launch.azimuth_deg + b.yaw_rate_deg_s * steer_s)
            .to_radians()
            .sin_cos();
        let gamma_deg = if tau <= b.vertical_rise_s {
            90.0
        } else {
            let frac = ((tau - b.vertical_rise_s) / (b.burn_time_s - b.vertical_rise_s)).min(1.0);
            90.0 + frac * (b.burnout_flight_path_deg - 90.0)
        };
        let (sg, cg) = gamma_deg.to_radians().sin_cos();
        frame.rotate_to_ecef(&Vector3::new(cg * sa, cg * ca, sg))
    };
    let powered = |tau: f64, x: &StateVector| -> Option<StateVector> {
        let r = Vector3::new(x[0], x[1], x[2]);
        let v = Vector3::new(x[3], x[4], x[5]);
        let a =
            acceleration_ecef(GravityModel::J2, &r, &v)? + thrust_dir(tau) * b.thrust_accel_mps2;
        Some(StateVector::new(v.x, v.y, v.z, a.x, a.y, a.z))
    };
    let fail = |what: &str| BallisticError::Flight(what.to_string());
    let mut x = StateVector::zeros();
    x.fixed_rows_mut::<3>(0).copy_from(&frame.origin_ecef);
    let mut tau = 0.0_f64;
    let mut samples = vec![TruthSample {
        time_s: launch.time_s,
        state: x,
        powered: true,
    }];
    let launch_event = TruthEvent::at(launch.time_s, x);
    // Boost: segments between sample times and burnout.
    let mut k: u64 = 1;
    loop {
        let next_sample = k as f64 * interval_s;
        let end = next_sample.min(b.burn_time_s);
        let span = end - tau;
        if span > 0.0 {
            let n = (span / boost_step).ceil().max(1.0) as usize;
            let h = span / n as f64;
            for i in 0..n {
                x = rk4_step(&powered, tau + i as f64 * h, &x, h)
                    .ok_or_else(|| fail("boost left the dynamics' domain"))?;
            }
            tau = end;
        }
        if next_sample <= b.burn_time_s {
            samples.push(TruthSample {
                time_s: launch.time_s + next_sample,
                state: x,
                powered: next_sample < b.burn_time_s,
            });
            k += 1;
        }
        if tau >= b.burn_time_s {
            break;
        }
    }
    let burnout = TruthEvent::at(launch.time_s + b.burn_time_s, x);
    if height_m(&x) <= 0.0 {
        return Err(fail(
            "burnout below the ground: thrust too weak or pitch too low",
        ));
    }
    if boost_only {
        return Ok(BallisticTruth {
            samples,
            launch: launch_event,
            burnout,
            apogee: burnout,
            impact: burnout,
        });
    }
    let (impact, apogee) = coast_to_impact(
        launch.time_s,
        b.burn_time_s,
        &burnout,
        k,
        interval_s,
        &mut samples,
        "burnout",
    )?;
    Ok(BallisticTruth {
        samples,
        launch: launch_event,
        burnout,
        apogee,
        impact,
    })
}

/// Unpowered flight from `start` to impact, for [`fly`] (from burnout) and
/// [`fly_free`] (from a separation). Times are `origin + tau`: `start` is at
/// `tau = start_tau`, and a sample is pushed at every `tau = k interval_s`
/// from `k = first_k` until impact (the first crossing of height 0). Returns
/// the impact and the apogee (the highest point after `start`, or `start`
/// itself when it is already descending); `from` names `start` in errors.
fn coast_to_impact(
    origin: f64,
    start_tau: f64,
    start: &TruthEvent,
    first_k: u64,
    interval_s: f64,
    samples: &mut Vec<TruthSample>,
    from: &str,
) -> Result<(TruthEvent, TruthEvent), BallisticError> {
    let fail = |what: &str| BallisticError::Flight(what.to_string());
    let prop = Propagator {
        model: GravityModel::J2,
        max_step_s: 0.5,
    };
    let max_flight_s = 20_000.0;
    let (mut x, mut tau, mut k) = (start.state, start_tau, first_k);
    let impact = loop {
        let next_sample = k as f64 * interval_s;
        let span = next_sample - tau;
        if next_sample - start_tau > max_flight_s {
            return Err(fail(&format!("no impact within 20000 s of {from}")));
        }
        let hit = prop
            .propagate_to_event(&x, span, height_m, 1e-6)
            .map_err(|e| fail(&e.to_string()))?;
        if let Some((dt, state)) = hit {
            break TruthEvent::at(origin + tau + dt, state);
        }
        x = prop.propagate(&x, span).map_err(|e| fail(&e.to_string()))?;
        tau = next_sample;
        samples.push(TruthSample {
            time_s: origin + tau,
            state: x,
            powered: false,
        });
        k += 1;
    };
    let apogee = match prop
        .propagate_to_event(
            &start.state,
            impact.time_s - start.time_s,
            vertical_speed_mps,
            1e-6,
        )
        .map_err(|e| fail(&e.to_string()))?
    {
        Some((dt, s)) => TruthEvent::at(start.time_s + dt, s),
        // Descending from the start: the highest point is the start itself.
        None => *start,
    };
    Ok((impact, apogee))
}

/// Unpowered flight from `start` (time s, ECEF state) to impact, sampled
/// every `interval_s` from `start`'s time: a separated object (a spent
/// booster). `launch` and `burnout` are `start`.
pub fn fly_free(
    time_s: f64,
    start: StateVector,
    interval_s: f64,
) -> Result<BallisticTruth, BallisticError> {
    check(
        "interval_s",
        interval_s,
        (0.01..=100.0).contains(&interval_s),
        "must be in [0.01, 100] s",
    )?;
    let fail = |what: &str| BallisticError::Flight(what.to_string());
    if height_m(&start) <= 0.0 {
        return Err(fail("separation below the ground"));
    }
    let first = TruthEvent::at(time_s, start);
    let mut samples = vec![TruthSample {
        time_s,
        state: start,
        powered: false,
    }];
    let (impact, apogee) = coast_to_impact(
        time_s,
        0.0,
        &first,
        1,
        interval_s,
        &mut samples,
        "separation",
    )?;
    Ok(BallisticTruth {
        samples,
        launch: first,
        burnout: first,
        apogee,
        impact,
    })
}

/// Plot-level radar model: see the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlotRadar {
    /// The site.
    pub site: RadarSite,
    /// 1-sigma range error, m (e.g. a 15 m bin / sqrt(12) = 4.3 m).
    pub range_sigma_m: f64,
    /// Two-way 3 dB beamwidth, deg.
    pub beamwidth_deg: f64,
    /// Monopulse slope (normalised difference per beamwidth).
    pub monopulse_slope: f64,
    /// SNR at `reference_range_m` after processing, dB.
    pub reference_snr_db: f64,
    /// Range at which `reference_snr_db` holds, m.
    pub reference_range_m: f64,
    /// SNR below which nothing is detected, dB.
    pub detection_threshold_db: f64,
    /// Probability of a detection per look above the threshold.
    pub detection_probability: f64,
    /// Lowest elevation seen (terrain, horizon), deg.
    pub min_elevation_deg: f64,
    /// Mean false plots per look (Pfa x cells, e.g. 1e-6 x 5e5 = 0.5).
    pub false_plots_per_look: f64,
    /// Range window of the false plots, m.
    pub false_range_window_m: (f64, f64),
}

impl PlotRadar {
    /// SNR at `range_m`, dB (radar equation: `R^-4`).
    pub fn snr_db(&self, range_m: f64) -> f64 {
        self.reference_snr_db - 40.0 * (range_m / self.reference_range_m).log10()
    }

    /// Monopulse 1-sigma angle error in the beam frame at `snr_db`, deg.
    pub fn angle_sigma_deg(&self, snr_db: f64) -> f64 {
        let snr = 10f64.powf(snr_db / 10.0);
        self.beamwidth_deg / (self.monopulse_slope * (2.0 * snr).sqrt())
    }

    fn plot(
        &self,
        time_utc: OffsetDateTime,
        r: f64,
        az_deg: f64,
        el_deg: f64,
        snr_db: f64,
        rng: &mut ChaCha8Rng,
    ) -> Measurement {
        let sigma = self.angle_sigma_deg(snr_db);
        let az_sigma = sigma / el_deg.to_radians().cos();
        let n: [f64; 3] = [
            rng.sample(StandardNormal),
            rng.sample(StandardNormal),
            rng.sample(StandardNormal),
        ];
        Measurement {
            time_utc,
            range_m: r + self.range_sigma_m * n[0],
            azimuth_deg: (az_deg + az_sigma * n[1]).rem_euclid(360.0),
            elevation_deg: el_deg + sigma * n[2],
            range_sigma_m: self.range_sigma_m,
            azimuth_sigma_deg: az_sigma,
            elevation_sigma_deg: sigma,
        }
    }

    /// The true (range m, az deg, el deg) of a point, if the site can see it.
    pub fn visible(&self, position_ecef_m: &Vector3<f64>) -> Option<(f64, f64, f64)> {
        let z = self.site.measure(position_ecef_m)?;
        let (r, az, el) = (z.x, z.y.to_degrees(), z.z.to_degrees());
        (el >= self.min_elevation_deg && self.snr_db(r) >= self.detection_threshold_db)
            .then_some((r, az, el))
    }

    /// One look at `time_utc` with the beam at (`beam_az_deg`, `beam_el_deg`):
    /// the object's plot (if it is seen and detected) and the false plots.
    /// `object` is the object's true ECEF position, if there is one.
    pub fn look(
        &self,
        time_utc: OffsetDateTime,
        object: Option<&Vector3<f64>>,
        beam_az_deg: f64,
        beam_el_deg: f64,
        rng: &mut ChaCha8Rng,
    ) -> Vec<Measurement> {
        let mut out = Vec::new();
        if let Some((r, az, el)) = object.and_then(|p| self.visible(p))
            && rng.random::<f64>() < self.detection_probability
        {
            out.push(self.plot(time_utc, r, az, el, self.snr_db(r), rng));
        }
        if self.false_plots_per_look > 0.0
            && let Ok(poisson) = Poisson::new(self.false_plots_per_look)
        {
            let n = poisson.sample(rng).min(1000.0) as usize;
            let (r0, r1) = self.false_range_window_m;
            for _ in 0..n {
                let r = r0 + (r1 - r0) * rng.random::<f64>();
                let d_el = (rng.random::<f64>() - 0.5) * self.beamwidth_deg;
                let el = (beam_el_deg + d_el).clamp(-89.0, 89.0);
                let d_az = (rng.random::<f64>() - 0.5) * self.beamwidth_deg / el.to_radians().cos();
                // A false alarm is a noise peak just over the threshold: the
                // extractor reports it with the accuracy of that SNR.
                let snr = self.detection_threshold_db;
                let mut p = self.plot(time_utc, r, beam_az_deg + d_az, el, snr, rng);
                p.range_m = r;
                out.push(p);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn nominal() -> Launch {
        Launch {
            latitude_deg: 37.5,
            longitude_deg: 43.0,
            azimuth_deg: 315.0,
            time_s: 10.0,
            boost: BoostProfile {
                burn_time_s: 90.0,
                thrust_accel_mps2: 35.0,
                vertical_rise_s: 10.0,
                burnout_flight_path_deg: 40.0,
                yaw_rate_deg_s: 0.0,
            },
        }
    }

    #[test]
    fn trajectory_has_ordered_events_and_lands_on_the_ellipsoid() {
        let t = fly(&nominal(), 1.0).unwrap();
        assert!(t.launch.time_s < t.burnout.time_s && t.burnout.time_s < t.apogee.time_s);
        assert!(t.apogee.time_s < t.impact.time_s);
        assert!(
            t.impact.geodetic.height_m.abs() < 1e-2,
            "{}",
            t.impact.geodetic.height_m
        );
        assert!(t.apogee.geodetic.height_m > t.burnout.geodetic.height_m);
        // Apogee is a maximum: neighbouring samples are lower.
        let max_sample = t
            .samples
            .iter()
            .map(|s| height_m(&s.state))
            .fold(0.0, f64::max);
        assert!(max_sample <= t.apogee.geodetic.height_m + 1e-3);
        assert!(t.apogee.geodetic.height_m - max_sample < 50.0);
        // Samples are at launch + k s.
        for (k, s) in t.samples.iter().enumerate() {
            assert!((s.time_s - 10.0 - k as f64).abs() < 1e-9);
        }
        assert!(t.samples.last().unwrap().time_s < t.impact.time_s);
        eprintln!(
            "burnout h {:.0} m, apogee h {:.0} m at {:.0} s, impact at {:.0} s",
            t.burnout.geodetic.height_m,
            t.apogee.geodetic.height_m,
            t.apogee.time_s,
            t.impact.time_s
        );
    }

    #[test]
    fn bad_launches_are_errors() {
        let mut l = nominal();
        l.boost.thrust_accel_mps2 = 5.0;
        assert!(fly(&l, 1.0).is_err());
        let mut l = nominal();
        l.latitude_deg = f64::NAN;
        assert!(fly(&l, 1.0).is_err());
        assert!(fly(&nominal(), 0.0).is_err());
    }
}
