//! The packet encoder: CPIs into tews's VITA 49.2 profile (formats.md §3,
//! hw/README.md §1), the sender's side of [`super::parse`]. `tews replay`
//! uses it to emulate the digitizer; it writes exactly what the FPGA
//! packetizer in hw/ writes (headers, trailers, the context field change
//! indicator, separate modulo-16 counts for data and context packets).
//!
//! The encoder only formats bytes: it owns no socket and no clock, so tests
//! can decode its output with the host parser and with an independent decoder
//! (Wireshark's `vrt` dissector, tests/vrt_encoder.rs).

use super::{CI16_FULL_SCALE, CIF0_CHANGE_INDICATOR, CIF0_PROFILE, CIF1_PROFILE, Ci16};
use super::{CONTEXT_WORDS, DATA_OVERHEAD_WORDS, PICOSECONDS_PER_SECOND};

/// Header bits of a data packet besides count and size: type 1, T, Nd0,
/// TSI = 1 (UTC), TSF = 2 (picoseconds).
const DATA_HEADER: u32 = 0x1660_0000;
/// Header bits of a context packet besides count and size: type 4, Nd0,
/// TSI = 1, TSF = 2.
const CONTEXT_HEADER: u32 = 0x4260_0000;
/// Trailer enables (valid data, sample loss, sample frame, user CPI start)
/// and the valid-data indicator, which is always set.
const TRAILER_BASE: u32 = 0x41D4_0000;

/// Largest sample count of one data packet: the 16-bit size field, less the
/// header, stream ID, timestamp and trailer words.
pub const MAX_SAMPLES_PER_PACKET: usize = 0xFFFF - DATA_OVERHEAD_WORDS;

/// A VRT timestamp: UTC seconds (TSI = 1) and picoseconds (TSF = 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    /// Seconds since the POSIX epoch.
    pub seconds: u32,
    /// Picoseconds within the second, below 10^12.
    pub picoseconds: u64,
}

impl Timestamp {
    /// The timestamp of a UTC time (nanosecond precision, as
    /// [`time::OffsetDateTime`] holds it), or `None` before 1970 or after
    /// 2106 (outside the 32-bit seconds field).
    pub fn from_utc(t: time::OffsetDateTime) -> Option<Self> {
        let ns = t.unix_timestamp_nanos();
        let seconds = u32::try_from(ns.div_euclid(1_000_000_000)).ok()?;
        let picoseconds = (ns.rem_euclid(1_000_000_000) as u64) * 1000;
        Some(Timestamp {
            seconds,
            picoseconds,
        })
    }

    /// This time plus `ps` picoseconds (seconds wrap modulo 2^32, as the
    /// field does).
    pub fn plus_picoseconds(self, ps: u64) -> Self {
        let total = self.picoseconds + ps;
        Timestamp {
            seconds: self
                .seconds
                .wrapping_add((total / PICOSECONDS_PER_SECOND) as u32),
            picoseconds: total % PICOSECONDS_PER_SECOND,
        }
    }
}

/// The fields of a context packet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContextFields {
    /// Time of the first sample of the CPI that follows.
    pub time: Timestamp,
    /// RF reference (carrier) frequency, Hz.
    pub rf_frequency_hz: f64,
    /// Complex sample rate, Hz.
    pub sample_rate_hz: f64,
    /// Beam azimuth, degrees clockwise from north (sent to 1/128 degree).
    pub azimuth_deg: f64,
    /// Beam elevation, degrees (sent to 1/128 degree, -90 to +90).
    pub elevation_deg: f64,
}

/// A frequency as the profile's unsigned 64-bit fixed point with 20
/// fractional bits (rounded to the nearest 2^-20 Hz; negative and
/// non-finite values give 0, values past 2^43 Hz saturate with bit 63
/// clear).
pub fn fx20_from_f64(hz: f64) -> u64 {
    if !(hz.is_finite() && hz > 0.0) {
        return 0;
    }
    // Multiplying by a power of two is exact; only the rounding rounds.
    ((hz * (1u64 << 20) as f64).round() as u64).min(i64::MAX as u64)
}

/// The pointing word: elevation (int16, 7 fractional bits, clamped to
/// ±90°) in the upper half, azimuth (uint16, 7 fractional bits, reduced to
/// 0..360°) in the lower half. Each is rounded to the nearest 1/128 degree.
pub fn pointing_word(elevation_deg: f64, azimuth_deg: f64) -> u32 {
    let el = (elevation_deg.clamp(-90.0, 90.0) * 128.0).round() as i16;
    let az_units = (azimuth_deg.rem_euclid(360.0) * 128.0).round() as u32 % (360 * 128);
    ((el as u16 as u32) << 16) | az_units
}

/// A sample scaled to full scale 1.0 as a ci16 count: rounded, saturating at
/// ±32767/-32768. The second value is true when it saturated (or was not
/// finite, which sends 0).
pub fn ci16_from_complex(z: rustfft::num_complex::Complex32) -> (Ci16, bool) {
    let one = |x: f32| -> (i16, bool) {
        if !x.is_finite() {
            return (0, true);
        }
        let c = (x * CI16_FULL_SCALE).round();
        let clipped = c.clamp(i16::MIN as f32, i16::MAX as f32);
        (clipped as i16, clipped != c)
    };
    let ((i, ci), (q, cq)) = (one(z.re), one(z.im));
    (Ci16 { i, q }, ci || cq)
}

/// Encodes one stream's packets. Keeps the two modulo-16 packet counts (data
/// and context, hw/README.md §1 note c) and the previous context fields (for
/// the change indicator) across calls.
#[derive(Debug, Clone)]
pub struct VrtEncoder {
    stream_id: u32,
    samples_per_packet: usize,
    data_count: u8,
    context_count: u8,
    /// RF word pair, sample rate word pair and pointing word of the last
    /// context packet.
    last_context: Option<(u64, u64, u32)>,
    buf: Vec<u8>,
}

