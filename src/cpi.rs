//! The coherent processing interval: the unit that flows from ingest to the
//! processing backends.

use ndarray::{Array3, ArrayView2};
use rustfft::num_complex::Complex32;
use std::sync::OnceLock;
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

/// A [`Cpi`] whose sample array does not have the shape it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CPI {index}: {got} {what} given, shape {shape:?} needs {need}")]
pub struct CpiShapeError {
    /// CPI index.
    pub index: u64,
    /// What was counted ("ci16 values").
    pub what: &'static str,
    /// Values given.
    pub got: usize,
    /// Values the shape needs.
    pub need: usize,
    /// The shape `(channels, pulses, samples)`.
    pub shape: (usize, usize, usize),
}

/// The raw integers of a ci16 CPI.
#[derive(Debug, Clone)]
struct Ci16Samples {
    /// Interleaved (I, Q) counts, `[channel][pulse][sample]`, host order.
    iq: Vec<i16>,
    /// Multiplier to full scale 1.0 (2^-15; 1.0 for raw counts).
    scale: f32,
}

/// One CPI: samples indexed `[channel, pulse, fast-time sample]`.
///
/// Samples are complex baseband, scaled to full scale 1.0 for integer inputs
/// (formats.md §1). All channels are carried from ingest on, so monopulse
/// processing can use the difference channels; detection uses
/// [`crate::radar::RadarParams::sum_channel`].
///
/// Two forms, one meaning:
/// - **cf32** ([`Cpi::new`]): decoded `Complex32` samples. Float recordings
///   and the integer types other than ci16 (ci8, ci32) arrive so: they are
///   converted on the host by the reader (they are rare; the digitizer
///   delivers ci16, and a second raw form per type is not worth its code).
/// - **ci16** ([`Cpi::from_ci16`]): the raw interleaved i16 counts of a ci16
///   recording (either byte order, held in host order) or of live VRT
///   packets, and their scale. The GPU backend uploads these (4 bytes a
///   sample instead of 8) and converts on the device. [`Cpi::samples`]
///   converts them to cf32 once, on first use (`f32::from(count) * scale`,
///   exactly as the readers do), so the CPU backend, the fallback, the viewer
///   and replay see the same values as before; a ci16 CPI that only the GPU
///   sees never holds a cf32 copy.
#[derive(Debug, Clone)]
pub struct Cpi {
    /// Index, time, carrier and beam of this CPI.
    pub meta: CpiMeta,
    /// `(num_channels, pulses_per_cpi, samples_per_pulse)`.
    shape: (usize, usize, usize),
    /// Raw counts, when the CPI came as ci16 and was not changed since.
    ci16: Option<Ci16Samples>,
    /// Decoded samples: given (cf32 CPI) or converted on first use.
    samples: OnceLock<Array3<Complex32>>,
}

impl Cpi {
    /// A CPI of decoded samples, shape `(channels, pulses, samples)`.
    pub fn new(meta: CpiMeta, samples: Array3<Complex32>) -> Self {
        Cpi {
            meta,
            shape: samples.dim(),
            ci16: None,
            samples: OnceLock::from(samples),
        }
    }

    /// A CPI of raw ci16 counts: `iq` holds `2 x C x P x N` values, (I, Q)
    /// interleaved, `[channel][pulse][sample]`, host order; `scale` (2^-15 for
    /// full scale 1.0, 1.0 for raw counts) maps a count to a sample. An `iq`
    /// of any other length is an error.
    pub fn from_ci16(
        meta: CpiMeta,
        shape: (usize, usize, usize),
        iq: Vec<i16>,
        scale: f32,
    ) -> Result<Self, CpiShapeError> {
        let (c, p, n) = shape;
        let need = c
            .checked_mul(p)
            .and_then(|v| v.checked_mul(n))
            .and_then(|v| v.checked_mul(2));
        if need != Some(iq.len()) {
            return Err(CpiShapeError {
                index: meta.index,
                what: "ci16 values",
                got: iq.len(),
                need: need.unwrap_or(usize::MAX),
                shape,
            });
        }
        Ok(Cpi {
            meta,
            shape,
            ci16: Some(Ci16Samples { iq, scale }),
            samples: OnceLock::new(),
        })
    }

    /// `(num_channels, pulses_per_cpi, samples_per_pulse)`.
    pub fn dim(&self) -> (usize, usize, usize) {
        self.shape
    }

    /// The decoded samples, shape [`Cpi::dim`]. For a ci16 CPI the first
    /// call converts every channel (and keeps the result).
    pub fn samples(&self) -> &Array3<Complex32> {
        self.samples.get_or_init(|| {
            let Some(raw) = &self.ci16 else {
                // Unreachable: a CPI without ci16 is built with its samples.
                return Array3::zeros(self.shape);
            };
            let mut out = vec![Complex32::default(); raw.iq.len() / 2];
            ci16_to_cf32(&raw.iq, raw.scale, &mut out);
            Array3::from_shape_vec(self.shape, out).unwrap_or_else(|_| Array3::zeros(self.shape))
        })
    }

