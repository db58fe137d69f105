//! Live IQ from the digitizer: VITA 49.2 (VRT) packets in tews's profile
//! (formats.md §3; hw/README.md §1 documents the FPGA packetizer as built).
//!
//! Framing follows the mini-redis habit: [`check`] says whether a buffer
//! starts with a whole packet (and how long it is), then [`parse`] decodes
//! exactly one packet. UDP carries one packet per datagram, so a receiver calls
//! [`parse`] on each datagram; a recorded byte stream of back-to-back packets
//! (such as `hw/build/packets.bin`) is split with [`packets`].
//!
//! Nothing here panics or reads out of bounds on any input: every malformed
//! packet is a [`VrtError`] whose one-line message names the problem.
//! [`CpiAssembler`] turns a sequence of parsed packets into [`crate::cpi::Cpi`]s.
//!
//! What the parser accepts beyond the letter of formats.md, because the FPGA
//! packetizer sends it (hw/README.md §1 notes a, c, d): the not-V49.0 bit 25
//! set or clear in context headers, the CIF0 bit 31 context field change
//! indicator, and a packet count that is kept separately for the data and the
//! context packets of a stream (counting is the assembler's job). Reserved and
//! TSM bits of context headers are ignored, as VITA 49 asks of receivers.

mod assembler;
mod channels;
pub mod encoder;

pub use assembler::{AssemblerConfig, CpiAssembler, CpiDrops, VrtCounters};
pub use channels::{MultiChannelAssembler, PENDING_CPIS};

/// VRT packet type of signal data with a stream ID (header bits 31-28).
pub const TYPE_DATA: u8 = 1;
/// VRT packet type of a context packet (header bits 31-28).
pub const TYPE_CONTEXT: u8 = 4;
/// Timestamp integer mode of the profile: UTC seconds since the POSIX epoch.
pub const TSI_UTC: u8 = 1;
/// Timestamp fractional mode of the profile: real-time picoseconds.
pub const TSF_PICOSECONDS: u8 = 2;
/// Picoseconds in one second: the fractional timestamp is below this.
pub const PICOSECONDS_PER_SECOND: u64 = 1_000_000_000_000;
/// Words of a data packet besides its samples: header, stream ID, integer
/// timestamp, two fractional timestamp words, trailer.
pub const DATA_OVERHEAD_WORDS: usize = 6;
/// Words of the profile's context packet.
pub const CONTEXT_WORDS: usize = 12;
/// CIF0 of the profile: RF reference frequency (27), sample rate (21), CIF1
/// present (1). Bit 31 (change indicator) may be set as well.
pub const CIF0_PROFILE: u32 = (1 << 27) | (1 << 21) | (1 << 1);
/// CIF0 bit 31: context field change indicator (not a field-presence bit).
pub const CIF0_CHANGE_INDICATOR: u32 = 1 << 31;
/// CIF1 of the profile: 3-D pointing vector, single word (bit 29).
pub const CIF1_PROFILE: u32 = 1 << 29;
/// Trailer enables the profile sets on every data packet: valid data (30),
/// sample loss (24), sample frame (23-22), user-defined CPI start (20).
pub const TRAILER_REQUIRED_ENABLES: u32 = (1 << 30) | (1 << 24) | (3 << 22) | (1 << 20);
/// Full scale of a ci16 sample: samples are scaled by 1/32768 (formats.md §1).
pub const CI16_FULL_SCALE: f32 = 32768.0;