impl VrtEncoder {
    /// An encoder for stream `stream_id` cutting sample frames into packets
    /// of at most `samples_per_packet` samples (clamped to
    /// 1..=[`MAX_SAMPLES_PER_PACKET`]). Both counts start at 0, like the
    /// FPGA's after reset.
    pub fn new(stream_id: u32, samples_per_packet: usize) -> Self {
        VrtEncoder {
            stream_id,
            samples_per_packet: samples_per_packet.clamp(1, MAX_SAMPLES_PER_PACKET),
            data_count: 0,
            context_count: 0,
            last_context: None,
            buf: Vec::new(),
        }
    }

    /// Samples per packet (after clamping).
    pub fn samples_per_packet(&self) -> usize {
        self.samples_per_packet
    }

    fn word(&mut self, w: u32) {
        self.buf.extend_from_slice(&w.to_be_bytes());
    }

    fn timestamp(&mut self, t: Timestamp) {
        self.word(t.seconds);
        self.word((t.picoseconds >> 32) as u32);
        self.word(t.picoseconds as u32);
    }

    /// The context packet announcing the CPI that follows (12 words).
    pub fn context(&mut self, c: &ContextFields) -> &[u8] {
        let rf = fx20_from_f64(c.rf_frequency_hz);
        let fs = fx20_from_f64(c.sample_rate_hz);
        let pointing = pointing_word(c.elevation_deg, c.azimuth_deg);
        let fields = (rf, fs, pointing);
        let changed = self.last_context != Some(fields);
        self.last_context = Some(fields);
        self.buf.clear();
        let count = u32::from(self.context_count);
        self.context_count = (self.context_count + 1) & 0xF;
        self.word(CONTEXT_HEADER | (count << 16) | CONTEXT_WORDS as u32);
        self.word(self.stream_id);
        self.timestamp(c.time);
        self.word(CIF0_PROFILE | if changed { CIF0_CHANGE_INDICATOR } else { 0 });
        self.word(CIF1_PROFILE);
        for v in [rf, fs] {
            self.word((v >> 32) as u32);
            self.word(v as u32);
        }
        self.word(pointing);
        &self.buf
    }

    /// The data packets of one pulse (one sample frame) whose first sample is
    /// at `time`, handed to `emit` one datagram at a time. Each packet's
    /// timestamp is its own first sample's, `sample_rate_hz` apart (rounded
    /// to the picosecond). `first_pulse` sets the CPI-start indicator on
    /// every packet of the pulse. An empty pulse sends nothing.
    pub fn pulse(
        &mut self,
        time: Timestamp,
        sample_rate_hz: f64,
        samples: &[Ci16],
        first_pulse: bool,
        mut emit: impl FnMut(&[u8]),
    ) {
        let chunks = samples.len().div_ceil(self.samples_per_packet);
        for (j, chunk) in samples.chunks(self.samples_per_packet).enumerate() {
            let frame: u32 = match (chunks, j) {
                (1, _) => 0,
                (_, 0) => 1,
                (n, j) if j + 1 == n => 3,
                _ => 2,
            };
            let offset = j * self.samples_per_packet;
            let ps = (offset as f64 * PICOSECONDS_PER_SECOND as f64 / sample_rate_hz).round();
            let t = time.plus_picoseconds(if ps.is_finite() { ps as u64 } else { 0 });
            self.buf.clear();
            let count = u32::from(self.data_count);
            self.data_count = (self.data_count + 1) & 0xF;
            self.word(DATA_HEADER | (count << 16) | (chunk.len() + DATA_OVERHEAD_WORDS) as u32);
            self.word(self.stream_id);
            self.timestamp(t);
            for s in chunk {
                self.word(s.to_word());
            }
            self.word(TRAILER_BASE | (frame << 10) | (u32::from(first_pulse) << 8));
            emit(&self.buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::vrt::{Packet, SampleFrame, parse};

    #[test]
    fn fixed_point_examples_from_hw_readme() {
        assert_eq!(fx20_from_f64(9_410_000_000.5), 0x0023_0E13_4808_0000);
        assert_eq!(fx20_from_f64(10e6), 10_000_000 << 20);
        assert_eq!(pointing_word(1.5, 45.25), 0x00C0_16A0);
        assert_eq!(pointing_word(-2.0078125, 359.9921875), 0xFEFF_B3FF);
        assert_eq!(pointing_word(0.0, 360.0), 0);
        assert_eq!(pointing_word(0.0, -0.5), 359 * 128 + 64);
    }

    #[test]
    fn packets_parse_back() {
        let mut enc = VrtEncoder::new(7, 3);
        let t = Timestamp {
            seconds: 100,
            picoseconds: PICOSECONDS_PER_SECOND - 100_000,
        };
        let samples: Vec<Ci16> = (0..8).map(|k| Ci16 { i: k, q: -k }).collect();
        let mut got = Vec::new();
        enc.pulse(t, 10e6, &samples, true, |d| got.push(parse(d).unwrap()));
        let frames: Vec<_> = got
            .iter()
            .map(|p| match p {
                Packet::Data(d) => (d.count, d.trailer.sample_frame, d.seconds, d.picoseconds),
                Packet::Context(_) => panic!("context"),
            })
            .collect();
        // 100 ns per sample: the second packet (offset 3 samples) crosses
        // into second 101.
        assert_eq!(
            frames,
            vec![
                (0, SampleFrame::First, 100, PICOSECONDS_PER_SECOND - 100_000),
                (1, SampleFrame::Middle, 101, 200_000),
                (2, SampleFrame::Final, 101, 500_000),
            ]
        );
    }
}
