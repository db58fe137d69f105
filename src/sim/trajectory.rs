//! Ballistic objects in the IQ simulator: `[[trajectories]]` and `[looks]`.
//!
//! A trajectory is flown once when the simulator is built ([`fly`]: boost
//! along the documented pitch programme, then unpowered flight per
//! formats.md §5 to impact), sampled every [`SAMPLE_S`] and interpolated
//! between samples by cubic Hermite on position and velocity (the error is
//! under a millimetre: the acceleration changes smoothly over half a
//! second). Before launch the object stands on its pad; after impact it is
//! gone.
//!
//! Each pulse sees the object at its true range at that pulse's transmit
//! time (the model's `R(m pri)`, not a straight line over the CPI), so a
//! CPI sees the object's acceleration as Doppler spread, as a real radar
//! does. Angles are those of the CPI's reference time (the mean pulse
//! time). The echo's element SNR follows the radar equation: `snr_db` at
//! `reference_range_m`, falling as `R^-4`, times the beam's two-way gain;
//! an object below the site's horizontal plane (elevation < 0) gives no
//! echo (straight-line propagation, formats.md §5).
//!
//! `[looks]` turns the recording into a sequence of looks, one CPI each,
//! `interval_s` apart (each CPI its own capture segment), and says where the
//! beam points: `"fixed"` (the `[beam]` table's pointing) or `"track"`: the
//! beam follows trajectory `track` (its true direction at the CPI's
//! reference time, never below `min_elevation_deg`) with an independent
//! Gaussian pointing error of `pointing_sigma_deg` in each beam-frame axis
//! per look, as a radar steering on its own track would.

use nalgebra::Vector3;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::SimError;
use super::ballistic::{BallisticTruth, BoostProfile, Launch, TruthEvent, fly};
use super::scenario::{in_range, invalid};
use crate::geo::propagate::StateVector;
use crate::geo::{BeamFrame, LocalFrame, azimuth_elevation_range};

/// Trajectory sample spacing before interpolation, s.
pub const SAMPLE_S: f64 = 0.5;

/// A ballistic object (`[[trajectories]]`): launch, boost, then free flight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrajectorySpec {
    /// Launch point latitude, degrees north.
    pub latitude_deg: f64,
    /// Launch point longitude, degrees east.
    pub longitude_deg: f64,
    /// Launch azimuth, degrees clockwise from north.
    pub azimuth_deg: f64,
    /// Launch time, seconds after the recording's `start_time` (may be
    /// negative: launched before the recording starts).
    pub launch_time_s: f64,
    /// Burn time, s.
    pub burn_time_s: f64,
    /// Thrust acceleration (constant magnitude), m/s^2.
    pub thrust_accel_mps2: f64,
    /// Vertical rise before the pitch-over, s.
    pub vertical_rise_s: f64,
    /// Thrust flight-path angle at burnout, degrees above the horizontal.
    pub burnout_flight_path_deg: f64,
    /// Yaw steering rate from the end of the vertical rise, deg/s (default 0).
    #[serde(default)]
    pub yaw_rate_deg_s: f64,
    /// Element SNR on the beam axis at `reference_range_m`, dB (as a
    /// target's `snr_db`; needs `noise_power > 0`).
    pub snr_db: f64,
    /// Range at which `snr_db` holds, m.
    pub reference_range_m: f64,
    /// Swerling case, 0 or 1 (as for targets).
    #[serde(default)]
    pub swerling: u8,
    /// A spent booster that separates from the object after burnout
    /// (`[trajectories.separation]`); absent: one object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separation: Option<Separation>,
}

/// The booster's separation: at `after_burnout_s` the booster leaves the
/// object (the re-entry vehicle, which flies on unchanged) with
/// `delta_v_mps` opposite to their common velocity, then flies unpowered
/// to its own impact. It echoes as its own object with its own SNR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Separation {
    /// Time from burnout to separation, s.
    pub after_burnout_s: f64,
    /// Booster's velocity change, m/s, backwards along the flight.
    pub delta_v_mps: f64,
    /// Booster's element SNR on axis at the trajectory's
    /// `reference_range_m`, dB (a booster is larger than its payload).
    pub snr_db: f64,
}