    /// The decoded samples if they exist already (a cf32 CPI, or a ci16 CPI
    /// something converted): never converts.
    pub fn decoded(&self) -> Option<&Array3<Complex32>> {
        self.samples.get()
    }

    /// Makes a ci16 CPI a cf32 one: converts it (if not yet) and drops the
    /// counts, so it holds one copy of its samples, not two. For a consumer
    /// that wants cf32 (the CPU backend). A cf32 CPI is left as it is.
    pub fn decode(&mut self) {
        if self.ci16.is_some() {
            self.samples();
            self.ci16 = None;
        }
    }

    /// The decoded samples for changing them. A ci16 CPI is converted first
    /// and stops being one (its counts no longer describe it).
    pub fn samples_mut(&mut self) -> &mut Array3<Complex32> {
        self.samples();
        self.ci16 = None;
        // Just initialised above.
        self.samples.get_mut().expect("samples initialised")
    }

    /// The raw ci16 counts of every channel and their scale, for a ci16
    /// CPI: `2 x C x P x N` values, (I, Q) interleaved, `[channel][pulse]
    /// [sample]`, host order (see [`Cpi::from_ci16`]).
    pub fn ci16(&self) -> Option<(&[i16], f32)> {
        self.ci16.as_ref().map(|r| (r.iq.as_slice(), r.scale))
    }

    /// Channel `channel`'s ci16 counts (`2 x P x N` values), for a ci16 CPI
    /// with that channel.
    pub fn ci16_channel(&self, channel: usize) -> Option<(&[i16], f32)> {
        let (c, p, n) = self.shape;
        if channel >= c {
            return None;
        }
        let len = 2 * p * n;
        self.ci16()
            .and_then(|(iq, scale)| Some((iq.get(channel * len..(channel + 1) * len)?, scale)))
    }

    /// Channel `channel`'s decoded samples, `[pulse, sample]` (converts a
    /// ci16 CPI, see [`Cpi::samples`]).
    pub fn channel(&self, channel: usize) -> ArrayView2<'_, Complex32> {
        self.samples().index_axis(ndarray::Axis(0), channel)
    }

    /// True when every sample of channel `channel` is finite (no NaN or Inf).
    /// A ci16 CPI is finite by construction (checked without converting);
    /// contiguous channels (standard layout) are checked in parallel.
    pub fn channel_is_finite(&self, channel: usize) -> bool {
        use rayon::prelude::*;
        if self.ci16.is_some() {
            return true;
        }
        let finite = |z: &Complex32| z.re.is_finite() && z.im.is_finite();
        let view = self.samples().index_axis(ndarray::Axis(0), channel);
        match view.as_slice() {
            Some(s) => s.par_iter().all(finite),
            None => view.iter().all(finite),
        }
    }
}

/// Converts interleaved (I, Q) counts to samples, `f32::from(count) *
/// scale` (exact for a power-of-two scale), into `out` (`iq.len() / 2`
/// values; in parallel for large inputs).
pub fn ci16_to_cf32(iq: &[i16], scale: f32, out: &mut [Complex32]) {
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 14;
    let (pairs, _) = iq.as_chunks::<2>();
    let convert = |(o, p): (&mut [Complex32], &[[i16; 2]])| {
        for (z, &[i, q]) in o.iter_mut().zip(p) {
            *z = Complex32::new(f32::from(i) * scale, f32::from(q) * scale);
        }
    };
    if pairs.len() > CHUNK {
        out.par_chunks_mut(CHUNK)
            .zip(pairs.par_chunks(CHUNK))
            .for_each(convert);
    } else {
        convert((out, pairs));
    }
}

/// The latest CPI time tews accepts: the end of year 9999, the last instant
/// an RFC 3339 date-time (SigMF `core:datetime`, a plot's `time_utc`) can
/// write with its four-digit year.
pub const LAST_TIME_UTC: OffsetDateTime =
    time::macros::datetime!(9999-12-31 23:59:59.999_999_999 UTC);

/// The earliest CPI time tews accepts: the start of year 0000, for the same
/// reason.
pub const FIRST_TIME_UTC: OffsetDateTime = time::macros::datetime!(0000-01-01 00:00:00 UTC);

/// `t` moved to UTC, or `None` when that leaves years 0000-9999
/// ([`FIRST_TIME_UTC`] to [`LAST_TIME_UTC`]).
pub fn to_utc_checked(t: OffsetDateTime) -> Option<OffsetDateTime> {
    t.checked_to_offset(time::UtcOffset::UTC)
        .filter(|t| (FIRST_TIME_UTC..=LAST_TIME_UTC).contains(t))
}

