//! The signal model of formats.md §1, one CPI at a time, and the truth that
//! goes with it.
//!
//! Randomness is split into independent ChaCha8 streams of one seed, so every
//! CPI can be generated on its own and in any order with identical results:
//! stream `3k` is CPI `k`'s noise, `3k + 1` its Swerling draws, `3k + 2` its
//! clutter reflectivities, and stream `u64::MAX` the targets' default phases.

use ndarray::Array3;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rustfft::num_complex::{Complex32, Complex64};
use time::OffsetDateTime;

use super::SimError;
use super::ballistic::TruthEvent;
use super::scenario::{Scenario, TargetSpec, WaveformSpec};
use super::trajectory::{BeamMode, Trajectory, observe, track_pointing};
use super::truth::{CpiTruth, EventTruth, TargetTruth, TrajectoryTruth};
use crate::geo::{BeamFrame, Geodetic, LocalFrame, enu_direction};
use crate::radar::{RadarParams, SPEED_OF_LIGHT_MPS};

const TWO_PI: f64 = 2.0 * std::f64::consts::PI;

/// A validated scenario bound to a seed: produces CPIs and their truth.
#[derive(Debug, Clone)]
pub struct Simulator {
    scenario: Scenario,
    seed: u64,
    params: RadarParams,
    start_utc: OffsetDateTime,
    /// Phase of each target's amplitude `a`, radians.
    target_phase_rad: Vec<f64>,
    /// On-axis `|a|` of each target, model units (mean for Swerling 1).
    target_amplitude: Vec<f64>,
    /// The site's ENU frame, when the scenario has a `[site]`.
    site_frame: Option<LocalFrame>,
    /// The scenario's trajectories, flown, then their separated boosters.
    trajectories: Vec<Trajectory>,
    /// Echo of each flown object: element SNR dB at the reference range,
    /// the reference range m, Swerling case, and the trajectory a booster
    /// separated from.
    echoes: Vec<ObjectEcho>,
    /// Phase of each trajectory object's amplitude, radians.
    trajectory_phase_rad: Vec<f64>,
}

/// How a flown object echoes.
#[derive(Debug, Clone, Copy)]
struct ObjectEcho {
    snr_db: f64,
    reference_range_m: f64,
    swerling: u8,
    booster_of: Option<usize>,
}

/// One target's complex amplitude in one CPI and its angular offset.
struct TargetInCpi {
    /// `a` including beam gain and Swerling draw, sum channel.
    amplitude: Complex64,
    /// Beam-frame offsets from the boresight, degrees (formats.md §5).
    theta_az_deg: f64,
    theta_el_deg: f64,
    /// True direction, degrees (azimuth in [0, 360)).
    azimuth_deg: f64,
    elevation_deg: f64,
    /// Two-way power gain of the beam pattern.
    beam_power_gain: f64,
    /// Mean power of the echo after the beam gain (before a Swerling
    /// draw), model units squared; 0 for an object that gives no echo.
    mean_power: f64,
}

fn stream_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Circular complex Gaussian with total variance `power`.
fn complex_gaussian(rng: &mut ChaCha8Rng, power: f64) -> Complex64 {
    let s = (power / 2.0).sqrt();
    let re: f64 = rng.sample(StandardNormal);
    let im: f64 = rng.sample(StandardNormal);
    Complex64::new(s * re, s * im)
}

