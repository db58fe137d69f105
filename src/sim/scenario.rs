//! The scenario: what the simulator is asked to produce, read from TOML.
//!
//! The TOML layout is documented in [`crate::sim`]; every field here names its
//! unit. [`Scenario::validate`] turns every impossible or absurd value into a
//! [`SimError`] naming the key, so a bad file never panics the simulator.

use std::path::Path;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::SimError;
use super::trajectory::{Looks, TrajectorySpec};
use crate::radar::{Monopulse, RadarParams, SPEED_OF_LIGHT_MPS, Waveform};

/// Largest number of complex values (all channels) one CPI may hold: 2^26
/// (512 MiB as `Complex32`), so a typo cannot exhaust memory.
pub const MAX_VALUES_PER_CPI: usize = 1 << 26;

/// A complete simulation request: radar, timing, beam, targets, clutter, noise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Static radar parameters (`[radar]` table).
    pub radar: RadarSpec,
    /// Number of CPIs to write (CPIs are back-to-back in time).
    pub num_cpis: u64,
    /// Transmit time of the first pulse of the recording, RFC 3339
    /// (e.g. `"2025-06-01T12:00:00Z"`); written in UTC.
    pub start_time: String,
    /// Thermal noise power sigma^2: total complex variance per sample per
    /// channel, in model units squared (sigma^2/2 in I and in Q). 0 = noise-free.
    pub noise_power: f64,
    /// Sample format of the `.sigmf-data` file.
    #[serde(default)]
    pub datatype: SampleFormat,
    /// For `ci16_le` only: integer counts per model unit. Absent: `256 /
    /// sqrt(noise_power)`, i.e. the noise rms is 256 counts (181 per I or Q),
    /// which puts quantisation noise (1/12 count^2 per component) 56 dB below
    /// the thermal noise and leaves 45 dB of headroom above the noise rms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci16_counts_per_unit: Option<f64>,
    /// Beam pointing per CPI and beam shape (`[beam]` table, optional).
    #[serde(default)]
    pub beam: BeamScan,
    /// Receive channel roles, e.g. `["sum", "delta_az", "delta_el"]`. Empty or
    /// absent: one unnamed channel carrying the sum-channel model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// Point targets (`[[targets]]` array of tables).
    #[serde(default)]
    pub targets: Vec<TargetSpec>,
    /// Optional stationary clutter band (`[clutter]` table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clutter: Option<ClutterBand>,
    /// Optional site position, written as `core:geolocation` (`[site]` table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<Site>,
    /// Optional revisit timing and beam steering: one CPI per look
    /// (`[looks]` table, see [`super::trajectory`]). Absent: CPIs back to back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub looks: Option<Looks>,
    /// Ballistic objects (`[[trajectories]]`, see [`super::trajectory`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trajectories: Vec<TrajectorySpec>,
}

/// Static radar parameters, with the names and units of formats.md §1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadarSpec {
    /// Complex sample rate, Hz.
    pub sample_rate_hz: f64,
    /// Carrier frequency, Hz (constant over the recording).
    pub carrier_hz: f64,
    /// Pulses per CPI.
    pub pulses_per_cpi: usize,
    /// Fast-time samples recorded per pulse (receive window length).
    pub samples_per_pulse: usize,
    /// Pulse repetition interval, seconds.
    pub pri_s: f64,
    /// Start of transmission to the first recorded sample, seconds.
    pub window_delay_s: f64,
    /// The transmitted pulse (`[radar.waveform]` table).
    pub waveform: WaveformSpec,
}

/// The transmitted pulse, as written in a scenario file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum WaveformSpec {
    /// Linear FM chirp (formats.md §1).
    Lfm {
        /// Swept bandwidth B, Hz (at most the sample rate).
        bandwidth_hz: f64,
        /// Pulse width T, seconds.
        pulse_width_s: f64,
    },
    /// Unmodulated rectangular pulse.
    Rect {
        /// Pulse width T, seconds.
        pulse_width_s: f64,
    },
}

impl From<WaveformSpec> for Waveform {
    fn from(w: WaveformSpec) -> Self {
        match w {
            WaveformSpec::Lfm {
                bandwidth_hz,
                pulse_width_s,
            } => Waveform::Lfm {
                bandwidth_hz,
                pulse_width_s,
            },
            WaveformSpec::Rect { pulse_width_s } => Waveform::Rect { pulse_width_s },
        }
    }
}

/// Sample format of the data file (SigMF `core:datatype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleFormat {
    /// 32-bit float I then Q, little-endian; values are model units.
    #[default]
    Cf32Le,
    /// 16-bit signed I then Q, little-endian; count = round(value *
    /// counts_per_unit), saturating at -32768 / 32767 (clipped values are counted).
    Ci16Le,
}