/// `t + seconds` (negative: earlier), or `None` when `seconds` is not finite,
/// the sum overflows, or it leaves years 0000-9999. Every CPI time tews
/// computes goes through here (or [`to_utc_checked`]), so a time past the
/// calendar is an error value, never a panic.
pub fn add_seconds_checked(t: OffsetDateTime, seconds: f64) -> Option<OffsetDateTime> {
    let d = time::Duration::checked_seconds_f64(seconds)?;
    t.checked_add(d).and_then(to_utc_checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(index: u64) -> CpiMeta {
        CpiMeta {
            index,
            time_utc: OffsetDateTime::UNIX_EPOCH,
            carrier_hz: 1e9,
            azimuth_deg: 0.0,
            elevation_deg: 0.0,
            simulated: false,
            received_at: None,
        }
    }

    const SCALE: f32 = 1.0 / 32768.0;

    #[test]
    fn ci16_cpi_converts_lazily_to_hand_computed_values() {
        // 2 channels x 1 pulse x 2 samples, (I, Q) interleaved.
        let iq = vec![i16::MIN, 16384, i16::MAX, -1, 0, -16384, 8192, 1];
        let cpi = Cpi::from_ci16(meta(3), (2, 1, 2), iq.clone(), SCALE).unwrap();
        assert_eq!(cpi.dim(), (2, 1, 2));
        assert!(
            cpi.decoded().is_none(),
            "no cf32 copy before one is asked for"
        );
        assert_eq!(cpi.ci16(), Some((iq.as_slice(), SCALE)));
        assert_eq!(cpi.ci16_channel(1).unwrap().0, &iq[4..]);
        assert!(cpi.ci16_channel(2).is_none());
        // Finite without converting.
        assert!(cpi.channel_is_finite(0) && cpi.channel_is_finite(1));
        assert!(cpi.decoded().is_none());
        let s = cpi.samples();
        assert_eq!(s.dim(), (2, 1, 2));
        assert_eq!(s[[0, 0, 0]], Complex32::new(-1.0, 0.5));
        assert_eq!(
            s[[0, 0, 1]],
            Complex32::new(32767.0 / 32768.0, -1.0 / 32768.0)
        );
        assert_eq!(s[[1, 0, 0]], Complex32::new(0.0, -0.5));
        assert_eq!(s[[1, 0, 1]], Complex32::new(0.25, 1.0 / 32768.0));
        assert!(cpi.decoded().is_some());
        let mut owned = cpi.clone();
        owned.decode();
        assert!(owned.ci16().is_none());
        assert_eq!(owned.samples(), s);
        // Raw counts (scale 1.0) stay counts.
        let raw = Cpi::from_ci16(meta(0), (1, 1, 1), vec![-7, 300], 1.0).unwrap();
        assert_eq!(raw.samples()[[0, 0, 0]], Complex32::new(-7.0, 300.0));
    }

    #[test]
    fn ci16_shape_errors_are_errors() {
        let e = Cpi::from_ci16(meta(5), (2, 3, 4), vec![0; 47], SCALE).unwrap_err();
        assert_eq!((e.got, e.need, e.index), (47, 48, 5));
        assert!(e.to_string().contains("CPI 5"), "{e}");
        assert!(Cpi::from_ci16(meta(0), (1, 1, 1), vec![0; 1], SCALE).is_err());
        let huge = usize::MAX / 2;
        assert!(Cpi::from_ci16(meta(0), (huge, huge, 2), vec![], SCALE).is_err());
        assert!(Cpi::from_ci16(meta(0), (0, 4, 4), vec![], SCALE).is_ok());
    }

    #[test]
    fn changing_a_ci16_cpi_makes_it_a_cf32_cpi() {
        let mut cpi = Cpi::from_ci16(meta(0), (1, 1, 2), vec![1, 2, 3, 4], 0.5).unwrap();
        cpi.samples_mut()[[0, 0, 1]].im = f32::NAN;
        assert!(cpi.ci16().is_none(), "the counts no longer describe it");
        assert!(!cpi.channel_is_finite(0));
        assert_eq!(cpi.samples()[[0, 0, 0]], Complex32::new(0.5, 1.0));
    }

    #[test]
    fn cf32_cpi_is_held_as_given() {
        let a = Array3::from_elem((1, 2, 3), Complex32::new(1.0, f32::INFINITY));
        let cpi = Cpi::new(meta(0), a.clone());
        assert_eq!(cpi.dim(), (1, 2, 3));
        assert!(cpi.ci16().is_none());
        assert_eq!(cpi.decoded(), Some(&a));
        assert!(!cpi.channel_is_finite(0));
    }

    #[test]
    fn time_arithmetic_is_checked_at_the_calendar_edges() {
        let t = time::macros::datetime!(9999-12-31 23:59:59 UTC);
        assert_eq!(
            add_seconds_checked(t, 0.5),
            Some(time::macros::datetime!(9999-12-31 23:59:59.5 UTC))
        );
        assert_eq!(add_seconds_checked(t, 1.0), None);
        assert_eq!(add_seconds_checked(t, f64::NAN), None);
        assert_eq!(add_seconds_checked(t, -1e30), None);
        let late = time::macros::datetime!(9999-12-31 23:30:00 -1);
        assert_eq!(to_utc_checked(late), None);
        let early = time::macros::datetime!(0000-01-01 00:30:00 +1);
        assert_eq!(to_utc_checked(early), None);
    }
}