/// A malformed packet (or a buffer that does not hold a whole one).
///
/// Messages are one line and name the field and the value found, so a site
/// engineer can compare them with the digitizer's configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VrtError {
    /// The buffer ends before the packet does (stream framing only: more bytes
    /// may still arrive).
    #[error("incomplete packet: its header says {needed} bytes, only {available} available")]
    Incomplete {
        /// Bytes the packet needs (4 when even the header is missing).
        needed: usize,
        /// Bytes in the buffer.
        available: usize,
    },
    /// A datagram shorter than the 4-byte header.
    #[error("datagram of {bytes} bytes is shorter than the 4-byte VRT header")]
    TooShort {
        /// Length of the datagram, bytes.
        bytes: usize,
    },
    /// The header's size field is 0.
    #[error("packet size field is 0 words (a packet holds at least its 1-word header)")]
    ZeroSize,
    /// The header's size field disagrees with the datagram's length.
    #[error(
        "packet size field says {size_words} words ({} bytes) but the datagram is {bytes} bytes",
        *size_words as usize * 4
    )]
    LengthMismatch {
        /// The header's size field, 32-bit words.
        size_words: u16,
        /// Length of the datagram, bytes.
        bytes: usize,
    },
    /// A packet type other than 1 (data) or 4 (context).
    #[error(
        "packet type {packet_type} is not supported \
         (tews reads 1 = signal data with stream ID, 4 = context)"
    )]
    UnknownType {
        /// Header bits 31-28.
        packet_type: u8,
    },
    /// Header bit 27 set: the profile sends no class ID.
    #[error("class ID present (header bit 27): tews's profile sends none")]
    ClassId,
    /// A data packet with header bit 26 (T) clear.
    #[error("data packet without a trailer (header bit 26 clear): tews's profile requires one")]
    MissingTrailer,
    /// A data packet with header bit 25 clear (a V49.0 packet, whose trailer
    /// has no sample frame field).
    #[error(
        "data packet without the not-V49.0 indicator (header bit 25 clear): \
         tews's profile needs V49.2 sample frame indicators"
    )]
    NotV49_2,
    /// A data packet with header bit 24 (spectrum) set.
    #[error("spectrum data (header bit 24 set) is not supported: tews reads time-domain samples")]
    Spectrum,
    /// TSI/TSF other than the profile's 1 (UTC) / 2 (picoseconds).
    #[error(
        "timestamp modes TSI = {tsi}, TSF = {tsf} are not tews's profile \
         (TSI = 1 UTC seconds, TSF = 2 picoseconds)"
    )]
    TimestampMode {
        /// Header bits 23-22.
        tsi: u8,
        /// Header bits 21-20.
        tsf: u8,
    },
    /// A fractional timestamp of 10^12 ps or more.
    #[error("fractional timestamp {picoseconds} ps is not below 10^12 (one second)")]
    Picoseconds {
        /// The 64-bit fractional timestamp.
        picoseconds: u64,
    },
    /// A data packet too small for its header, stream ID, timestamps and trailer.
    #[error(
        "data packet of {size_words} words is shorter than the 6 words of header, \
         stream ID, timestamps and trailer"
    )]
    DataTooShort {
        /// The header's size field, words.
        size_words: u16,
    },
    /// A context packet whose size is not the profile's 12 words.
    #[error("context packet of {size_words} words: tews's profile context packet is 12 words")]
    ContextSize {
        /// The header's size field, words.
        size_words: u16,
    },
    /// CIF0 other than bits 27, 21, 1 (plus the optional change indicator 31).
    #[error(
        "CIF0 = 0x{cif0:08X}: tews's profile needs exactly bits 27 (RF frequency), \
         21 (sample rate) and 1 (CIF1), plus optionally 31 (change indicator)"
    )]
    Cif0 {
        /// The CIF0 word.
        cif0: u32,
    },
    /// CIF1 other than bit 29 (3-D pointing vector).
    #[error("CIF1 = 0x{cif1:08X}: tews's profile needs exactly bit 29 (3-D pointing vector)")]
    Cif1 {
        /// The CIF1 word.
        cif1: u32,
    },
    /// A frequency field with bit 63 set (negative in V49.2's two's complement).
    #[error("{field} field 0x{raw:016X} is negative (bit 63 set)")]
    NegativeFrequency {
        /// "RF reference frequency" or "sample rate".
        field: &'static str,
        /// The 64-bit field.
        raw: u64,
    },
    /// A pointing word outside elevation -90..=90 or azimuth 0..360 degrees.
    #[error(
        "pointing word 0x{word:08X}: elevation {elevation_deg} deg (must be -90..=90), \
         azimuth {azimuth_deg} deg (must be below 360)"
    )]
    Pointing {
        /// The pointing word.
        word: u32,
        /// Decoded elevation, degrees.
        elevation_deg: f64,
        /// Decoded azimuth, degrees.
        azimuth_deg: f64,
    },
    /// A data trailer without the enables the profile always sets.
    #[error(
        "trailer 0x{trailer:08X} lacks enables the profile always sets \
         (bits 30 valid data, 24 sample loss, 23-22 sample frame, 20 CPI start)"
    )]
    TrailerEnables {
        /// The trailer word.
        trailer: u32,
    },
}