impl SampleFormat {
    /// The SigMF `core:datatype` string.
    pub fn sigmf_name(self) -> &'static str {
        match self {
            SampleFormat::Cf32Le => "cf32_le",
            SampleFormat::Ci16Le => "ci16_le",
        }
    }
}

/// A beam that steps in azimuth from CPI to CPI, with a Gaussian pattern
/// and a sum-difference monopulse receiver.
///
/// CPI `k` points at azimuth `azimuth_start_deg + k * azimuth_step_deg`
/// (wrapped into [0, 360)) and elevation `elevation_deg`. Angles off the
/// beam are measured in the beam frame ([`crate::geo::BeamFrame`]): a target
/// at beam-frame offsets `theta_az`, `theta_el` gets the two-way voltage gain
/// `exp(-4 ln2 (theta_az^2 / A^2 + theta_el^2 / E^2))` (A, E the one-way
/// -3 dB beamwidths: -3 dB one way and -6 dB two way at half a beamwidth),
/// and the difference channels carry `slope_az * theta_az / A` and
/// `slope_el * theta_el / E` times the sum channel's echo (formats.md §1).
/// These four numbers are written as `radar:monopulse` when the scenario has
/// difference channels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BeamScan {
    /// Beam azimuth of CPI 0, degrees clockwise from true north (default 0).
    pub azimuth_start_deg: f64,
    /// Azimuth step from one CPI to the next, degrees (default 0: a fixed beam).
    pub azimuth_step_deg: f64,
    /// Beam elevation above the local horizon, degrees (default 0).
    pub elevation_deg: f64,
    /// One-way -3 dB beamwidth in both axes, degrees (default 3), unless
    /// `beamwidth_az_deg` / `beamwidth_el_deg` say otherwise.
    pub beamwidth_deg: f64,
    /// One-way -3 dB beamwidth across azimuth (`e_az`), degrees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beamwidth_az_deg: Option<f64>,
    /// One-way -3 dB beamwidth across elevation (`e_el`), degrees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beamwidth_el_deg: Option<f64>,
    /// Normalised azimuth monopulse slope (default 1.6).
    pub slope_az: f64,
    /// Normalised elevation monopulse slope (default 1.6).
    pub slope_el: f64,
}

impl Default for BeamScan {
    fn default() -> Self {
        BeamScan {
            azimuth_start_deg: 0.0,
            azimuth_step_deg: 0.0,
            elevation_deg: 0.0,
            beamwidth_deg: 3.0,
            beamwidth_az_deg: None,
            beamwidth_el_deg: None,
            slope_az: 1.6,
            slope_el: 1.6,
        }
    }
}

impl BeamScan {
    /// Beam azimuth of CPI `cpi`, degrees in [0, 360), rounded to 1e-9 deg
    /// (so a 0.25 deg scan reads 40.5, not 40.49999999999999).
    pub fn azimuth_deg(&self, cpi: u64) -> f64 {
        let az = (self.azimuth_start_deg + cpi as f64 * self.azimuth_step_deg).rem_euclid(360.0);
        let az = (az * 1e9).round() / 1e9;
        if az >= 360.0 { 0.0 } else { az }
    }

    /// The monopulse calibration this beam has (`radar:monopulse`).
    pub fn monopulse(&self) -> Monopulse {
        Monopulse {
            beamwidth_az_deg: self.beamwidth_az_deg.unwrap_or(self.beamwidth_deg),
            beamwidth_el_deg: self.beamwidth_el_deg.unwrap_or(self.beamwidth_deg),
            slope_az: self.slope_az,
            slope_el: self.slope_el,
        }
    }

    /// Two-way power gain (linear, 1 on axis) for a target at beam-frame
    /// offsets `theta_az_deg`, `theta_el_deg`.
    pub fn two_way_power_gain(&self, theta_az_deg: f64, theta_el_deg: f64) -> f64 {
        let m = self.monopulse();
        let q = (theta_az_deg / m.beamwidth_az_deg).powi(2)
            + (theta_el_deg / m.beamwidth_el_deg).powi(2);
        (-8.0 * std::f64::consts::LN_2 * q).exp()
    }
}

/// A point target moving at constant range rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Range at the first pulse of the recording, metres.
    pub range_m: f64,
    /// Range rate, m/s, positive = receding.
    pub range_rate_mps: f64,
    /// Element SNR `|a|^2 / sigma^2` on the beam axis, dB, per sample before any
    /// processing gain (needs `noise_power > 0`). Exactly one of `snr_db` and
    /// `amplitude` must be given. For Swerling 1 this is the mean power.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snr_db: Option<f64>,
    /// Linear complex magnitude `|a|` on the beam axis, model units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amplitude: Option<f64>,
    /// Phase of `a`, degrees. Absent: uniform random, drawn from the seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase_deg: Option<f64>,
    /// Azimuth, degrees clockwise from north. Absent: the beam's azimuth
    /// (or `beam_offset_az_deg` from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azimuth_deg: Option<f64>,
    /// Elevation, degrees. Absent: the beam's elevation (or
    /// `beam_offset_el_deg` from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elevation_deg: Option<f64>,
    /// Beam-frame offset `theta_az` from the boresight of every CPI's beam,
    /// degrees (the target follows the beam); not with `azimuth_deg` or
    /// `elevation_deg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beam_offset_az_deg: Option<f64>,
    /// Beam-frame offset `theta_el`, degrees; not with `azimuth_deg` or
    /// `elevation_deg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beam_offset_el_deg: Option<f64>,
    /// Swerling case: 0 (constant amplitude) or 1 (complex Gaussian gain with
    /// unit mean power drawn per CPI: Rayleigh amplitude, uniform phase).
    #[serde(default)]
    pub swerling: u8,
}