impl TrajectorySpec {
    /// The launch in the simulator's slow time (s from the first pulse).
    pub fn launch(&self) -> Launch {
        Launch {
            latitude_deg: self.latitude_deg,
            longitude_deg: self.longitude_deg,
            azimuth_deg: self.azimuth_deg,
            time_s: self.launch_time_s,
            boost: BoostProfile {
                burn_time_s: self.burn_time_s,
                thrust_accel_mps2: self.thrust_accel_mps2,
                vertical_rise_s: self.vertical_rise_s,
                burnout_flight_path_deg: self.burnout_flight_path_deg,
                yaw_rate_deg_s: self.yaw_rate_deg_s,
            },
        }
    }
}

/// Where the beam points on each look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BeamMode {
    /// The `[beam]` table's pointing.
    #[default]
    Fixed,
    /// The beam follows a trajectory (module docs).
    Track,
}

/// Revisit timing and beam steering (`[looks]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Looks {
    /// Time from one look's first pulse to the next, s (at least one CPI).
    pub interval_s: f64,
    /// `"fixed"` or `"track"` (default `"fixed"`).
    #[serde(default)]
    pub beam: BeamMode,
    /// The trajectory a tracking beam follows (index into `trajectories`).
    #[serde(default)]
    pub track: usize,
    /// 1-sigma pointing error of a tracking beam per beam-frame axis, deg.
    #[serde(default)]
    pub pointing_sigma_deg: f64,
    /// Lowest elevation a tracking beam is steered to, deg (default 1).
    #[serde(default = "default_min_elevation")]
    pub min_elevation_deg: f64,
}

fn default_min_elevation() -> f64 {
    1.0
}

/// Checks `[looks]` and `[[trajectories]]` against the rest of the scenario.
pub(super) fn validate(
    looks: Option<&Looks>,
    trajectories: &[TrajectorySpec],
    cpi_s: f64,
    has_site: bool,
    noise_power: f64,
) -> Result<(), SimError> {
    if let Some(l) = looks {
        in_range("looks.interval_s", l.interval_s, cpi_s, 3600.0, "s")?;
        in_range(
            "looks.pointing_sigma_deg",
            l.pointing_sigma_deg,
            0.0,
            10.0,
            "deg",
        )?;
        in_range(
            "looks.min_elevation_deg",
            l.min_elevation_deg,
            -10.0,
            89.0,
            "deg",
        )?;
        if l.beam == BeamMode::Track && l.track >= trajectories.len() {
            return Err(invalid(
                "looks.track",
                format!(
                    "trajectory {} to follow, but the scenario has {} trajectories",
                    l.track,
                    trajectories.len()
                ),
            ));
        }
    }
    for (i, t) in trajectories.iter().enumerate() {
        let key = |k: &str| format!("trajectories[{i}].{k}");
        if !has_site {
            return Err(invalid(
                key("latitude_deg"),
                "a trajectory needs the radar's [site] position",
            ));
        }
        if noise_power == 0.0 {
            return Err(invalid(key("snr_db"), "needs noise_power > 0"));
        }
        in_range(&key("launch_time_s"), t.launch_time_s, -1e5, 1e5, "s")?;
        in_range(&key("snr_db"), t.snr_db, -200.0, 200.0, "dB")?;
        in_range(
            &key("reference_range_m"),
            t.reference_range_m,
            1.0,
            1e8,
            "m",
        )?;
        if t.swerling > 1 {
            return Err(invalid(
                key("swerling"),
                format!("must be 0 or 1 (got {})", t.swerling),
            ));
        }
        if let Some(sep) = &t.separation {
            in_range(
                &key("separation.after_burnout_s"),
                sep.after_burnout_s,
                0.0,
                600.0,
                "s",
            )?;
            in_range(
                &key("separation.delta_v_mps"),
                sep.delta_v_mps,
                0.01,
                500.0,
                "m/s",
            )?;
            in_range(&key("separation.snr_db"), sep.snr_db, -200.0, 200.0, "dB")?;
        }
        t.launch().validate().map_err(|e| match e {
            super::ballistic::BallisticError::BadParameter { key: k, .. } => {
                invalid(key(k), e.to_string())
            }
            other => invalid(key("burn_time_s"), other.to_string()),
        })?;
    }
    Ok(())
}