/// One complex sample as sent: ci16, I in the upper 16 bits of the word, Q in
/// the lower, two's complement. Raw counts, so tests can compare bit-exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ci16 {
    /// In-phase count.
    pub i: i16,
    /// Quadrature count.
    pub q: i16,
}

impl Ci16 {
    /// Decodes one payload word.
    pub fn from_word(word: u32) -> Self {
        Ci16 {
            i: (word >> 16) as u16 as i16,
            q: word as u16 as i16,
        }
    }

    /// The payload word this sample travels as.
    pub fn to_word(self) -> u32 {
        (u32::from(self.i as u16) << 16) | u32::from(self.q as u16)
    }

    /// Scaled to full scale 1.0 (counts / 32768, formats.md §1).
    pub fn to_complex32(self) -> rustfft::num_complex::Complex32 {
        rustfft::num_complex::Complex32::new(
            f32::from(self.i) / CI16_FULL_SCALE,
            f32::from(self.q) / CI16_FULL_SCALE,
        )
    }
}

/// Where a packet sits in its sample frame (one pulse's receive window):
/// trailer indicator bits 11-10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFrame {
    /// 0: the whole frame is in this packet.
    Whole,
    /// 1: first packet of the frame.
    First,
    /// 2: a middle packet.
    Middle,
    /// 3: final packet of the frame.
    Final,
}

impl SampleFrame {
    /// From the 2-bit indicator.
    pub fn from_bits(bits: u32) -> Self {
        match bits & 3 {
            0 => SampleFrame::Whole,
            1 => SampleFrame::First,
            2 => SampleFrame::Middle,
            _ => SampleFrame::Final,
        }
    }

    /// True for the packet that opens a frame (whole or first).
    pub fn starts_frame(self) -> bool {
        matches!(self, SampleFrame::Whole | SampleFrame::First)
    }

    /// True for the packet that closes a frame (whole or final).
    pub fn ends_frame(self) -> bool {
        matches!(self, SampleFrame::Whole | SampleFrame::Final)
    }
}

/// A data packet's trailer word, decoded. The profile's enables are checked by
/// [`parse`], so the indicators below are meaningful; `raw` keeps the word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    /// The trailer word as received.
    pub raw: u32,
    /// Valid-data indicator (bit 18).
    pub valid_data: bool,
    /// Sample-loss indicator (bit 12): the digitizer dropped samples before
    /// this packet.
    pub sample_loss: bool,
    /// Sample frame indicator (bits 11-10).
    pub sample_frame: SampleFrame,
    /// User-defined indicator bit 8 (enable 20): this packet belongs to the
    /// first pulse of a CPI.
    pub cpi_start: bool,
    /// Calibrated-time indicator (bit 19), when its enable (31) is set.
    pub calibrated_time: Option<bool>,
    /// Reference-lock indicator (bit 17), when its enable (29) is set.
    pub reference_lock: Option<bool>,
    /// Over-range indicator (bit 13), when its enable (25) is set.
    pub over_range: Option<bool>,
    /// Associated context packet count (bits 6-0), when E (bit 7) is set.
    pub associated_context_count: Option<u8>,
}

impl Trailer {
    /// The indicator paired with enable bit `enable_bit` (31..=20), or `None`
    /// when that enable is clear.
    pub fn indicator(raw: u32, enable_bit: u32) -> Option<bool> {
        if !(20..=31).contains(&enable_bit) {
            return None;
        }
        ((raw >> enable_bit) & 1 == 1).then_some((raw >> (enable_bit - 12)) & 1 == 1)
    }

    /// Decodes a trailer word; an error when a required enable is clear.
    pub fn from_word(raw: u32) -> Result<Self, VrtError> {
        if raw & TRAILER_REQUIRED_ENABLES != TRAILER_REQUIRED_ENABLES {
            return Err(VrtError::TrailerEnables { trailer: raw });
        }
        let bit = |n: u32| (raw >> n) & 1 == 1;
        Ok(Trailer {
            raw,
            valid_data: bit(18),
            sample_loss: bit(12),
            sample_frame: SampleFrame::from_bits(raw >> 10),
            cpi_start: bit(8),
            calibrated_time: Self::indicator(raw, 31),
            reference_lock: Self::indicator(raw, 29),
            over_range: Self::indicator(raw, 25),
            associated_context_count: bit(7).then_some((raw & 0x7F) as u8),
        })
    }
}

