//! Detections to plots: group a target's threshold crossings, interpolate its
//! peak, convert to physical units.

mod extract;

pub use extract::{extract_plots, peak_offset};
use time::OffsetDateTime;

/// One plot report: what formats.md §2 puts on a JSON line. Serialises to
/// exactly that line (field names and order of §2, time as RFC 3339 UTC).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Plot {
    /// CPI index from the start of the input.
    pub cpi: u64,
    /// Transmit time of the CPI's first pulse, UTC.
    #[serde(with = "time::serde::rfc3339")]
    pub time_utc: OffsetDateTime,
    /// Interpolated range, metres.
    pub range_m: f64,
    /// Interpolated range rate, m/s, positive receding.
    pub radial_velocity_mps: f64,
    /// Beam azimuth, degrees clockwise from true north.
    pub azimuth_deg: f64,
    /// Beam elevation, degrees above the horizon.
    pub elevation_deg: f64,
    /// Peak power over the CFAR noise estimate, dB.
    pub snr_db: f64,
    /// Interpolated range bin (see [`crate::process::RangeDopplerMap`]).
    pub range_bin: f64,
    /// Interpolated Doppler bin, FFT-shifted (see [`crate::process::RangeDopplerMap`]).
    pub doppler_bin: f64,
    /// Detections merged into this plot.
    pub cells: u32,
    /// When the CPI's last sample reached this host (from
    /// [`crate::cpi::CpiMeta::received_at`]): outputs measure their latency
    /// from here. Not part of the report line.
    #[serde(skip)]
    pub received_at: Option<std::time::Instant>,
}