/// A flown trajectory, queried at any slow time.
#[derive(Debug, Clone)]
pub struct Trajectory {
    /// The flight and its key points (times in slow time, s).
    pub truth: BallisticTruth,
    /// A separated booster exists only from its separation: `None` before.
    pub exists_from_s: Option<f64>,
}

impl Trajectory {
    /// Flies `spec`; an error names the trajectory when it never lands or
    /// leaves the dynamics' domain.
    pub fn fly(spec: &TrajectorySpec, index: usize) -> Result<Self, SimError> {
        let truth = fly(&spec.launch(), SAMPLE_S)
            .map_err(|e| invalid(format!("trajectories[{index}]"), e.to_string()))?;
        Ok(Trajectory {
            truth,
            exists_from_s: None,
        })
    }

    /// The booster that separates from this flight per `sep`.
    pub fn booster(&self, sep: &Separation, index: usize) -> Result<Self, SimError> {
        let t0 = self.truth.burnout.time_s + sep.after_burnout_s;
        let x = self.state(t0).ok_or_else(|| {
            invalid(
                format!("trajectories[{index}].separation.after_burnout_s"),
                "separation after the impact",
            )
        })?;
        let v: Vector3<f64> = x.fixed_rows::<3>(3).into();
        let dv = -v.normalize() * sep.delta_v_mps;
        let start = StateVector::new(x[0], x[1], x[2], x[3] + dv.x, x[4] + dv.y, x[5] + dv.z);
        let truth = super::ballistic::fly_free(t0, start, SAMPLE_S)
            .map_err(|e| invalid(format!("trajectories[{index}].separation"), e.to_string()))?;
        Ok(Trajectory {
            truth,
            exists_from_s: Some(t0),
        })
    }

    /// ECEF state at slow time `t_s`: on the pad before launch, `None`
    /// after impact.
    pub fn state(&self, t_s: f64) -> Option<StateVector> {
        let s = &self.truth.samples;
        let first = s.first()?;
        if self.exists_from_s.is_some_and(|t0| t_s < t0) {
            return None;
        }
        if t_s <= first.time_s {
            return Some(first.state);
        }
        if t_s > self.truth.impact.time_s {
            return None;
        }
        // Samples are SAMPLE_S apart from launch; the last interval ends at
        // impact.
        let k = ((t_s - first.time_s) / SAMPLE_S).floor() as usize;
        let (t0, x0) = (s.get(k)?.time_s, s.get(k)?.state);
        let (t1, x1) = match s.get(k + 1) {
            Some(n) => (n.time_s, n.state),
            None => (self.truth.impact.time_s, self.truth.impact.state),
        };
        Some(hermite(t0, &x0, t1, &x1, t_s))
    }