impl Simulator {
    /// Validates `scenario` and fixes the per-target constants drawn from `seed`.
    pub fn new(scenario: &Scenario, seed: u64) -> Result<Self, SimError> {
        scenario.validate()?;
        let mut phase_rng = stream_rng(seed, u64::MAX);
        let target_phase_rad = scenario
            .targets
            .iter()
            .map(|t| {
                // Draw for every target so that giving one target a phase does
                // not change the others' random phases.
                let random: f64 = phase_rng.random::<f64>() * TWO_PI;
                t.phase_deg.map_or(random, f64::to_radians)
            })
            .collect();
        // Drawn after the targets' phases, so adding a trajectory leaves
        // the targets' phases as they were.
        let mut trajectories = scenario
            .trajectories
            .iter()
            .enumerate()
            .map(|(i, t)| Trajectory::fly(t, i))
            .collect::<Result<Vec<_>, _>>()?;
        let mut echoes: Vec<ObjectEcho> = scenario
            .trajectories
            .iter()
            .map(|t| ObjectEcho {
                snr_db: t.snr_db,
                reference_range_m: t.reference_range_m,
                swerling: t.swerling,
                booster_of: None,
            })
            .collect();
        for (i, t) in scenario.trajectories.iter().enumerate() {
            if let Some(sep) = &t.separation {
                trajectories.push(trajectories[i].booster(sep, i)?);
                echoes.push(ObjectEcho {
                    snr_db: sep.snr_db,
                    reference_range_m: t.reference_range_m,
                    swerling: t.swerling,
                    booster_of: Some(i),
                });
            }
        }
        let trajectory_phase_rad = echoes
            .iter()
            .map(|_| phase_rng.random::<f64>() * TWO_PI)
            .collect();
        let target_amplitude = scenario
            .targets
            .iter()
            .map(|t| {
                t.amplitude.unwrap_or_else(|| {
                    (scenario.noise_power * 10f64.powf(t.snr_db.unwrap_or(0.0) / 10.0)).sqrt()
                })
            })
            .collect();
        Ok(Simulator {
            params: scenario.radar_params(),
            start_utc: scenario.start_time_utc()?,
            scenario: scenario.clone(),
            seed,
            target_phase_rad,
            target_amplitude,
            site_frame: scenario.site.as_ref().map(|s| {
                LocalFrame::new(Geodetic {
                    latitude_deg: s.latitude_deg,
                    longitude_deg: s.longitude_deg,
                    height_m: s.height_m,
                })
            }),
            trajectories,
            echoes,
            trajectory_phase_rad,
        })
    }

    /// The flown trajectories (`[[trajectories]]`), in scenario order.
    pub fn trajectories(&self) -> &[Trajectory] {
        &self.trajectories
    }

    /// Slow time of CPI `cpi`'s reference instant, the mean of its pulse
    /// times, s from the first pulse of the recording.
    pub fn reference_time_s(&self, cpi: u64) -> f64 {
        self.pulse_time_s(cpi, 0)
            + (self.params.pulses_per_cpi as f64 - 1.0) / 2.0 * self.params.pri_s
    }

    /// Beam azimuth and elevation of CPI `cpi`, degrees: the `[beam]`
    /// table's, or a tracking beam's (see [`super::trajectory`]).
    pub fn beam_pointing(&self, cpi: u64) -> (f64, f64) {
        let beam = &self.scenario.beam;
        if let (Some(looks), Some(site)) = (&self.scenario.looks, &self.site_frame)
            && looks.beam == BeamMode::Track
            && let Some(t) = self.trajectories.get(looks.track)
        {
            let (az, el) =
                track_pointing(looks, site, t, self.reference_time_s(cpi), self.seed, cpi);
            // Rounded as the scan's azimuths are, so the capture carries
            // what the truth says.
            let az = (az * 1e9).round() / 1e9;
            return (if az >= 360.0 { 0.0 } else { az }, (el * 1e9).round() / 1e9);
        }
        (beam.azimuth_deg(cpi), beam.elevation_deg)
    }

    /// The key points of every trajectory, with UTC times.
    pub fn trajectory_truth(&self) -> Result<Vec<TrajectoryTruth>, SimError> {
        let event = |e: &TruthEvent| -> Result<EventTruth, SimError> {
            let t = crate::cpi::add_seconds_checked(self.start_utc, e.time_s).ok_or_else(|| {
                SimError::Invalid {
                    key: "trajectories".into(),
                    problem: format!(
                        "an event {} s after start_time leaves the calendar",
                        e.time_s
                    ),
                }
            })?;
            Ok(EventTruth {
                time_utc: super::truth::rfc3339(t),
                latitude_deg: e.geodetic.latitude_deg,
                longitude_deg: e.geodetic.longitude_deg,
                height_m: e.geodetic.height_m,
                position_ecef_m: [e.state[0], e.state[1], e.state[2]],
                velocity_ecef_mps: [e.state[3], e.state[4], e.state[5]],
            })
        };
        self.trajectories
            .iter()
            .enumerate()
            .map(|(i, t)| {
                Ok(TrajectoryTruth {
                    trajectory: i,
                    booster_of: self.echoes.get(i).and_then(|e| e.booster_of),
                    launch: event(&t.truth.launch)?,
                    burnout: event(&t.truth.burnout)?,
                    apogee: event(&t.truth.apogee)?,
                    impact: event(&t.truth.impact)?,
                })
            })
            .collect()
    }