/// A signal data packet (type 1).
#[derive(Debug, Clone, PartialEq)]
pub struct DataPacket {
    /// Stream ID (one per receive channel).
    pub stream_id: u32,
    /// Packet count, modulo 16, of this stream's data packets.
    pub count: u8,
    /// UTC seconds since the POSIX epoch of the first sample (TSI = 1; the
    /// profile's TSI/TSF are checked by [`parse`], so they are not stored).
    pub seconds: u32,
    /// Picoseconds within that second of the first sample (TSF = 2), below 10^12.
    pub picoseconds: u64,
    /// Samples in arrival order, raw ci16 counts.
    pub samples: Vec<Ci16>,
    /// The trailer.
    pub trailer: Trailer,
}

/// A context packet (type 4) in the profile's layout.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextPacket {
    /// Stream ID (the same as the data packets it describes).
    pub stream_id: u32,
    /// Packet count, modulo 16, of this stream's context packets (counted
    /// apart from the data packets, hw/README.md §1 note c).
    pub count: u8,
    /// UTC seconds of the first sample of the CPI that follows.
    pub seconds: u32,
    /// Picoseconds within that second.
    pub picoseconds: u64,
    /// CIF0 bit 31: some context field differs from the previous context packet.
    pub change_indicator: bool,
    /// RF reference frequency (carrier), Hz.
    pub rf_frequency_hz: f64,
    /// Complex sample rate, Hz.
    pub sample_rate_hz: f64,
    /// Beam azimuth, degrees clockwise from true north, 0..360.
    pub azimuth_deg: f64,
    /// Beam elevation, degrees above the horizon, -90..=90.
    pub elevation_deg: f64,
    /// RF reference frequency field as sent (Hz, 20 fractional bits).
    pub rf_frequency_fx20: u64,
    /// Sample rate field as sent (Hz, 20 fractional bits).
    pub sample_rate_fx20: u64,
    /// Pointing word as sent (elevation upper 16 bits, azimuth lower 16).
    pub pointing_word: u32,
}

/// One parsed packet.
#[derive(Debug, Clone, PartialEq)]
pub enum Packet {
    /// Signal data (type 1).
    Data(DataPacket),
    /// Context (type 4).
    Context(ContextPacket),
}

impl Packet {
    /// The packet's stream ID.
    pub fn stream_id(&self) -> u32 {
        match self {
            Packet::Data(d) => d.stream_id,
            Packet::Context(c) => c.stream_id,
        }
    }

    /// The packet's 4-bit count.
    pub fn count(&self) -> u8 {
        match self {
            Packet::Data(d) => d.count,
            Packet::Context(c) => c.count,
        }
    }
}

/// Converts a 64-bit fixed-point field with 20 fractional bits to a float.
/// Integer and fraction are converted apart so that only the final sum rounds
/// (the raw field of a 10 GHz carrier exceeds 2^53).
pub fn fx20_to_f64(raw: u64) -> f64 {
    (raw >> 20) as f64 + (raw & 0xF_FFFF) as f64 / (1u64 << 20) as f64
}

/// Decodes a pointing word into `(elevation_deg, azimuth_deg)`: elevation in
/// the upper 16 bits (signed, 7 fractional bits), azimuth in the lower 16 bits
/// (unsigned, 7 fractional bits).
pub fn pointing_from_word(word: u32) -> (f64, f64) {
    let el = f64::from((word >> 16) as u16 as i16) / 128.0;
    let az = f64::from(word as u16) / 128.0;
    (el, az)
}

