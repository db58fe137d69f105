//! What the simulator put into a recording, written beside it as
//! `PREFIX.truth.json`, so tests of the processor can assert against it.

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::scenario::Scenario;

/// Formats a UTC time as RFC 3339 (`Z` suffix, fractional seconds as needed).
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    // Formatting a UTC OffsetDateTime with a 4-digit year cannot fail.
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// The whole truth file.
#[derive(Debug, Clone, Serialize)]
pub struct Truth {
    /// Format tag of this file: `"tews-sim-truth/1"`.
    pub format: String,
    /// The seed the recording was generated from.
    pub seed: u64,
    /// The scenario, echoed as parsed (defaults filled in).
    pub scenario: Scenario,
    /// SigMF `core:datatype` of the data file.
    pub datatype: String,
    /// A reader that scales integers by 1/2^15 (formats.md §1) sees model
    /// values times this factor: 1 for `cf32_le`, `counts_per_unit / 32768`
    /// for `ci16_le`. Amplitudes and powers below are in model units.
    pub sample_scale: f64,
    /// Noise power as the reader sees it: `noise_power * sample_scale^2`.
    pub recorded_noise_power: f64,
    /// Number of I or Q values that saturated in `ci16_le` conversion (0 for floats).
    pub clipped_values: u64,
    /// Wavelength, metres.
    pub wavelength_m: f64,
    /// Unambiguous velocity `lambda / (4 pri)`, m/s; folded velocities lie in `[-v, +v)`.
    pub unambiguous_velocity_mps: f64,
    /// Range bin spacing `c / (2 fs)`, metres.
    pub range_bin_m: f64,
    /// Doppler bin spacing `lambda / (2 P pri)`, m/s.
    pub velocity_bin_mps: f64,
    /// Ideal coherent gain `10 log10(L) + 10 log10(P)`, dB (matched filter on
    /// the `L`-sample replica and `P`-pulse Doppler FFT, before window losses).
    pub coherent_gain_db: f64,
    /// One record per CPI.
    pub cpis: Vec<CpiTruth>,
    /// One record per CPI per target, CPI-major.
    pub targets: Vec<TargetTruth>,
    /// Per trajectory: its launch, burnout, apogee and impact.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trajectories: Vec<TrajectoryTruth>,
}

/// A named point of a trajectory.
#[derive(Debug, Clone, Serialize)]
pub struct EventTruth {
    /// UTC, RFC 3339.
    pub time_utc: String,
    /// WGS-84 position.
    pub latitude_deg: f64,
    /// WGS-84 position.
    pub longitude_deg: f64,
    /// Height above the ellipsoid, m.
    pub height_m: f64,
    /// ECEF position, m.
    pub position_ecef_m: [f64; 3],
    /// ECEF velocity, m/s.
    pub velocity_ecef_mps: [f64; 3],
}

/// The key points of one trajectory (formats.md §5: impact is the first
/// crossing of height 0 after apogee).
#[derive(Debug, Clone, Serialize)]
pub struct TrajectoryTruth {
    /// Index into the scenario's `trajectories`, then continuing over the
    /// separated boosters (in the order of their trajectories).
    pub trajectory: usize,
    /// For a separated booster: the trajectory it left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booster_of: Option<usize>,
    /// Leaving the pad (a booster: its separation).
    pub launch: EventTruth,
    /// End of thrust.
    pub burnout: EventTruth,
    /// Highest point.
    pub apogee: EventTruth,
    /// Impact on the ellipsoid.
    pub impact: EventTruth,
}

/// Time and beam of one CPI.
#[derive(Debug, Clone, Serialize)]
pub struct CpiTruth {
    /// CPI index from the start of the recording.
    pub cpi: u64,
    /// Transmit time of the CPI's first pulse, UTC, RFC 3339 (as in the captures).
    pub time_utc: String,
    /// The CPI's reference time for ranges: mean of its pulse times
    /// `(k P + (P - 1) / 2) pri`, seconds from the recording's first pulse.
    pub reference_time_s: f64,
    /// Carrier, Hz.
    pub carrier_hz: f64,
    /// Beam azimuth, degrees clockwise from north, in [0, 360).
    pub azimuth_deg: f64,
    /// Beam elevation, degrees.
    pub elevation_deg: f64,
}

/// One target in one CPI.
#[derive(Debug, Clone, Serialize)]
pub struct TargetTruth {
    /// CPI index.
    pub cpi: u64,
    /// Object index: into the scenario's `targets`, then continuing over
    /// its `trajectories` (target count + trajectory index).
    pub target: usize,
    /// For a trajectory's object: its index into the truth's
    /// `trajectories` (the scenario's, then the separated boosters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trajectory: Option<usize>,
    /// Transmit time of the CPI's first pulse, UTC (as a plot report's `time_utc`).
    pub time_utc: String,
    /// True range at the CPI's reference time (mean pulse time), metres.
    pub range_m: f64,
    /// True range at the CPI's first pulse, metres.
    pub range_first_pulse_m: f64,
    /// True range rate, m/s, positive receding.
    pub radial_velocity_mps: f64,
    /// Range rate aliased into `[-lambda/(4 pri), +lambda/(4 pri))`, as the Doppler FFT sees it.
    pub folded_velocity_mps: f64,
    /// Expected fractional range bin at the reference time: `(2R/c - window_delay_s) fs`.
    pub range_bin: f64,
    /// Expected fractional Doppler bin in the FFT-shifted map (bin `P/2` = zero
    /// Doppler, see `RadarParams::radial_velocity_mps`), in `[0, P)`.
    pub doppler_bin: f64,
    /// True when the echo starts inside the receive window.
    pub in_window: bool,
    /// True when the whole echo (start to start + T) lies inside the receive window.
    pub fully_in_window: bool,
    /// Beam-frame offset `theta_az` of the target from the beam's boresight,
    /// degrees (formats.md §5; not an azimuth difference).
    pub azimuth_offset_deg: f64,
    /// Beam-frame offset `theta_el`, degrees.
    pub elevation_offset_deg: f64,
    /// True azimuth of the target, degrees clockwise from north, [0, 360).
    pub azimuth_deg: f64,
    /// True elevation of the target, degrees.
    pub elevation_deg: f64,
    /// True WGS-84 position at the CPI's reference time (with a `[site]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<crate::geo::Geodetic>,
    /// Two-way beam-pattern power gain, dB (0 on axis).
    pub beam_gain_db: f64,
    /// `|a|` in this CPI in model units, after beam gain and the Swerling draw.
    pub amplitude: f64,
    /// Mean element SNR after beam gain, dB (`null` when noise_power = 0).
    pub element_snr_db: Option<f64>,
    /// Element SNR of this CPI's drawn amplitude, dB (differs from the mean for Swerling 1).
    pub realised_element_snr_db: Option<f64>,
    /// `element_snr_db + coherent_gain_db`: SNR expected at the peak of the
    /// range-Doppler map, before window, straddle and scalloping losses.
    pub expected_snr_db: Option<f64>,
}