    /// Range of object `i` (targets, then trajectories) at slow time
    /// `t_s`, m; `None` when a trajectory's object is gone (after impact).
    fn object_range_m(&self, i: usize, t_s: f64) -> Option<f64> {
        let n = self.scenario.targets.len();
        match self.scenario.targets.get(i) {
            Some(spec) => Some(spec.range_m + spec.range_rate_mps * t_s),
            None => {
                let site = self.site_frame.as_ref()?;
                let state = self.trajectories.get(i - n)?.state(t_s)?;
                Some(observe(site, &state).0)
            }
        }
    }

    /// The scenario being simulated.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The radar parameters of the recording.
    pub fn params(&self) -> &RadarParams {
        &self.params
    }

    /// Wavelength, metres.
    pub fn wavelength_m(&self) -> f64 {
        SPEED_OF_LIGHT_MPS / self.scenario.radar.carrier_hz
    }

    /// Slow time of pulse `m` of CPI `cpi` from the first pulse of the recording, s.
    pub fn pulse_time_s(&self, cpi: u64, pulse: usize) -> f64 {
        match &self.scenario.looks {
            None => {
                (cpi as f64 * self.params.pulses_per_cpi as f64 + pulse as f64) * self.params.pri_s
            }
            Some(l) => cpi as f64 * l.interval_s + pulse as f64 * self.params.pri_s,
        }
    }

    /// Transmit time of CPI `cpi`'s first pulse, UTC (`start_time + k P pri`).
    /// An error when that leaves the calendar ([`Scenario::validate`] checks
    /// the recording's CPIs stay in it).
    pub fn cpi_time_utc(&self, cpi: u64) -> Result<OffsetDateTime, SimError> {
        crate::cpi::add_seconds_checked(self.start_utc, self.pulse_time_s(cpi, 0)).ok_or_else(
            || SimError::Invalid {
                key: "start_time".into(),
                problem: format!("CPI {cpi} would start after 9999-12-31T23:59:59Z"),
            },
        )
    }

    fn targets_in_cpi(&self, cpi: u64) -> Vec<TargetInCpi> {
        let beam = &self.scenario.beam;
        let (beam_az, beam_el) = self.beam_pointing(cpi);
        let mut swerling_rng = stream_rng(self.seed, 3 * cpi + 1);
        let mut objects: Vec<TargetInCpi> = self
            .scenario
            .targets
            .iter()
            .enumerate()
            .map(|(i, t): (usize, &TargetSpec)| {
                // Always draw, so one target's Swerling case does not shift the others' draws.
                let fluctuation = complex_gaussian(&mut swerling_rng, 1.0);
                let frame = BeamFrame::new(beam_az, beam_el);
                let (theta_az_deg, theta_el_deg, azimuth_deg, elevation_deg) =
                    if t.azimuth_deg.is_some() || t.elevation_deg.is_some() {
                        let (az, el) = (
                            t.azimuth_deg.unwrap_or(beam_az),
                            t.elevation_deg.unwrap_or(beam_el),
                        );
                        let (u, v) = frame.offsets_deg(&enu_direction(az, el));
                        (u, v, az.rem_euclid(360.0), el)
                    } else {
                        let (u, v) = (
                            t.beam_offset_az_deg.unwrap_or(0.0),
                            t.beam_offset_el_deg.unwrap_or(0.0),
                        );
                        // Validation bounds both offsets to 60 deg, so the
                        // direction exists.
                        let (az, el) = frame
                            .azimuth_elevation_deg(u, v)
                            .unwrap_or((beam_az, beam_el));
                        (u, v, az, el)
                    };
                let beam_power_gain = beam.two_way_power_gain(theta_az_deg, theta_el_deg);
                let mut amplitude = Complex64::from_polar(
                    self.target_amplitude[i] * beam_power_gain.sqrt(),
                    self.target_phase_rad[i],
                );
                if t.swerling == 1 {
                    amplitude *= fluctuation;
                }
                TargetInCpi {
                    amplitude,
                    theta_az_deg,
                    theta_el_deg,
                    azimuth_deg,
                    elevation_deg,
                    beam_power_gain,
                    mean_power: self.target_amplitude[i].powi(2) * beam_power_gain,
                }
            })
            .collect();
        // Trajectory objects: geometry at the CPI's reference time, SNR
        // from the radar equation, no echo below the horizontal plane or
        // after impact.
        let t_ref = self.reference_time_s(cpi);
        let frame = BeamFrame::new(beam_az, beam_el);
        for (j, (spec, traj)) in self.echoes.iter().zip(&self.trajectories).enumerate() {
            let fluctuation = complex_gaussian(&mut swerling_rng, 1.0);
            let seen = self
                .site_frame
                .as_ref()
                .zip(traj.state(t_ref))
                .map(|(site, x)| observe(site, &x));
            let (azimuth_deg, elevation_deg, range_m) = match seen {
                Some((r, _, az, el)) => (az, el, r),
                None => (f64::NAN, f64::NAN, f64::NAN),
            };
            let (theta_az_deg, theta_el_deg) = if range_m.is_finite() {
                frame.offsets_deg(&enu_direction(azimuth_deg, elevation_deg))
            } else {
                (f64::NAN, f64::NAN)
            };
            let visible = range_m.is_finite() && elevation_deg > 0.0;
            let beam_power_gain = if visible {
                beam.two_way_power_gain(theta_az_deg, theta_el_deg)
            } else {
                0.0
            };
            let snr_db = spec.snr_db - 40.0 * (range_m / spec.reference_range_m).log10();
            let on_axis = if visible {
                (self.scenario.noise_power * 10f64.powf(snr_db / 10.0)).sqrt()
            } else {
                0.0
            };
            let mut amplitude = Complex64::from_polar(
                on_axis * beam_power_gain.sqrt(),
                self.trajectory_phase_rad[j],
            );
            if spec.swerling == 1 {
                amplitude *= fluctuation;
            }
            objects.push(TargetInCpi {
                amplitude,
                theta_az_deg,
                theta_el_deg,
                azimuth_deg,
                elevation_deg,
                beam_power_gain,
                mean_power: on_axis * on_axis * beam_power_gain,
            });
        }
        objects
    }