/// Reads big-endian word `i` of `buf`, or `None` past its end.
fn word(buf: &[u8], i: usize) -> Option<u32> {
    let start = i.checked_mul(4)?;
    let bytes = buf.get(start..start.checked_add(4)?)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

/// Framing: whether `buf` starts with a whole packet. Returns the packet's
/// length in bytes (from the header's size field), or
/// [`VrtError::Incomplete`] when more bytes are needed, or
/// [`VrtError::ZeroSize`]. Checks nothing else; [`parse`] does.
pub fn check(buf: &[u8]) -> Result<usize, VrtError> {
    let Some(header) = word(buf, 0) else {
        return Err(VrtError::Incomplete {
            needed: 4,
            available: buf.len(),
        });
    };
    let size_words = (header & 0xFFFF) as usize;
    if size_words == 0 {
        return Err(VrtError::ZeroSize);
    }
    let needed = size_words * 4;
    if buf.len() < needed {
        return Err(VrtError::Incomplete {
            needed,
            available: buf.len(),
        });
    }
    Ok(needed)
}

/// Decodes exactly one packet: `buf` is one UDP datagram, or one packet cut
/// from a byte stream by [`check`]. Its length must equal the header's size
/// field. Every deviation from tews's profile is an error.
pub fn parse(buf: &[u8]) -> Result<Packet, VrtError> {
    let Some(header) = word(buf, 0) else {
        return Err(VrtError::TooShort { bytes: buf.len() });
    };
    let size_words = (header & 0xFFFF) as u16;
    if size_words == 0 {
        return Err(VrtError::ZeroSize);
    }
    if buf.len() != usize::from(size_words) * 4 {
        return Err(VrtError::LengthMismatch {
            size_words,
            bytes: buf.len(),
        });
    }
    let packet_type = (header >> 28) as u8;
    let bit = |n: u32| (header >> n) & 1 == 1;
    if packet_type != TYPE_DATA && packet_type != TYPE_CONTEXT {
        return Err(VrtError::UnknownType { packet_type });
    }
    if bit(27) {
        return Err(VrtError::ClassId);
    }
    if packet_type == TYPE_DATA {
        if !bit(26) {
            return Err(VrtError::MissingTrailer);
        }
        if !bit(25) {
            return Err(VrtError::NotV49_2);
        }
        if bit(24) {
            return Err(VrtError::Spectrum);
        }
    }
    let tsi = ((header >> 22) & 3) as u8;
    let tsf = ((header >> 20) & 3) as u8;
    if tsi != TSI_UTC || tsf != TSF_PICOSECONDS {
        return Err(VrtError::TimestampMode { tsi, tsf });
    }
    let count = ((header >> 16) & 0xF) as u8;
    let words = usize::from(size_words);
    let min_words = if packet_type == TYPE_DATA {
        DATA_OVERHEAD_WORDS
    } else {
        CONTEXT_WORDS
    };
    if words < min_words || (packet_type == TYPE_CONTEXT && words != CONTEXT_WORDS) {
        return Err(if packet_type == TYPE_DATA {
            VrtError::DataTooShort { size_words }
        } else {
            VrtError::ContextSize { size_words }
        });
    }
    // From here every word index below `words` exists; `word` still checks.
    let w = |i: usize| word(buf, i).unwrap_or(0);
    let stream_id = w(1);
    let seconds = w(2);
    let picoseconds = (u64::from(w(3)) << 32) | u64::from(w(4));
    if picoseconds >= PICOSECONDS_PER_SECOND {
        return Err(VrtError::Picoseconds { picoseconds });
    }
    if packet_type == TYPE_DATA {
        let trailer = Trailer::from_word(w(words - 1))?;
        let samples = buf[5 * 4..(words - 1) * 4]
            .chunks_exact(4)
            .map(|b| Ci16::from_word(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
            .collect();
        return Ok(Packet::Data(DataPacket {
            stream_id,
            count,
            seconds,
            picoseconds,
            samples,
            trailer,
        }));
    }
    let cif0 = w(5);
    if cif0 & !CIF0_CHANGE_INDICATOR != CIF0_PROFILE {
        return Err(VrtError::Cif0 { cif0 });
    }
    let cif1 = w(6);
    if cif1 != CIF1_PROFILE {
        return Err(VrtError::Cif1 { cif1 });
    }
    let rf_frequency_fx20 = (u64::from(w(7)) << 32) | u64::from(w(8));
    let sample_rate_fx20 = (u64::from(w(9)) << 32) | u64::from(w(10));
    for (field, raw) in [
        ("RF reference frequency", rf_frequency_fx20),
        ("sample rate", sample_rate_fx20),
    ] {
        if raw >> 63 != 0 {
            return Err(VrtError::NegativeFrequency { field, raw });
        }
    }
    let pointing_word = w(11);
    let (elevation_deg, azimuth_deg) = pointing_from_word(pointing_word);
    if !(-90.0..=90.0).contains(&elevation_deg) || azimuth_deg >= 360.0 {
        return Err(VrtError::Pointing {
            word: pointing_word,
            elevation_deg,
            azimuth_deg,
        });
    }
    Ok(Packet::Context(ContextPacket {
        stream_id,
        count,
        seconds,
        picoseconds,
        change_indicator: cif0 & CIF0_CHANGE_INDICATOR != 0,
        rf_frequency_hz: fx20_to_f64(rf_frequency_fx20),
        sample_rate_hz: fx20_to_f64(sample_rate_fx20),
        azimuth_deg,
        elevation_deg,
        rf_frequency_fx20,
        sample_rate_fx20,
        pointing_word,
    }))
}

/// Splits a byte stream of back-to-back packets (a capture such as
/// `hw/build/packets.bin`) by each header's size field, yielding each packet's
/// bytes for [`parse`]. A framing error ([`VrtError::Incomplete`] at the end,
/// [`VrtError::ZeroSize`]) is yielded once and ends the iteration, since the
/// next packet boundary is then unknown.
pub fn packets(stream: &[u8]) -> Packets<'_> {
    Packets { rest: stream }
}

/// Iterator returned by [`packets`].
#[derive(Debug, Clone)]
pub struct Packets<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<&'a [u8], VrtError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match check(self.rest) {
            Ok(n) => {
                let (packet, rest) = self.rest.split_at(n);
                self.rest = rest;
                Some(Ok(packet))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid data packet of `n` samples and a valid context packet.
    fn valid_packets() -> Vec<Vec<u8>> {
        let n = 7u32;
        let mut data = vec![
            0x1660_0000 | (3 << 16) | (n + 6),
            0x7E5A_0001,
            1_700_000_000,
            0xE8,
            0xD4A5_0FFF,
        ];
        data.extend((0..n).map(|k| (k << 16) | (0xFFFF ^ k)));
        data.push(0x41D4_0000 | (1 << 12) | (1 << 10) | (1 << 8));
        let ctx = vec![
            0x4260_000C,
            0x7E5A_0001,
            1_700_000_000,
            0,
            5,
            0x8820_0002,
            0x2000_0000,
            0x0023_0E13,
            0x4808_0000,
            0x0000_0989,
            0x6800_0000,
            0xFEFF_B3FF,
        ];
        [data, ctx]
            .iter()
            .map(|ws| ws.iter().flat_map(|w| w.to_be_bytes()).collect())
            .collect()
    }

    /// Deterministic 64-bit LCG (Knuth's MMIX constants).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }
    }

    /// Runs every entry point on `buf`; only a panic can fail.
    fn exercise(buf: &[u8], asm: &mut CpiAssembler) {
        let _ = check(buf);
        let _ = parse(buf);
        for p in packets(buf).flatten() {
            let _ = parse(p);
        }
        let _ = asm.push_datagram(buf);
    }

    fn assembler() -> CpiAssembler {
        CpiAssembler::new(AssemblerConfig {
            pulses_per_cpi: 2,
            samples_per_pulse: 7,
            stream_id: None,
        })
    }

    #[test]
    fn valid_packets_parse() {
        for p in valid_packets() {
            assert_eq!(check(&p), Ok(p.len()));
            parse(&p).expect("valid packet");
        }
    }

    #[test]
    fn every_bit_flip_and_truncation_is_an_error_or_a_packet_never_a_panic() {
        let mut asm = assembler();
        for p in valid_packets() {
            for bit in 0..p.len() * 8 {
                let mut q = p.clone();
                q[bit / 8] ^= 1 << (bit % 8);
                exercise(&q, &mut asm);
            }
            for len in 0..p.len() {
                let q = &p[..len];
                assert!(parse(q).is_err(), "prefix of {len} bytes parsed");
                assert!(matches!(check(q), Err(VrtError::Incomplete { .. })));
                exercise(q, &mut asm);
            }
            // Longer than the size field says: a datagram error.
            let mut q = p.clone();
            q.extend_from_slice(&[0, 0, 0, 0]);
            assert!(matches!(parse(&q), Err(VrtError::LengthMismatch { .. })));
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Lcg(0x7E5A_0001);
        let mut asm = assembler();
        let valid = valid_packets();
        for round in 0..20_000 {
            let len = (rng.next() % 96) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            // Half the time, keep a plausible header so parsing goes deeper.
            if round % 2 == 0 && len >= 4 {
                let h = &valid[round / 2 % 2][..4];
                buf[..2].copy_from_slice(&h[..2]);
                buf[2..4].copy_from_slice(&((len / 4) as u16).to_be_bytes());
            }
            exercise(&buf, &mut asm);
        }
        assert_eq!(asm.counters().packets_received, 20_000);
    }
}