/// Stationary clutter: one zero-Doppler scatterer per range bin spacing
/// `c / (2 fs)` from `range_start_m` to `range_stop_m` inclusive, each with a
/// circular complex Gaussian reflectivity drawn per CPI (constant over the
/// CPI). Clutter has no beam pattern and appears in the sum channel only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClutterBand {
    /// Nearest scatterer, metres.
    pub range_start_m: f64,
    /// Farthest scatterer, metres.
    pub range_stop_m: f64,
    /// Mean element power of one scatterer over the noise power, dB (the same
    /// definition as a target's `snr_db`; overlapping echoes add, so the
    /// per-sample clutter power is larger by about the pulse length in samples).
    pub cnr_db: f64,
}

/// Site position (WGS-84), written as `core:geolocation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Latitude, degrees north.
    pub latitude_deg: f64,
    /// Longitude, degrees east.
    pub longitude_deg: f64,
    /// Height above the WGS-84 ellipsoid, metres.
    pub height_m: f64,
}

/// Channel roles the simulator knows (see [`crate::sim`] for the model of each).
pub const CHANNEL_ROLES: [&str; 3] = ["sum", "delta_az", "delta_el"];

pub(super) fn invalid(key: impl Into<String>, problem: impl Into<String>) -> SimError {
    SimError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

/// A number for a message: plain when moderate, exponent form when huge or tiny.
fn num(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-3..1e6).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// `" unit"`, or nothing for a unitless value.
fn unit_suffix(unit: &str) -> String {
    if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    }
}

/// `Ok` when `value` is finite and inside `[lo, hi]`, else an error naming `key` and `unit`.
pub(super) fn in_range(
    key: &str,
    value: f64,
    lo: f64,
    hi: f64,
    unit: &str,
) -> Result<(), SimError> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(())
    } else {
        let u = unit_suffix(unit);
        Err(invalid(
            key,
            format!(
                "must be in [{}, {}]{u} (got {}{u})",
                num(lo),
                num(hi),
                num(value)
            ),
        ))
    }
}

/// `Ok` when `value` is finite and `0 < value <= hi`.
fn positive(key: &str, value: f64, hi: f64, unit: &str) -> Result<(), SimError> {
    if value.is_finite() && value > 0.0 && value <= hi {
        Ok(())
    } else {
        let u = unit_suffix(unit);
        Err(invalid(
            key,
            format!("must be > 0 and <= {}{u} (got {})", num(hi), num(value)),
        ))
    }
}

impl Scenario {
    /// The demo scenario: an L-band surveillance radar (1.3 GHz, 10 MHz
    /// sampling, 8 MHz x 20 us LFM, 64 pulses of 2000 samples at 250 us PRI)
    /// scanning 0.25 deg per CPI through five targets with element SNRs from
    /// -19 to -5 dB (about 18 to 36 dB, beam losses included, after the 41 dB coherent gain), one of
    /// them approaching at -180 m/s, one Swerling 1. 8 CPIs, one channel.
    pub fn builtin() -> Self {
        let target =
            |range_m: f64, range_rate_mps: f64, snr_db: f64, azimuth_deg: f64, swerling: u8| {
                TargetSpec {
                    range_m,
                    range_rate_mps,
                    snr_db: Some(snr_db),
                    amplitude: None,
                    phase_deg: None,
                    azimuth_deg: Some(azimuth_deg),
                    elevation_deg: None,
                    beam_offset_az_deg: None,
                    beam_offset_el_deg: None,
                    swerling,
                }
            };
        Scenario {
            radar: RadarSpec {
                sample_rate_hz: 10e6,
                carrier_hz: 1.3e9,
                pulses_per_cpi: 64,
                samples_per_pulse: 2000,
                pri_s: 250e-6,
                window_delay_s: 40e-6,
                waveform: WaveformSpec::Lfm {
                    bandwidth_hz: 8e6,
                    pulse_width_s: 20e-6,
                },
            },
            num_cpis: 8,
            start_time: "2025-06-01T12:00:00Z".to_string(),
            noise_power: 1.0,
            datatype: SampleFormat::Cf32Le,
            ci16_counts_per_unit: None,
            beam: BeamScan {
                azimuth_start_deg: 40.0,
                azimuth_step_deg: 0.25,
                elevation_deg: 2.0,
                beamwidth_deg: 3.0,
                ..BeamScan::default()
            },
            channels: Vec::new(),
            targets: vec![
                target(15_000.0, -180.0, -8.0, 40.6, 0),
                target(22_480.0, 120.0, -15.0, 41.1, 0),
                target(12_345.0, 75.0, -5.0, 40.2, 0),
                target(30_260.0, -40.0, -12.0, 40.9, 1),
                target(32_150.0, -95.0, -19.0, 41.2, 0),
            ],
            clutter: None,
            site: None,
            looks: None,
            trajectories: Vec::new(),
        }
    }