    /// The baseband waveform `s(u)` at delay `u` seconds after the pulse start
    /// (zero outside `0 <= u < T`).
    fn waveform(&self, u_s: f64) -> Option<Complex64> {
        match self.scenario.radar.waveform {
            WaveformSpec::Lfm {
                bandwidth_hz,
                pulse_width_s,
            } => (0.0..pulse_width_s).contains(&u_s).then(|| {
                let x = u_s - pulse_width_s / 2.0;
                Complex64::from_polar(
                    1.0,
                    std::f64::consts::PI * bandwidth_hz / pulse_width_s * x * x,
                )
            }),
            WaveformSpec::Rect { pulse_width_s } => (0.0..pulse_width_s)
                .contains(&u_s)
                .then_some(Complex64::new(1.0, 0.0)),
        }
    }

    /// Adds `gains[c] * a * s(t_n - 2R/c) * exp(-j 4 pi R / lambda)` to every
    /// sample `n` of `pulse` (one row per channel) that the echo covers.
    fn add_echo(&self, rows: &mut [&mut [Complex64]], gains: &[f64], a: Complex64, range_m: f64) {
        let fs = self.params.sample_rate_hz;
        let n_total = self.params.samples_per_pulse;
        let delay_s = 2.0 * range_m / SPEED_OF_LIGHT_MPS;
        // 4 pi R / lambda = 2 pi (2R / lambda); reduce mod 1 cycle in f64 first.
        let cycles = (2.0 * range_m / self.wavelength_m()).rem_euclid(1.0);
        let echo = a * Complex64::from_polar(1.0, -TWO_PI * cycles);
        let first = ((delay_s - self.params.window_delay_s) * fs).floor() - 1.0;
        let last = ((delay_s + self.scenario.radar.waveform_pulse_width_s()
            - self.params.window_delay_s)
            * fs)
            .ceil()
            + 1.0;
        if last < 0.0 || first >= n_total as f64 {
            return;
        }
        let first = first.max(0.0) as usize;
        let last = (last as usize).min(n_total);
        for n in first..last {
            let t_n = self.params.window_delay_s + n as f64 / fs;
            if let Some(s) = self.waveform(t_n - delay_s) {
                let v = echo * s;
                for (row, &g) in rows.iter_mut().zip(gains) {
                    if g != 0.0 {
                        row[n] += v * g;
                    }
                }
            }
        }
    }

