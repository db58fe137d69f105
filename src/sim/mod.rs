//! Simulator: scenario -> SigMF recording following the signal model of
//! formats.md §1, plus a truth file for tests.
//!
//! [`simulate`] writes `PREFIX.sigmf-meta`, `PREFIX.sigmf-data` and
//! `PREFIX.truth.json`, generating and writing one CPI at a time (memory is
//! bounded by one CPI). [`Simulator`] / [`simulate_cpi`] give the samples of a
//! single CPI for tests. The same seed gives identical bytes on every platform
//! (ChaCha8 streams; see [`model`]).
//!
//! # Signal model
//! Exactly formats.md §1: pulse `m` of CPI `k` is transmitted at slow time
//! `t = (k P + m) pri_s` from the first pulse (CPIs back to back); sample `n`
//! is at `t_n = window_delay_s + n / fs`; a target at `R(t) = R0 + v t` adds
//! `a * s(t_n - 2 R(t) / c) * exp(-j 4 pi R(t) / lambda)`, with the waveform
//! evaluated at the exact (unrounded) delay and phases computed in f64. Noise
//! is circular complex white Gaussian, total variance `noise_power` per sample
//! (half in I, half in Q), independent in every channel.
//! Not modelled: eclipsing by the next transmission, second-time-around
//! echoes, antenna or receiver filtering; the receive window must therefore
//! close before the next pulse (`window_delay_s + samples_per_pulse /
//! sample_rate_hz <= pri_s`; the built-in's ends at 240 us with a 250 us PRI).
//!
//! `a` = on-axis amplitude (from `snr_db` as `sqrt(noise_power 10^(snr_db/10))`,
//! or `amplitude`) x `exp(j phase)` x `sqrt(two-way beam power gain)` (see
//! [`BeamScan`]) x, for Swerling 1, a unit-power complex Gaussian drawn per CPI.
//!
//! Channels (`channels = [...]`): `sum` carries the model above, clutter and
//! noise. `delta_az` carries each target's sum-channel echo times
//! `slope_az * theta_az / beamwidth_az` (`delta_el`: `slope_el * theta_el /
//! beamwidth_el`), with `theta` the target's offset in the beam frame
//! (formats.md §5, [`crate::geo::BeamFrame`]), plus independent noise of the
//! same power and no clutter. A scenario with a difference channel writes
//! `radar:monopulse` from `[beam]`.
//!
//! # Scenario file (TOML)
//! Unknown keys are errors. Units are in the names.
//! ```toml
//! num_cpis = 3                          # CPIs to write
//! start_time = "2025-06-01T12:00:00Z"   # RFC 3339, first pulse of the recording
//! noise_power = 1.0                     # sigma^2 per complex sample; 0 = noise-free
//! datatype = "cf32_le"                  # or "ci16_le" (default "cf32_le")
//! # ci16_counts_per_unit = 256.0        # ci16 only; default 256 / sqrt(noise_power)
//! channels = ["sum", "delta_az", "delta_el"]  # optional; default one channel
//!
//! [radar]
//! sample_rate_hz = 10e6
//! carrier_hz = 1.3e9
//! pulses_per_cpi = 64
//! samples_per_pulse = 2000
//! pri_s = 250e-6
//! window_delay_s = 40e-6
//! waveform = { type = "lfm", bandwidth_hz = 8e6, pulse_width_s = 20e-6 }  # or { type = "rect", pulse_width_s = ... }
//!
//! [beam]                                # optional; defaults 0, 0, 0 and 3
//! azimuth_start_deg = 40.0              # CPI 0
//! azimuth_step_deg = 0.25               # per CPI
//! elevation_deg = 2.0
//! beamwidth_deg = 3.0                   # one-way -3 dB, Gaussian pattern, both axes
//! # beamwidth_az_deg = 2.0              # optional, per axis of the beam frame
//! # beamwidth_el_deg = 2.5
//! # slope_az = 1.6                      # monopulse slopes (default 1.6)
//! # slope_el = 1.6
//!
//! [[targets]]
//! range_m = 15000.0                     # at the recording's first pulse
//! range_rate_mps = -180.0               # positive receding
//! snr_db = -8.0                         # element SNR on axis; or amplitude = 0.5 (linear)
//! phase_deg = 30.0                      # optional; default random from the seed
//! azimuth_deg = 40.6                    # optional; default on the beam axis
//! elevation_deg = 2.0                   # optional; default the beam elevation
//! # or, following the beam: offsets in the beam frame (not with the two above)
//! # beam_offset_az_deg = 0.6
//! # beam_offset_el_deg = -0.3
//! swerling = 0                          # 0 or 1
//!
//! [clutter]                             # optional: zero-Doppler band, sum channel only
//! range_start_m = 9300.0
//! range_stop_m = 9900.0
//! cnr_db = 5.0                          # per scatterer (one per range bin), like snr_db
//!
//! [site]                                # optional: core:geolocation
//! latitude_deg = 55.0
//! longitude_deg = 10.0
//! height_m = 30.0
//!
//! [looks]                               # optional: one CPI per look (see trajectory)
//! interval_s = 2.0                      # first pulse to first pulse, >= one CPI
//! beam = "track"                        # or "fixed" (the [beam] table's pointing)
//! track = 0                             # trajectory the beam follows
//! pointing_sigma_deg = 0.3              # per beam-frame axis, per look
//! min_elevation_deg = 1.0
//!
//! [[trajectories]]                      # ballistic objects; need [site]
//! latitude_deg = 37.5                   # launch point
//! longitude_deg = 43.0
//! azimuth_deg = 300.0                   # launch azimuth, clockwise from north
//! launch_time_s = 10.0                  # after start_time
//! burn_time_s = 90.0
//! thrust_accel_mps2 = 35.0              # constant magnitude
//! vertical_rise_s = 10.0
//! burnout_flight_path_deg = 40.0        # pitch programme end
//! yaw_rate_deg_s = 0.0                  # optional dog-leg
//! snr_db = -20.0                        # element SNR on axis at reference_range_m, R^-4
//! reference_range_m = 1000e3
//! swerling = 0
//! ```
//! A trajectory's object is flown per [`ballistic`] (boost, then
//! formats.md §5 to impact) and echoes at its true range for every pulse;
//! the truth file adds its launch, burnout, apogee and impact
//! (`trajectories`) and a record per CPI while it echoes. See
//! [`trajectory`]; `tews simulate --ballistic` is a built-in example.
//! `ci16_le`: count = round(value x counts_per_unit), saturating; saturated
//! I/Q values are counted in the truth file and logged. A reader that scales by
//! 1/32768 sees model values times [`Truth::sample_scale`].
//!
//! Bounds (each value outside is an error naming its key): `pri_s` up to
//! 10 s, the receive window inside the PRI, 1 to 2^20 pulses and 1 to 2^24
//! samples per pulse, at most 2^26 complex values per CPI
//! ([`scenario::MAX_VALUES_PER_CPI`]), 1 to 2^24 CPIs; `start_time` and the
//! end of the recording (`start_time + num_cpis x pulses_per_cpi x pri_s`)
//! within years 0000-9999 in UTC (what `core:datetime` can write); clutter
//! at most 10^6 range cells and at most 2^26 echo samples per CPI (cells x
//! pulse length in samples), so a run's time stays proportional to its size.
//!
//! # Recording
//! `core:version` 1.2.0, the `radar` extension (v0.1.0, not optional),
//! `radar:simulated = true`, `core:num_channels` when above 1, `radar:channels`
//! when named, `core:geolocation` with a `[site]`, and a `core:description`
//! naming the seed. One capture per CPI whose carrier or beam differs from the
//! previous CPI's (with `[looks]`, one per CPI: they are not back to back) (`core:sample_start = k P N`, `core:datetime = start_time +
//! k P pri_s`). Files are written as `*.partial` and renamed when complete, the
//! meta last; existing files at the prefix are replaced. A prefix ending in
//! `.sigmf`, `.sigmf-meta` or `.sigmf-data` has that ending dropped.
//!
//! # Truth file
//! `PREFIX.truth.json` is [`Truth`] as JSON: the seed, the scenario echoed,
//! scale and noise as recorded, derived constants, one record per CPI
//! ([`CpiTruth`]) and one per CPI per target ([`TargetTruth`]); ranges are at
//! the CPI's reference time, the mean of its pulse times. A target's record
//! has its beam-frame offsets, its true azimuth and elevation and, with a
//! `[site]`, its WGS-84 position at that time.