    /// Parses and validates a scenario from TOML text. `source` names the text
    /// (a file path) in error messages.
    pub fn from_toml_str(text: &str, source: &str) -> Result<Self, SimError> {
        let parse_error = |e: toml::de::Error, key: String| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            SimError::Parse {
                source_name: source.to_string(),
                line: line.unwrap_or(0),
                key,
                message: e.message().replace('\n', " "),
            }
        };
        let de = toml::Deserializer::parse(text).map_err(|e| parse_error(e, String::new()))?;
        let scenario: Scenario = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            parse_error(e.into_inner(), key)
        })?;
        scenario.validate().map_err(|e| match e {
            SimError::Invalid { key, problem } => SimError::InvalidIn {
                source_name: source.to_string(),
                key,
                problem,
            },
            other => other,
        })?;
        Ok(scenario)
    }

    /// Reads, parses and validates a scenario file.
    pub fn from_toml_file(path: &Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::Io {
            path: path.to_path_buf(),
            action: "read",
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Transmit time of the first pulse, UTC.
    pub fn start_time_utc(&self) -> Result<OffsetDateTime, SimError> {
        let t = OffsetDateTime::parse(&self.start_time, &Rfc3339).map_err(|e| {
            invalid(
                "start_time",
                format!("{:?} is not an RFC 3339 date-time ({e})", self.start_time),
            )
        })?;
        crate::cpi::to_utc_checked(t).ok_or_else(|| {
            invalid(
                "start_time",
                format!(
                    "{:?} is outside years 0000-9999 in UTC (RFC 3339's range)",
                    self.start_time
                ),
            )
        })
    }

    /// Duration of one CPI, seconds: `pulses_per_cpi x pri_s`.
    pub fn cpi_duration_s(&self) -> f64 {
        self.radar.pulses_per_cpi as f64 * self.radar.pri_s
    }

    /// Time from one CPI's first pulse to the next's, seconds: the look
    /// interval with `[looks]`, else one CPI (back to back).
    pub fn cpi_interval_s(&self) -> f64 {
        self.looks
            .as_ref()
            .map_or(self.cpi_duration_s(), |l| l.interval_s)
    }

    /// Duration of the recording, seconds: `num_cpis` CPI intervals.
    pub fn duration_s(&self) -> f64 {
        self.num_cpis as f64 * self.cpi_interval_s()
    }

    /// Receive channels per sample position (at least 1).
    pub fn num_channels(&self) -> usize {
        self.channels.len().max(1)
    }

    /// The radar parameters a reader of the recording will see.
    pub fn radar_params(&self) -> RadarParams {
        RadarParams {
            sample_rate_hz: self.radar.sample_rate_hz,
            pulses_per_cpi: self.radar.pulses_per_cpi,
            samples_per_pulse: self.radar.samples_per_pulse,
            pri_s: self.radar.pri_s,
            window_delay_s: self.radar.window_delay_s,
            waveform: self.radar.waveform.into(),
            num_channels: self.num_channels(),
            sum_channel: self.channels.iter().position(|c| c == "sum").unwrap_or(0),
            channel_names: self.channels.clone(),
            monopulse: self
                .channels
                .iter()
                .any(|c| c == "delta_az" || c == "delta_el")
                .then(|| self.beam.monopulse()),
        }
    }

    /// Integer counts per model unit for `ci16_le` output (see
    /// [`Scenario::ci16_counts_per_unit`]); `None` for float output.
    pub fn counts_per_unit(&self) -> Option<f64> {
        match self.datatype {
            SampleFormat::Cf32Le => None,
            SampleFormat::Ci16Le => Some(
                self.ci16_counts_per_unit
                    .unwrap_or_else(|| 256.0 / self.noise_power.sqrt()),
            ),
        }
    }

    /// Checks every value; the error names the first offending key.
    pub fn validate(&self) -> Result<(), SimError> {
        let r = &self.radar;
        positive("radar.sample_rate_hz", r.sample_rate_hz, 100e9, "Hz")?;
        positive("radar.carrier_hz", r.carrier_hz, 1e12, "Hz")?;
        positive("radar.pri_s", r.pri_s, 10.0, "s")?;
        in_range("radar.window_delay_s", r.window_delay_s, 0.0, r.pri_s, "s")?;
        if r.pulses_per_cpi == 0 || r.pulses_per_cpi > 1 << 20 {
            return Err(invalid(
                "radar.pulses_per_cpi",
                format!("must be 1 ..= {} (got {})", 1 << 20, r.pulses_per_cpi),
            ));
        }
        if r.samples_per_pulse == 0 || r.samples_per_pulse > 1 << 24 {
            return Err(invalid(
                "radar.samples_per_pulse",
                format!("must be 1 ..= {} (got {})", 1 << 24, r.samples_per_pulse),
            ));
        }
        // The receive window must close before the next pulse is transmitted:
        // the model has no eclipsing and no second-time-around echoes.
        let window_end_s = r.window_delay_s + r.samples_per_pulse as f64 / r.sample_rate_hz;
        if window_end_s > r.pri_s {
            return Err(invalid(
                "radar.samples_per_pulse",
                format!(
                    "receive window ends {window_end_s} s after the pulse, after the next pulse at pri_s = {} s",
                    r.pri_s
                ),
            ));
        }
        let values = r
            .pulses_per_cpi
            .saturating_mul(r.samples_per_pulse)
            .saturating_mul(self.num_channels());
        if values > MAX_VALUES_PER_CPI {
            return Err(invalid(
                "radar.samples_per_pulse",
                format!("one CPI would hold {values} complex values (limit {MAX_VALUES_PER_CPI})"),
            ));
        }
        let pulse_width_s = match r.waveform {
            WaveformSpec::Lfm {
                bandwidth_hz,
                pulse_width_s,
            } => {
                positive(
                    "radar.waveform.bandwidth_hz",
                    bandwidth_hz,
                    r.sample_rate_hz,
                    "Hz (sample_rate_hz)",
                )?;
                pulse_width_s
            }
            WaveformSpec::Rect { pulse_width_s } => pulse_width_s,
        };
        positive(
            "radar.waveform.pulse_width_s",
            pulse_width_s,
            r.pri_s,
            "s (pri_s)",
        )?;
        if (pulse_width_s * r.sample_rate_hz).round() < 1.0 {
            return Err(invalid(
                "radar.waveform.pulse_width_s",
                "shorter than half a sample",
            ));
        }
        if self.num_cpis == 0 || self.num_cpis > 1 << 24 {
            return Err(invalid(
                "num_cpis",
                format!("must be 1 ..= {} (got {})", 1 << 24, self.num_cpis),
            ));
        }
        let start = self.start_time_utc()?;
        // Every CPI's time, and the recording's end, must stay in the calendar.
        if crate::cpi::add_seconds_checked(start, self.duration_s()).is_none() {
            return Err(invalid(
                "start_time",
                format!(
                    "{:?} plus the recording's {} s (num_cpis x the CPI interval) ends after 9999-12-31T23:59:59Z",
                    self.start_time,
                    num(self.duration_s())
                ),
            ));
        }
        in_range("noise_power", self.noise_power, 0.0, 1e30, "")?;
        if self.datatype == SampleFormat::Ci16Le {
            match self.ci16_counts_per_unit {
                Some(c) => positive("ci16_counts_per_unit", c, 1e30, "counts")?,
                None if self.noise_power > 0.0 => {}
                None => {
                    return Err(invalid(
                        "ci16_counts_per_unit",
                        "required for ci16_le when noise_power = 0",
                    ));
                }
            }
        } else if self.ci16_counts_per_unit.is_some() {
            return Err(invalid(
                "ci16_counts_per_unit",
                "only meaningful with datatype = \"ci16_le\"",
            ));
        }
        let b = &self.beam;
        in_range(
            "beam.azimuth_start_deg",
            b.azimuth_start_deg,
            -360.0,
            360.0,
            "deg",
        )?;
        in_range(
            "beam.azimuth_step_deg",
            b.azimuth_step_deg,
            -360.0,
            360.0,
            "deg",
        )?;
        in_range("beam.elevation_deg", b.elevation_deg, -90.0, 90.0, "deg")?;
        positive("beam.beamwidth_deg", b.beamwidth_deg, 180.0, "deg")?;
        let bw = &crate::radar::MONOPULSE_BEAMWIDTH_DEG;
        let slope = &crate::radar::MONOPULSE_SLOPE;
        for (key, v) in [
            ("beam.beamwidth_az_deg", b.beamwidth_az_deg),
            ("beam.beamwidth_el_deg", b.beamwidth_el_deg),
        ] {
            if let Some(v) = v {
                in_range(key, v, *bw.start(), *bw.end(), "deg")?;
            }
        }
        in_range(
            "beam.slope_az",
            b.slope_az,
            *slope.start(),
            *slope.end(),
            "",
        )?;
        in_range(
            "beam.slope_el",
            b.slope_el,
            *slope.start(),
            *slope.end(),
            "",
        )?;
        self.validate_channels()?;
        for (i, t) in self.targets.iter().enumerate() {
            let key = |k: &str| format!("targets[{i}].{k}");
            positive(&key("range_m"), t.range_m, 1e9, "m")?;
            in_range(&key("range_rate_mps"), t.range_rate_mps, -1e5, 1e5, "m/s")?;
            match (t.snr_db, t.amplitude) {
                (Some(_), Some(_)) => {
                    return Err(invalid(key("snr_db"), "give snr_db or amplitude, not both"));
                }
                (None, None) => {
                    return Err(invalid(
                        key("snr_db"),
                        "one of snr_db or amplitude is required",
                    ));
                }
                (Some(snr_db), None) => {
                    in_range(&key("snr_db"), snr_db, -200.0, 200.0, "dB")?;
                    if self.noise_power == 0.0 {
                        return Err(invalid(
                            key("snr_db"),
                            "needs noise_power > 0 (use amplitude for noise-free runs)",
                        ));
                    }
                }
                (None, Some(a)) => in_range(&key("amplitude"), a, 0.0, 1e15, "")?,
            }
            if let Some(p) = t.phase_deg {
                in_range(&key("phase_deg"), p, -3600.0, 3600.0, "deg")?;
            }
            if let Some(az) = t.azimuth_deg {
                in_range(&key("azimuth_deg"), az, -360.0, 360.0, "deg")?;
            }
            if let Some(el) = t.elevation_deg {
                in_range(&key("elevation_deg"), el, -90.0, 90.0, "deg")?;
            }
            for (k, v) in [
                ("beam_offset_az_deg", t.beam_offset_az_deg),
                ("beam_offset_el_deg", t.beam_offset_el_deg),
            ] {
                if let Some(v) = v {
                    in_range(&key(k), v, -60.0, 60.0, "deg")?;
                    if t.azimuth_deg.is_some() || t.elevation_deg.is_some() {
                        return Err(invalid(
                            key(k),
                            "give either azimuth_deg/elevation_deg or \
                             beam_offset_az_deg/beam_offset_el_deg, not both",
                        ));
                    }
                }
            }
            if t.swerling > 1 {
                return Err(invalid(
                    key("swerling"),
                    format!("must be 0 or 1 (got {})", t.swerling),
                ));
            }
        }
        if let Some(c) = &self.clutter {
            positive("clutter.range_start_m", c.range_start_m, 1e9, "m")?;
            in_range(
                "clutter.range_stop_m",
                c.range_stop_m,
                c.range_start_m,
                1e9,
                "m",
            )?;
            in_range("clutter.cnr_db", c.cnr_db, -200.0, 200.0, "dB")?;
            if self.noise_power == 0.0 {
                return Err(invalid("clutter.cnr_db", "needs noise_power > 0"));
            }
            let cells = (c.range_stop_m - c.range_start_m)
                / (SPEED_OF_LIGHT_MPS / (2.0 * r.sample_rate_hz));
            if cells > 1e6 {
                return Err(invalid(
                    "clutter.range_stop_m",
                    format!("band holds {cells:.0} range cells (limit 1e6)"),
                ));
            }
            // Each scatterer's echo is computed once per CPI over the pulse's
            // samples: bound that work like the samples of one CPI, so a run's
            // time stays proportional to its size.
            let work = (cells + 1.0) * ((pulse_width_s * r.sample_rate_hz).ceil() + 3.0);
            if work > MAX_VALUES_PER_CPI as f64 {
                return Err(invalid(
                    "clutter.range_stop_m",
                    format!(
                        "band of {cells:.0} range cells x a {:.0}-sample pulse is {work:.0} echo samples per CPI (limit {MAX_VALUES_PER_CPI}: narrow the band)",
                        (pulse_width_s * r.sample_rate_hz).ceil()
                    ),
                ));
            }
        }
        if let Some(s) = &self.site {
            in_range("site.latitude_deg", s.latitude_deg, -90.0, 90.0, "deg")?;
            in_range("site.longitude_deg", s.longitude_deg, -180.0, 180.0, "deg")?;
            in_range("site.height_m", s.height_m, -1e4, 1e5, "m")?;
        }
        super::trajectory::validate(
            self.looks.as_ref(),
            &self.trajectories,
            self.cpi_duration_s(),
            self.site.is_some(),
            self.noise_power,
        )?;
        Ok(())
    }

    fn validate_channels(&self) -> Result<(), SimError> {
        if self.channels.is_empty() {
            return Ok(());
        }
        for (i, name) in self.channels.iter().enumerate() {
            if !CHANNEL_ROLES.contains(&name.as_str()) {
                return Err(invalid(
                    format!("channels[{i}]"),
                    format!("unknown role {name:?} (known: {CHANNEL_ROLES:?})"),
                ));
            }
            if self.channels[..i].contains(name) {
                return Err(invalid(
                    format!("channels[{i}]"),
                    format!("role {name:?} appears twice"),
                ));
            }
        }
        if !self.channels.iter().any(|c| c == "sum") {
            return Err(invalid("channels", "must include \"sum\""));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"num_cpis = 2
start_time = "2025-06-01T12:00:00Z"
noise_power = 1.0
[radar]
sample_rate_hz = 1e6
carrier_hz = 1e9
pulses_per_cpi = 8
samples_per_pulse = 100
pri_s = 200e-6
window_delay_s = 10e-6
waveform = { type = "lfm", bandwidth_hz = 0.5e6, pulse_width_s = 10e-6 }
[beam]
beamwidth_deg = 3.0
[[targets]]
range_m = 5000.0
range_rate_mps = 10.0
snr_db = 0.0
"#;

    /// BASE with `line` in front, among the top-level keys.
    fn top(line: &str) -> String {
        format!("{line}\n{BASE}")
    }

    /// BASE with the line starting `prefix` replaced by `line` (or `line`
    /// appended when `prefix` is empty).
    fn with(prefix: &str, line: &str) -> String {
        if prefix.is_empty() {
            return format!("{BASE}{line}\n");
        }
        let mut found = false;
        let text: Vec<String> = BASE
            .lines()
            .map(|l| {
                if !found && l.starts_with(prefix) {
                    found = true;
                    line.to_string()
                } else {
                    l.to_string()
                }
            })
            .collect();
        assert!(found, "test bug: no line starts with {prefix}");
        text.join("\n") + "\n"
    }

    /// The error for `text`, checked to be one line naming the file and `key`.
    fn error_for(text: &str, key: &str) -> String {
        let msg = match Scenario::from_toml_str(text, "bad.toml") {
            Ok(_) => panic!("expected an error naming {key} for:\n{text}"),
            Err(e) => e.to_string(),
        };
        assert!(!msg.contains('\n'), "multi-line message: {msg}");
        assert!(
            msg.starts_with("bad.toml"),
            "message does not name the file: {msg}"
        );
        assert!(msg.contains(key), "message does not name {key}: {msg}");
        msg
    }

    #[test]
    fn base_builtin_and_example_are_valid() {
        Scenario::from_toml_str(BASE, "base.toml").unwrap();
        Scenario::builtin().validate().unwrap();
        let example =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/scenario_example.toml");
        let s = Scenario::from_toml_file(&example).unwrap();
        assert_eq!(s.num_channels(), 3);
        assert_eq!(s.radar_params().sum_channel, 0);
    }

    #[test]
    fn documented_example_in_mod_rs_parses() {
        let src = include_str!("mod.rs");
        let block: String = src
            .lines()
            .map(|l| {
                l.strip_prefix("//!")
                    .unwrap_or("")
                    .strip_prefix(' ')
                    .unwrap_or("")
            })
            .skip_while(|l| *l != "```toml")
            .skip(1)
            .take_while(|l| *l != "```")
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(
            block.contains("[radar]"),
            "no ```toml block found in mod.rs docs"
        );
        let s = Scenario::from_toml_str(&block, "mod.rs docs").unwrap();
        assert_eq!(s.num_channels(), 3);
        assert!(s.clutter.is_some() && s.site.is_some());
    }

    #[test]
    fn builtin_meets_its_brief() {
        let s = Scenario::builtin();
        let p = s.radar_params();
        let v_unamb = p.unambiguous_velocity_mps(s.radar.carrier_hz);
        let cpi_s = p.pulses_per_cpi as f64 * p.pri_s;
        assert!(!p.samples_per_pulse.is_power_of_two());
        assert!(s.targets.iter().any(|t| t.range_rate_mps <= -150.0));
        for t in &s.targets {
            assert!(t.range_rate_mps.abs() < v_unamb);
            // Range migration within one CPI stays below a fifth of a range bin.
            assert!(t.range_rate_mps.abs() * cpi_s < p.range_bin_m() / 5.0);
            let snr = t.snr_db.unwrap();
            assert!((-25.0..=-5.0).contains(&snr));
        }
        // The beam scan yields a new capture segment every CPI.
        assert!(s.beam.azimuth_step_deg != 0.0 && s.num_cpis > 1);
    }

    #[test]
    fn parse_errors_name_the_key_and_line() {
        error_for(&top("bogus = 1"), "bad.toml:1: bogus: unknown field");
        error_for(&with("pri_s", "pri_s = 200e-6\nextra_s = 1.0"), "extra_s");
        let m = error_for(&with("pri_s", "pri_s = \"fast\""), "radar.pri_s");
        assert!(m.starts_with("bad.toml:9:"), "{m}");
        error_for(
            &with("samples_per_pulse", "samples_per_pulse = -5"),
            "radar.samples_per_pulse",
        );
        error_for(
            &with(
                "waveform",
                "waveform = { type = \"barker\", pulse_width_s = 1e-5 }",
            ),
            "radar.waveform",
        );
        error_for(
            &with(
                "waveform",
                "waveform = { type = \"rect\", pulse_width_s = 1e-5, bandwidth_hz = 1e6 }",
            ),
            "bandwidth_hz",
        );
        error_for(
            &top("datatype = \"ci8\""),
            "bad.toml:1: datatype: unknown variant",
        );
        error_for(
            &with("snr_db", "snr_db = 0.0\nspeed = 3"),
            "targets[0].speed",
        );
        let m = error_for("num_cpis = [[[", "bad.toml:1:");
        assert!(!m.is_empty());
    }

    #[test]
    fn bad_values_name_the_key() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "sample_rate_hz",
                "sample_rate_hz = 0.0",
                "radar.sample_rate_hz",
            ),
            ("carrier_hz", "carrier_hz = -1e9", "radar.carrier_hz"),
            ("pri_s", "pri_s = 0.0", "radar.pri_s"),
            ("pri_s", "pri_s = nan", "radar.pri_s"),
            ("pri_s", "pri_s = inf", "radar.pri_s"),
            (
                "window_delay_s",
                "window_delay_s = -1e-6",
                "radar.window_delay_s",
            ),
            (
                "window_delay_s",
                "window_delay_s = 250e-6",
                "radar.window_delay_s",
            ),
            (
                "samples_per_pulse",
                "samples_per_pulse = 500",
                "radar.samples_per_pulse",
            ),
            (
                "pulses_per_cpi",
                "pulses_per_cpi = 0",
                "radar.pulses_per_cpi",
            ),
            (
                "samples_per_pulse",
                "samples_per_pulse = 0",
                "radar.samples_per_pulse",
            ),
            (
                "samples_per_pulse",
                "samples_per_pulse = 100000000",
                "radar.samples_per_pulse",
            ),
            (
                "waveform",
                "waveform = { type = \"lfm\", bandwidth_hz = 5e6, pulse_width_s = 1e-5 }",
                "radar.waveform.bandwidth_hz",
            ),
            (
                "waveform",
                "waveform = { type = \"rect\", pulse_width_s = 0.0 }",
                "radar.waveform.pulse_width_s",
            ),
            ("num_cpis", "num_cpis = 0", "num_cpis"),
            ("start_time", "start_time = \"yesterday\"", "start_time"),
            ("noise_power", "noise_power = -1.0", "noise_power"),
            ("noise_power", "noise_power = 0.0", "targets[0].snr_db"),
            ("beamwidth_deg", "beamwidth_deg = 0.0", "beam.beamwidth_deg"),
            ("range_m", "range_m = -5.0", "targets[0].range_m"),
            (
                "range_rate_mps",
                "range_rate_mps = 1e9",
                "targets[0].range_rate_mps",
            ),
            (
                "snr_db",
                "snr_db = 0.0\namplitude = 1.0",
                "targets[0].snr_db",
            ),
            ("snr_db", "phase_deg = 0.0", "targets[0].snr_db"),
            ("snr_db", "amplitude = -1.0", "targets[0].amplitude"),
            (
                "snr_db",
                "snr_db = 0.0\nswerling = 2",
                "targets[0].swerling",
            ),
            (
                "snr_db",
                "snr_db = 0.0\nelevation_deg = 95.0",
                "targets[0].elevation_deg",
            ),
            (
                "noise_power",
                "noise_power = 1.0\nchannels = [\"sum\", \"left\"]",
                "channels[1]",
            ),
            (
                "noise_power",
                "noise_power = 1.0\nchannels = [\"delta_az\"]",
                "channels",
            ),
            (
                "noise_power",
                "noise_power = 1.0\nchannels = [\"sum\", \"sum\"]",
                "channels[1]",
            ),
            (
                "noise_power",
                "noise_power = 0.0\ndatatype = \"ci16_le\"",
                "ci16_counts_per_unit",
            ),
            (
                "noise_power",
                "noise_power = 1.0\nci16_counts_per_unit = 10.0",
                "ci16_counts_per_unit",
            ),
        ];
        for (prefix, line, key) in cases {
            error_for(&with(prefix, line), key);
        }
        error_for(
            &with(
                "",
                "[clutter]\nrange_start_m = 9000.0\nrange_stop_m = 8000.0\ncnr_db = 0.0",
            ),
            "clutter.range_stop_m",
        );
        error_for(
            &with(
                "",
                "[site]\nlatitude_deg = 95.0\nlongitude_deg = 0.0\nheight_m = 0.0",
            ),
            "site.latitude_deg",
        );
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let e = Scenario::from_toml_file(Path::new("/nonexistent/scenario.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nonexistent/scenario.toml") && !e.contains('\n'),
            "{e}"
        );
    }
}