    /// The samples of CPI `cpi`, shape `(channels, pulses, samples)`, in model
    /// units (before any `ci16` scaling): targets, clutter, then noise.
    pub fn cpi_samples(&self, cpi: u64) -> Array3<Complex32> {
        let (channels, pulses, samples) = (
            self.params.num_channels,
            self.params.pulses_per_cpi,
            self.params.samples_per_pulse,
        );
        let targets = self.targets_in_cpi(cpi);
        let mono = self.scenario.beam.monopulse();
        // Per-target gain of each channel relative to the sum channel.
        let gains: Vec<Vec<f64>> = targets
            .iter()
            .map(|t| {
                (0..channels)
                    .map(
                        |c| match self.scenario.channels.get(c).map(String::as_str) {
                            Some("delta_az") => {
                                mono.slope_az * t.theta_az_deg / mono.beamwidth_az_deg
                            }
                            Some("delta_el") => {
                                mono.slope_el * t.theta_el_deg / mono.beamwidth_el_deg
                            }
                            _ => 1.0,
                        },
                    )
                    .collect()
            })
            .collect();
        let sum = self.params.sum_channel;
        let clutter_pulse = self.clutter_pulse(cpi);
        let mut pulse_buf = vec![Complex64::new(0.0, 0.0); channels * samples];
        let mut out = Array3::<Complex32>::zeros((channels, pulses, samples));
        let mut noise_rng = stream_rng(self.seed, 3 * cpi);
        let sigma = (self.scenario.noise_power / 2.0).sqrt();
        for m in 0..pulses {
            pulse_buf.fill(Complex64::new(0.0, 0.0));
            if let Some(c) = &clutter_pulse {
                pulse_buf[sum * samples..(sum + 1) * samples].copy_from_slice(c);
            }
            let t_slow = self.pulse_time_s(cpi, m);
            {
                let mut rows: Vec<&mut [Complex64]> = pulse_buf.chunks_mut(samples).collect();
                for (i, t) in targets.iter().enumerate() {
                    if t.amplitude == Complex64::new(0.0, 0.0) {
                        continue;
                    }
                    if let Some(range_m) = self.object_range_m(i, t_slow) {
                        self.add_echo(&mut rows, &gains[i], t.amplitude, range_m);
                    }
                }
            }
            for c in 0..channels {
                for n in 0..samples {
                    let mut v = pulse_buf[c * samples + n];
                    if sigma > 0.0 {
                        let re: f64 = noise_rng.sample(StandardNormal);
                        let im: f64 = noise_rng.sample(StandardNormal);
                        v += Complex64::new(sigma * re, sigma * im);
                    }
                    out[[c, m, n]] = Complex32::new(v.re as f32, v.im as f32);
                }
            }
        }
        out
    }

    /// One pulse of the sum channel's clutter (identical for every pulse of a
    /// CPI: zero Doppler), or `None` without clutter.
    fn clutter_pulse(&self, cpi: u64) -> Option<Vec<Complex64>> {
        let band = self.scenario.clutter.as_ref()?;
        let samples = self.params.samples_per_pulse;
        let mut pulse = vec![Complex64::new(0.0, 0.0); samples];
        let mut rng = stream_rng(self.seed, 3 * cpi + 2);
        let power = self.scenario.noise_power * 10f64.powf(band.cnr_db / 10.0);
        let cell_m = self.params.range_bin_m();
        let cells = ((band.range_stop_m - band.range_start_m) / cell_m).floor() as usize + 1;
        for i in 0..cells {
            let a = complex_gaussian(&mut rng, power);
            let mut rows = [pulse.as_mut_slice()];
            self.add_echo(&mut rows, &[1.0], a, band.range_start_m + i as f64 * cell_m);
        }
        Some(pulse)
    }

