//! The coherent processing interval: the unit that flows from ingest to the
//! processing backends.

use ndarray::Array3;
use rustfft::num_complex::Complex32;
use std::time::Instant;
use time::OffsetDateTime;

/// What is known about one CPI besides its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct CpiMeta {
    /// CPI index from the start of the input (0-based).
    pub index: u64,
    /// Transmit time of the CPI's first pulse, UTC.
    pub time_utc: OffsetDateTime,
    /// Carrier (RF reference) frequency, Hz.
    pub carrier_hz: f64,
    /// Beam azimuth, degrees clockwise from true north.
    pub azimuth_deg: f64,
    /// Beam elevation, degrees above the local horizon.
    pub elevation_deg: f64,
    /// True when the samples come from a simulation (ASTERIX SIM bit).
    pub simulated: bool,
    /// When the CPI's last sample reached this host: the datagram that
    /// completed it (live input) or the end of its read (recordings). Output
    /// latency is measured from here. `None` where the source has no clock
    /// (the pure VRT assembler); the pipeline stamps such a CPI when it
    /// takes it from ingest.
    pub received_at: Option<Instant>,
}

/// One CPI: samples indexed `[channel, pulse, fast-time sample]`.
///
/// Samples are complex baseband, scaled to full scale 1.0 for integer inputs
/// (formats.md §1). All channels are carried from ingest on, so monopulse
/// processing can use the difference channels; detection uses
/// [`crate::radar::RadarParams::sum_channel`].
#[derive(Debug, Clone)]
pub struct Cpi {
    /// Index, time, carrier and beam of this CPI.
    pub meta: CpiMeta,
    /// Shape `(num_channels, pulses_per_cpi, samples_per_pulse)`.
    pub samples: Array3<Complex32>,
}

impl Cpi {
    /// True when every sample of channel `channel` is finite (no NaN or Inf).
    /// Contiguous channels (standard layout) are checked in parallel.
    pub fn channel_is_finite(&self, channel: usize) -> bool {
        use rayon::prelude::*;
        let finite = |z: &Complex32| z.re.is_finite() && z.im.is_finite();
        let view = self.samples.index_axis(ndarray::Axis(0), channel);
        match view.as_slice() {
            Some(s) => s.par_iter().all(finite),
            None => view.iter().all(finite),
        }
    }
}