pub mod ballistic;
pub mod model;
mod recording;
pub mod scenario;
pub mod trajectory;
pub mod truth;

use std::path::{Path, PathBuf};

use ndarray::Array3;
use rustfft::num_complex::Complex32;

pub use model::{Simulator, coherent_gain_db};
pub use scenario::{
    BeamScan, ClutterBand, RadarSpec, SampleFormat, Scenario, Site, TargetSpec, WaveformSpec,
};
pub use truth::{CpiTruth, TargetTruth, Truth};

/// Why a simulation could not run. Every message is one line.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A scenario file could not be read, or an output could not be written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What was being done (`read`, `create`, `write`, ...).
        action: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The scenario text is not valid TOML or does not fit the scenario layout.
    #[error("{source_name}:{line}: {}{message}", if key.is_empty() || key == "." { String::new() } else { format!("{key}: ") })]
    Parse {
        /// The file (or other source) being parsed.
        source_name: String,
        /// 1-based line of the problem (0 when unknown).
        line: usize,
        /// Dotted path of the offending key, when known.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A scenario value is impossible or absurd.
    #[error("scenario key {key}: {problem}")]
    Invalid {
        /// Dotted path of the offending key, e.g. `radar.pri_s`, `targets[2].snr_db`.
        key: String,
        /// What is wrong, with the value.
        problem: String,
    },
    /// As [`SimError::Invalid`], for a scenario read from a file.
    #[error("{source_name}: scenario key {key}: {problem}")]
    InvalidIn {
        /// The scenario file.
        source_name: String,
        /// Dotted path of the offending key.
        key: String,
        /// What is wrong, with the value.
        problem: String,
    },
    /// JSON serialisation of the metadata or truth failed.
    #[error("cannot serialise JSON: {0}")]
    Json(String),
}

/// Simulates `scenario` with `seed` and writes `PREFIX.sigmf-meta`,
/// `PREFIX.sigmf-data` and `PREFIX.truth.json` (replacing existing ones).
pub fn simulate(scenario: &Scenario, seed: u64, out_prefix: &Path) -> Result<Truth, SimError> {
    let sim = Simulator::new(scenario, seed)?;
    recording::write_recording(&sim, seed, out_prefix)
}

/// The samples of CPI `cpi` of the recording that [`simulate`] would write
/// with `seed`, shape `(channels, pulses, samples)`, in model units (before
/// any `ci16` scaling). For repeated calls, build a [`Simulator`] once.
pub fn simulate_cpi(
    scenario: &Scenario,
    seed: u64,
    cpi: u64,
) -> Result<Array3<Complex32>, SimError> {
    Ok(Simulator::new(scenario, seed)?.cpi_samples(cpi))
}