    /// Truth for CPI `cpi`: beam and time, and one record per target and
    /// per trajectory object that echoes in this CPI (above the site's
    /// horizontal plane, before impact).
    ///
    /// Ranges are taken at the CPI's reference time, the mean of its pulse
    /// times (`(k P + (P - 1) / 2) pri` for back-to-back CPIs).
    pub fn cpi_truth(&self, cpi: u64) -> Result<(CpiTruth, Vec<TargetTruth>), SimError> {
        let p = &self.params;
        let lambda = self.wavelength_m();
        let reference_time_s = self.reference_time_s(cpi);
        let time_utc = self.cpi_time_utc(cpi)?;
        let (beam_az, beam_el) = self.beam_pointing(cpi);
        let cpi_truth = CpiTruth {
            cpi,
            time_utc: super::truth::rfc3339(time_utc),
            reference_time_s,
            carrier_hz: self.scenario.radar.carrier_hz,
            azimuth_deg: beam_az,
            elevation_deg: beam_el,
        };
        let v_unamb = p.unambiguous_velocity_mps(self.scenario.radar.carrier_hz);
        let window_s = p.samples_per_pulse as f64 / p.sample_rate_hz;
        let pulse_width_s = self.scenario.radar.waveform_pulse_width_s();
        let coherent_gain_db = coherent_gain_db(p);
        let noise = self.scenario.noise_power;
        let to_db = |x: f64| (noise > 0.0).then(|| 10.0 * (x / noise).log10());
        let n_targets = self.scenario.targets.len();
        let targets = self
            .targets_in_cpi(cpi)
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                let (range_m, range_first_pulse_m, rate) = match self.scenario.targets.get(i) {
                    Some(spec) => (
                        spec.range_m + spec.range_rate_mps * reference_time_s,
                        spec.range_m + spec.range_rate_mps * self.pulse_time_s(cpi, 0),
                        spec.range_rate_mps,
                    ),
                    None => {
                        if t.mean_power == 0.0 {
                            return None;
                        }
                        let site = self.site_frame.as_ref()?;
                        let traj = self.trajectories.get(i - n_targets)?;
                        let (r, v, _, _) = observe(site, &traj.state(reference_time_s)?);
                        let r0 = self.object_range_m(i, self.pulse_time_s(cpi, 0))?;
                        (r, r0, v)
                    }
                };
                let echo_start_s = 2.0 * range_m / SPEED_OF_LIGHT_MPS - p.window_delay_s;
                let folded = (rate + v_unamb).rem_euclid(2.0 * v_unamb) - v_unamb;
                let doppler_bin = (p.pulses_per_cpi / 2) as f64
                    - 2.0 * folded * p.pulses_per_cpi as f64 * p.pri_s / lambda;
                let element_snr_db = to_db(t.mean_power);
                Some(TargetTruth {
                    cpi,
                    target: i,
                    trajectory: i.checked_sub(n_targets),
                    time_utc: cpi_truth.time_utc.clone(),
                    range_m,
                    range_first_pulse_m,
                    radial_velocity_mps: rate,
                    folded_velocity_mps: folded,
                    range_bin: echo_start_s * p.sample_rate_hz,
                    doppler_bin: doppler_bin.rem_euclid(p.pulses_per_cpi as f64),
                    in_window: (0.0..window_s).contains(&echo_start_s),
                    fully_in_window: echo_start_s >= 0.0
                        && echo_start_s + pulse_width_s <= window_s,
                    azimuth_offset_deg: t.theta_az_deg,
                    elevation_offset_deg: t.theta_el_deg,
                    azimuth_deg: t.azimuth_deg,
                    elevation_deg: t.elevation_deg,
                    position: self.site_frame.as_ref().map(|f| {
                        let r = f.point_at(t.azimuth_deg, t.elevation_deg, range_m);
                        Geodetic::from_ecef(&r)
                    }),
                    beam_gain_db: 10.0 * t.beam_power_gain.log10(),
                    amplitude: t.amplitude.norm(),
                    element_snr_db,
                    realised_element_snr_db: to_db(t.amplitude.norm_sqr()),
                    expected_snr_db: element_snr_db.map(|s| s + coherent_gain_db),
                })
            })
            .collect();
        Ok((cpi_truth, targets))
    }
}

/// Ideal coherent gain `10 log10(L) + 10 log10(P)` dB: matched filter over the
/// `L = round(T fs)` replica samples and Doppler FFT over `P` pulses, before
/// window, straddle and scalloping losses.
pub fn coherent_gain_db(params: &RadarParams) -> f64 {
    let l = params.waveform.replica_len(params.sample_rate_hz) as f64;
    10.0 * l.log10() + 10.0 * (params.pulses_per_cpi as f64).log10()
}

impl super::scenario::RadarSpec {
    /// Pulse width T of the waveform, seconds.
    pub fn waveform_pulse_width_s(&self) -> f64 {
        match self.waveform {
            WaveformSpec::Lfm { pulse_width_s, .. } | WaveformSpec::Rect { pulse_width_s } => {
                pulse_width_s
            }
        }
    }
}