    /// The key points, for the truth file.
    pub fn events(&self) -> [(&'static str, &TruthEvent); 4] {
        [
            ("launch", &self.truth.launch),
            ("burnout", &self.truth.burnout),
            ("apogee", &self.truth.apogee),
            ("impact", &self.truth.impact),
        ]
    }
}

/// Cubic Hermite interpolation of position (and its derivative for the
/// velocity) between two states.
fn hermite(t0: f64, x0: &StateVector, t1: f64, x1: &StateVector, t: f64) -> StateVector {
    let h = t1 - t0;
    if h <= 0.0 {
        return *x0;
    }
    let s = ((t - t0) / h).clamp(0.0, 1.0);
    let (p0, v0): (Vector3<f64>, Vector3<f64>) =
        (x0.fixed_rows::<3>(0).into(), x0.fixed_rows::<3>(3).into());
    let (p1, v1): (Vector3<f64>, Vector3<f64>) =
        (x1.fixed_rows::<3>(0).into(), x1.fixed_rows::<3>(3).into());
    let (s2, s3) = (s * s, s * s * s);
    let p = p0 * (2.0 * s3 - 3.0 * s2 + 1.0)
        + v0 * (h * (s3 - 2.0 * s2 + s))
        + p1 * (-2.0 * s3 + 3.0 * s2)
        + v1 * (h * (s3 - s2));
    let v = p0 * ((6.0 * s2 - 6.0 * s) / h)
        + v0 * (3.0 * s2 - 4.0 * s + 1.0)
        + p1 * ((-6.0 * s2 + 6.0 * s) / h)
        + v1 * (3.0 * s2 - 2.0 * s);
    StateVector::new(p.x, p.y, p.z, v.x, v.y, v.z)
}

/// Range (m), range rate (m/s), azimuth and elevation (deg) of `state`
/// from the site.
pub fn observe(site: &LocalFrame, state: &StateVector) -> (f64, f64, f64, f64) {
    let r: Vector3<f64> = state.fixed_rows::<3>(0).into();
    let v: Vector3<f64> = state.fixed_rows::<3>(3).into();
    let los = r - site.origin_ecef;
    let range = los.norm();
    let rate = if range > 0.0 {
        los.dot(&v) / range
    } else {
        0.0
    };
    let (az, el, _) = azimuth_elevation_range(&site.rotate_to_enu(&los));
    (range, rate, az, el)
}

/// The tracking beam's pointing for a look: the object's direction (or,
/// after impact, its impact point's), elevation at least `min_el`, plus
/// the look's pointing error drawn from `seed`'s stream for `cpi`.
pub fn track_pointing(
    looks: &Looks,
    site: &LocalFrame,
    trajectory: &Trajectory,
    t_s: f64,
    seed: u64,
    cpi: u64,
) -> (f64, f64) {
    let state = trajectory
        .state(t_s)
        .unwrap_or(trajectory.truth.impact.state);
    let (_, _, az, el) = observe(site, &state);
    let el = el.max(looks.min_elevation_deg);
    if looks.pointing_sigma_deg == 0.0 {
        return (az, el);
    }
    // Streams 3k..3k+2 and u64::MAX are the model's (see `model`); pointing
    // errors count down from u64::MAX - 1.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::MAX - 1 - cpi);
    let du: f64 = StandardNormal.sample(&mut rng);
    let dv: f64 = StandardNormal.sample(&mut rng);
    // The beam is off the object by (du, dv): the object's direction seen
    // from a beam at (az, el) displaced by minus that.
    let frame = BeamFrame::new(az, el);
    frame
        .azimuth_elevation_deg(
            -du * looks.pointing_sigma_deg,
            -dv * looks.pointing_sigma_deg,
        )
        .unwrap_or((az, el))
}

/// The built-in ballistic scenario (`tews simulate --ballistic`, `tews demo
/// --ballistic`): a UHF early-warning radar (440 MHz, 2 deg beam, sum and
/// two difference channels, 16 pulses of 2048 samples at 0.5 MHz, a
/// 300 m-bin window from 150 to 764 km) at 40 N 40 E tracking, every 2 s
/// with a 0.3 deg pointing error, a single-stage missile launched 10 s
/// into the recording from 37.5 N 43 E towards 300 deg: 90 s at 35 m/s^2,
/// burnout near 95 km, apogee near 300 km, impact about 560 s after
/// launch near 39.9 N 37.5 E. The object's element SNR is -20 dB at
/// 1000 km (about 20 to 35 dB after processing). 290 looks (580 s),
/// ci16: 114 MB.
pub fn ballistic_scenario() -> super::Scenario {
    use super::scenario::{BeamScan, RadarSpec, SampleFormat, Site, WaveformSpec};
    super::Scenario {
        radar: RadarSpec {
            sample_rate_hz: 0.5e6,
            carrier_hz: 440e6,
            pulses_per_cpi: 16,
            samples_per_pulse: 2048,
            pri_s: 6e-3,
            window_delay_s: 1e-3,
            waveform: WaveformSpec::Lfm {
                bandwidth_hz: 0.4e6,
                pulse_width_s: 100e-6,
            },
        },
        num_cpis: 290,
        start_time: "2026-06-01T12:00:00Z".into(),
        noise_power: 1.0,
        datatype: SampleFormat::Ci16Le,
        ci16_counts_per_unit: None,
        beam: BeamScan {
            beamwidth_deg: 2.0,
            ..BeamScan::default()
        },
        channels: vec!["sum".into(), "delta_az".into(), "delta_el".into()],
        targets: Vec::new(),
        clutter: None,
        site: Some(Site {
            latitude_deg: 40.0,
            longitude_deg: 40.0,
            height_m: 100.0,
        }),
        looks: Some(Looks {
            interval_s: 2.0,
            beam: BeamMode::Track,
            track: 0,
            pointing_sigma_deg: 0.3,
            min_elevation_deg: 1.0,
        }),
        trajectories: vec![TrajectorySpec {
            latitude_deg: 37.5,
            longitude_deg: 43.0,
            azimuth_deg: 300.0,
            launch_time_s: 10.0,
            burn_time_s: 90.0,
            thrust_accel_mps2: 35.0,
            vertical_rise_s: 10.0,
            burnout_flight_path_deg: 40.0,
            yaw_rate_deg_s: 0.0,
            snr_db: -20.0,
            reference_range_m: 1000e3,
            swerling: 0,
            separation: None,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TrajectorySpec {
        TrajectorySpec {
            latitude_deg: 37.5,
            longitude_deg: 43.0,
            azimuth_deg: 315.0,
            launch_time_s: 5.0,
            burn_time_s: 60.0,
            thrust_accel_mps2: 30.0,
            vertical_rise_s: 8.0,
            burnout_flight_path_deg: 40.0,
            yaw_rate_deg_s: 0.0,
            snr_db: 0.0,
            reference_range_m: 1e6,
            swerling: 0,
            separation: None,
        }
    }

    #[test]
    fn the_builtin_ballistic_scenario_is_valid() {
        ballistic_scenario().validate().unwrap();
    }

    #[test]
    fn bad_trajectory_and_look_keys_are_named() {
        let key_of = |s: &super::super::Scenario| match s.validate() {
            Err(SimError::Invalid { key, .. }) => key,
            other => panic!("{other:?}"),
        };
        let mut s = ballistic_scenario();
        s.site = None;
        assert_eq!(key_of(&s), "trajectories[0].latitude_deg");
        let mut s = ballistic_scenario();
        s.looks.as_mut().unwrap().track = 3;
        assert_eq!(key_of(&s), "looks.track");
        let mut s = ballistic_scenario();
        s.looks.as_mut().unwrap().interval_s = 0.01;
        assert_eq!(key_of(&s), "looks.interval_s");
        let mut s = ballistic_scenario();
        s.trajectories[0].thrust_accel_mps2 = 5.0;
        assert_eq!(key_of(&s), "trajectories[0].thrust_accel_mps2");
        let mut s = ballistic_scenario();
        s.trajectories[0].reference_range_m = f64::NAN;
        assert_eq!(key_of(&s), "trajectories[0].reference_range_m");
    }

    #[test]
    fn hermite_matches_the_propagated_flight_between_samples() {
        let t = Trajectory::fly(&spec(), 0).unwrap();
        // Re-propagate from a sample to a mid-point and compare.
        let prop = crate::geo::propagate::Propagator {
            model: crate::geo::gravity::GravityModel::J2,
            max_step_s: 0.05,
        };
        let s = &t.truth.samples;
        let k = s.len() / 2;
        let exact = prop.propagate(&s[k].state, 0.25).unwrap();
        let interp = t.state(s[k].time_s + 0.25).unwrap();
        let dp = (exact.fixed_rows::<3>(0) - interp.fixed_rows::<3>(0)).norm();
        let dv = (exact.fixed_rows::<3>(3) - interp.fixed_rows::<3>(3)).norm();
        assert!(dp < 1e-3 && dv < 1e-3, "{dp} m, {dv} m/s");
        // On the pad before launch, gone after impact.
        assert_eq!(t.state(0.0), Some(s[0].state));
        assert_eq!(t.state(t.truth.impact.time_s + 1.0), None);
    }
}
