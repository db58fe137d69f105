//! SigMF recordings with the `radar` extension (formats.md §1).
//!
//! [`Recording::open`] reads and checks the metadata (every key, every capture
//! segment, the size of the data) before any sample is read, so a bad
//! recording fails at once with a message naming the file and the key. Samples
//! are then read one CPI at a time, either at random ([`Recording::read_cpi`],
//! for the viewer) or in order ([`Recording::cpis`], memory bounded by about
//! one CPI whatever the size of the file).
//!
//! A recording is found from any of its names: `NAME.sigmf-meta`,
//! `NAME.sigmf-data`, `NAME` (the base), or `NAME.sigmf` (a tar archive holding
//! both members, read in place without unpacking).

use std::fmt::Display;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use ndarray::Array3;
use rustfft::num_complex::Complex32;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::IngestError;
use crate::cpi::{Cpi, CpiMeta};
use crate::radar::{MONOPULSE_BEAMWIDTH_DEG, MONOPULSE_SLOPE, Monopulse, RadarParams, Waveform};

/// Largest `radar:pulses_per_cpi` accepted.
pub const MAX_PULSES_PER_CPI: u64 = 65_536;
/// Largest `radar:samples_per_pulse` accepted (also the longest pulse replica).
pub const MAX_SAMPLES_PER_PULSE: u64 = 4_194_304;
/// Longest `radar:pri_s` accepted, seconds (a pulse radar's PRI is
/// microseconds to milliseconds). The receive window
/// (`radar:window_delay_s + radar:samples_per_pulse / core:sample_rate`)
/// must also end within the PRI: the next pulse's transmission ends it.
pub const MAX_PRI_S: f64 = 1.0;
/// Largest CPI accepted in bytes of the data file (all channels): with the
/// decoded `Complex32` copy, one CPI in memory costs at most 3 GiB (a ci16
/// CPI of [`MAX_COMPLEX_PER_CPI`] values), and a cf64 CPI at most 1.5 GiB.
pub const MAX_CPI_BYTES: u64 = 1 << 30;
/// Largest `core:num_channels` accepted.
pub const MAX_CHANNELS: u64 = 1024;
/// Largest CPI accepted, in complex values over all channels (2 GiB as
/// `Complex32`): reading holds one CPI in memory at a time.
pub const MAX_COMPLEX_PER_CPI: u64 = 1 << 28;
/// Largest metadata file accepted, bytes (it is read whole into memory).
pub const MAX_META_BYTES: u64 = 256 << 20;
/// Major version of the `radar` extension this reader understands.
pub const RADAR_EXTENSION_MAJOR: &str = "0";

/// Read-ahead buffer of the streaming reader, bytes.
const READ_BUFFER_BYTES: usize = 1 << 20;
/// Longest JSON value quoted back in an error message, characters.
const QUOTE_CHARS: usize = 80;

/// Numeric format of one component (I or Q) of a complex sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleFormat {
    /// IEEE 754 binary32.
    Cf32,
    /// IEEE 754 binary64 (narrowed to `f32` on read).
    Cf64,
    /// Two's-complement 32-bit integer, full scale 2^31.
    Ci32,
    /// Two's-complement 16-bit integer, full scale 2^15.
    Ci16,
    /// Two's-complement 8-bit integer, full scale 2^7.
    Ci8,
}

impl SampleFormat {
    /// Bytes of one component (I or Q).
    pub fn component_bytes(self) -> usize {
        match self {
            SampleFormat::Cf32 | SampleFormat::Ci32 => 4,
            SampleFormat::Cf64 => 8,
            SampleFormat::Ci16 => 2,
            SampleFormat::Ci8 => 1,
        }
    }

    /// The SigMF name without the endianness suffix (`"cf32"`, `"ci8"`).
    fn stem(self) -> &'static str {
        match self {
            SampleFormat::Cf32 => "cf32",
            SampleFormat::Cf64 => "cf64",
            SampleFormat::Ci32 => "ci32",
            SampleFormat::Ci16 => "ci16",
            SampleFormat::Ci8 => "ci8",
        }
    }
}

/// A complex SigMF `core:datatype`: component format and byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataType {
    /// Component format.
    pub format: SampleFormat,
    /// True for `_be`; always false for `ci8`, which has no byte order.
    pub big_endian: bool,
}

impl DataType {
    /// Parses a complex SigMF datatype (`"cf32_le"`, `"ci16_be"`, `"ci8"`, ...).
    /// Real, unsigned and unknown types give `None`.
    pub fn parse(s: &str) -> Option<Self> {
        if s == "ci8" {
            return Some(DataType {
                format: SampleFormat::Ci8,
                big_endian: false,
            });
        }
        let (stem, order) = s.rsplit_once('_')?;
        let big_endian = match order {
            "le" => false,
            "be" => true,
            _ => return None,
        };
        let format = match stem {
            "cf32" => SampleFormat::Cf32,
            "cf64" => SampleFormat::Cf64,
            "ci32" => SampleFormat::Ci32,
            "ci16" => SampleFormat::Ci16,
            _ => return None,
        };
        Some(DataType { format, big_endian })
    }

    /// Bytes of one complex value (I and Q) of one channel.
    pub fn bytes_per_complex(&self) -> usize {
        2 * self.format.component_bytes()
    }

    /// The SigMF spelling, e.g. `"ci16_le"`, `"ci8"`.
    pub fn as_sigmf(&self) -> String {
        match (self.format, self.big_endian) {
            (SampleFormat::Ci8, _) => "ci8".to_string(),
            (f, false) => format!("{}_le", f.stem()),
            (f, true) => format!("{}_be", f.stem()),
        }
    }
}

impl Display for DataType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_sigmf())
    }
}

/// One capture segment: carrier, beam and time from a CPI boundary on.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    /// First sample of the segment (`core:sample_start`, a multiple of P*N;
    /// one sample index covers all channels).
    pub sample_start: u64,
    /// Carrier frequency, Hz (`core:frequency`).
    pub frequency_hz: f64,
    /// Transmit time of the first pulse of the segment's first CPI, UTC
    /// (`core:datetime`).
    pub datetime: OffsetDateTime,
    /// Beam azimuth, degrees clockwise from true north (`radar:azimuth_deg`).
    pub azimuth_deg: f64,
    /// Beam elevation, degrees above the local horizon (`radar:elevation_deg`).
    pub elevation_deg: f64,
}

/// How samples are delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Deliver integer samples as raw counts instead of scaling them by
    /// 1/2^(bits-1) (the `sigmf` Python package's autoscale). No effect on
    /// float datatypes.
    pub raw_counts: bool,
}

/// Where the data bytes live: a plain file, or a span inside a `.sigmf` archive.
#[derive(Debug, Clone)]
struct DataLocation {
    /// File to open (the data file or the archive).
    file: PathBuf,
    /// First data byte within `file`.
    offset: u64,
    /// Data bytes.
    len: u64,
    /// How error messages name the data.
    label: String,
}

/// The CPI geometry fixed at open time (copied so reading never depends on
/// the public fields, which a caller may change).
#[derive(Debug, Clone, Copy)]
struct Layout {
    datatype: DataType,
    channels: usize,
    pulses: usize,
    samples: usize,
    cpi_bytes: u64,
    raw_counts: bool,
}

/// An opened, fully validated SigMF radar recording.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The metadata file, or the `.sigmf` archive holding it.
    pub meta_path: PathBuf,
    /// Radar parameters from the global object.
    pub params: RadarParams,
    /// Sample format of the data.
    pub datatype: DataType,
    /// Whole CPIs in the data (at least 1).
    pub num_cpis: u64,
    /// Capture segments, sorted, the first starting at sample 0.
    pub captures: Vec<Capture>,
    /// Site position `[lon_deg, lat_deg, height_m]` (`core:geolocation`);
    /// height is 0 when the point has only two coordinates.
    pub geolocation: Option<[f64; 3]>,
    /// True when the samples come from a simulation (`radar:simulated`).
    pub simulated: bool,
    data: DataLocation,
    layout: Layout,
}

/// Everything the metadata says, checked, before the data size is known.
struct Meta {
    params: RadarParams,
    datatype: DataType,
    captures: Vec<Capture>,
    geolocation: Option<[f64; 3]>,
    simulated: bool,
}

impl Recording {
    /// Opens a recording with default options (integer samples scaled to
    /// full scale 1.0). See [`Recording::open_with`].
    pub fn open(path: &Path) -> Result<Self, IngestError> {
        Self::open_with(path, OpenOptions::default())
    }

    /// Opens `NAME.sigmf-meta`, `NAME.sigmf-data`, `NAME` or `NAME.sigmf`,
    /// checks every metadata key and the data size, and reads no sample.
    pub fn open_with(path: &Path, opts: OpenOptions) -> Result<Self, IngestError> {
        match locate(path) {
            Located::Plain { meta, data } => {
                let meta_label = meta.display().to_string();
                let mut file = File::open(&meta)
                    .map_err(|e| io_err(&meta_label, "open the metadata file", e))?;
                let len = file
                    .metadata()
                    .map_err(|e| io_err(&meta_label, "read the metadata file", e))?
                    .len();
                let meta_bytes = read_meta_bytes(&mut file, len, &meta_label)?;
                let data_label = data.display().to_string();
                // Parse before touching the data so a metadata problem is reported first.
                let parsed = parse_meta(&meta_label, &meta_bytes)?;
                let data_file =
                    File::open(&data).map_err(|e| io_err(&data_label, "open the data file", e))?;
                let data_len = data_file
                    .metadata()
                    .map_err(|e| io_err(&data_label, "read the data file", e))?
                    .len();
                let location = DataLocation {
                    file: data,
                    offset: 0,
                    len: data_len,
                    label: data_label,
                };
                Self::assemble(meta, &meta_label, parsed, location, opts)
            }
            Located::Archive(archive) => {
                let label = archive.display().to_string();
                let (meta_member, data_member) = scan_archive(&archive, &label)?;
                let meta_label = format!("{label}: member {}", meta_member.name);
                let mut file =
                    File::open(&archive).map_err(|e| io_err(&label, "open the archive", e))?;
                file.seek(SeekFrom::Start(meta_member.offset))
                    .map_err(|e| io_err(&meta_label, "seek to the metadata", e))?;
                let meta_bytes = read_meta_bytes(&mut file, meta_member.len, &meta_label)?;
                let parsed = parse_meta(&meta_label, &meta_bytes)?;
                let location = DataLocation {
                    file: archive.clone(),
                    offset: data_member.offset,
                    len: data_member.len,
                    label: format!("{label}: member {}", data_member.name),
                };
                Self::assemble(archive, &meta_label, parsed, location, opts)
            }
        }
    }

    /// Checks the data size and the captures against it, and builds the recording.
    fn assemble(
        meta_path: PathBuf,
        meta_label: &str,
        meta: Meta,
        data: DataLocation,
        opts: OpenOptions,
    ) -> Result<Self, IngestError> {
        let p = &meta.params;
        // parse_meta bounds the product by MAX_COMPLEX_PER_CPI, so these cannot overflow.
        let complex_per_cpi =
            (p.num_channels as u64) * (p.pulses_per_cpi as u64) * (p.samples_per_pulse as u64);
        let cpi_bytes = complex_per_cpi * meta.datatype.bytes_per_complex() as u64;
        if data.len == 0 {
            return Err(IngestError::NoCpis {
                file: data.label,
                cpi_bytes,
            });
        }
        if !data.len.is_multiple_of(cpi_bytes) {
            return Err(IngestError::PartialCpi {
                file: data.label,
                bytes: data.len,
                cpi_bytes,
            });
        }
        let num_cpis = data.len / cpi_bytes;
        let samples_per_cpi = p.samples_per_cpi() as u64;
        let pri_per_cpi = p.pulses_per_cpi as u64;
        for (i, cap) in meta.captures.iter().enumerate() {
            let first_cpi = cap.sample_start / samples_per_cpi;
            if first_cpi >= num_cpis {
                return Err(meta_err(
                    meta_label,
                    format!(
                        "captures[{i}]: core:sample_start {} (CPI {first_cpi}) is past the end of the data ({num_cpis} CPIs)",
                        cap.sample_start
                    ),
                ));
            }
            let next_cpi = meta
                .captures
                .get(i + 1)
                .map_or(num_cpis, |n| n.sample_start / samples_per_cpi);
            let last_cpi = next_cpi.saturating_sub(1);
            if cpi_time(
                cap.datetime,
                last_cpi.saturating_sub(first_cpi),
                pri_per_cpi,
                p.pri_s,
            )
            .is_none()
            {
                return Err(meta_err(
                    meta_label,
                    format!(
                        "captures[{i}]: the time of CPI {last_cpi} is outside the calendar (core:datetime plus CPIs x radar:pulses_per_cpi x radar:pri_s)"
                    ),
                ));
            }
        }
        let layout = Layout {
            datatype: meta.datatype,
            channels: p.num_channels,
            pulses: p.pulses_per_cpi,
            samples: p.samples_per_pulse,
            cpi_bytes,
            raw_counts: opts.raw_counts,
        };
        Ok(Recording {
            meta_path,
            params: meta.params,
            datatype: meta.datatype,
            num_cpis,
            captures: meta.captures,
            geolocation: meta.geolocation,
            simulated: meta.simulated,
            data,
            layout,
        })
    }

    /// Duration of the recording, seconds: `num_cpis x pulses_per_cpi x
    /// pri_s` (one pass of `--repeat`).
    pub fn duration_s(&self) -> f64 {
        self.num_cpis as f64 * self.params.pulses_per_cpi as f64 * self.params.pri_s
    }

    /// Bytes of one CPI in the data (all channels).
    pub fn cpi_bytes(&self) -> u64 {
        self.layout.cpi_bytes
    }

    /// Time, carrier and beam of CPI `k`, from the capture segment covering it.
    /// For `k` past the end, the last segment is extrapolated; if the time
    /// would leave the calendar the segment's own time is given.
    pub fn cpi_meta(&self, k: u64) -> CpiMeta {
        let samples_per_cpi = (self.layout.pulses as u64) * (self.layout.samples as u64);
        let first_cpi = |c: &Capture| c.sample_start.checked_div(samples_per_cpi).unwrap_or(0);
        let seg = self
            .captures
            .partition_point(|c| first_cpi(c) <= k)
            .saturating_sub(1);
        match self.captures.get(seg) {
            Some(cap) => {
                let k0 = first_cpi(cap);
                let time_utc = cpi_time(
                    cap.datetime,
                    k.saturating_sub(k0),
                    self.layout.pulses as u64,
                    self.params.pri_s,
                )
                .unwrap_or(cap.datetime);
                CpiMeta {
                    index: k,
                    time_utc,
                    carrier_hz: cap.frequency_hz,
                    azimuth_deg: cap.azimuth_deg,
                    elevation_deg: cap.elevation_deg,
                    simulated: self.simulated,
                    received_at: None,
                }
            }
            // Only reachable when a caller has emptied `captures`.
            None => CpiMeta {
                index: k,
                time_utc: OffsetDateTime::UNIX_EPOCH,
                carrier_hz: f64::NAN,
                azimuth_deg: f64::NAN,
                elevation_deg: f64::NAN,
                simulated: self.simulated,
                received_at: None,
            },
        }
    }

    /// Reads CPI `k` (random access: opens, seeks, reads one CPI).
    pub fn read_cpi(&self, k: u64) -> Result<Cpi, IngestError> {
        if k >= self.num_cpis {
            return Err(IngestError::NoSuchCpi {
                file: self.data.label.clone(),
                index: k,
                num_cpis: self.num_cpis,
            });
        }
        let mut file = self.open_data()?;
        let start = k
            .checked_mul(self.layout.cpi_bytes)
            .and_then(|b| b.checked_add(self.data.offset))
            .ok_or_else(|| IngestError::NoSuchCpi {
                file: self.data.label.clone(),
                index: k,
                num_cpis: self.num_cpis,
            })?;
        file.seek(SeekFrom::Start(start))
            .map_err(|e| io_err(&self.data.label, "seek", e))?;
        let mut bytes = Vec::new();
        self.read_cpi_bytes(&mut file, k, &mut bytes)?;
        self.build_cpi(k, &bytes)
    }

    /// The site position (`core:geolocation`), when the recording has one.
    pub fn site(&self) -> Option<crate::geo::Geodetic> {
        self.geolocation.map(|[lon, lat, h]| crate::geo::Geodetic {
            latitude_deg: lat,
            longitude_deg: lon,
            height_m: h,
        })
    }

    /// Streams every CPI in order through one buffered reader and one reused
    /// byte buffer: memory stays near one CPI whatever the size of the file.
    pub fn cpis(&self) -> Result<CpiReader, IngestError> {
        let mut file = self.open_data()?;
        file.seek(SeekFrom::Start(self.data.offset))
            .map_err(|e| io_err(&self.data.label, "seek", e))?;
        Ok(CpiReader {
            rec: self.clone(),
            reader: BufReader::with_capacity(READ_BUFFER_BYTES, file),
            next_index: 0,
            bytes: Vec::new(),
            failed: false,
        })
    }

    fn open_data(&self) -> Result<File, IngestError> {
        File::open(&self.data.file).map_err(|e| io_err(&self.data.label, "open the data file", e))
    }

    /// Reads the bytes of CPI `k` from the current position into `bytes`.
    fn read_cpi_bytes(
        &self,
        reader: &mut impl Read,
        k: u64,
        bytes: &mut Vec<u8>,
    ) -> Result<(), IngestError> {
        let n = usize::try_from(self.layout.cpi_bytes).map_err(|_| {
            meta_err(
                &self.data.label,
                "one CPI does not fit in this machine's memory",
            )
        })?;
        bytes.resize(n, 0);
        reader.read_exact(bytes).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                IngestError::Truncated {
                    file: self.data.label.clone(),
                    index: k,
                    bytes: self.data.len,
                }
            } else {
                io_err(&self.data.label, "read", e)
            }
        })
    }

    /// Converts the bytes of CPI `k` into a [`Cpi`] of shape (C, P, N): a
    /// ci16 recording keeps its counts ([`Cpi::from_ci16`], converted to
    /// cf32 only when something asks); every other type is decoded here.
    fn build_cpi(&self, k: u64, bytes: &[u8]) -> Result<Cpi, IngestError> {
        let l = &self.layout;
        let shape = (l.channels, l.pulses, l.samples);
        let shape_err = |e: String| {
            meta_err(
                &self.data.label,
                format!("internal error shaping CPI {k}: {e}"),
            )
        };
        let meta = self.cpi_meta(k);
        let mut cpi = if l.datatype.format == SampleFormat::Ci16 {
            let iq = decode_ci16(l.datatype.big_endian, l.channels, bytes);
            let scale = if l.raw_counts { 1.0 } else { CI16_SCALE };
            Cpi::from_ci16(meta, shape, iq, scale).map_err(|e| shape_err(e.to_string()))?
        } else {
            let mut samples = Vec::new();
            decode_cpi(l.datatype, l.raw_counts, l.channels, bytes, &mut samples);
            let samples =
                Array3::from_shape_vec(shape, samples).map_err(|e| shape_err(e.to_string()))?;
            Cpi::new(meta, samples)
        };
        // Its last sample is here now: the start of its output latency.
        cpi.meta.received_at = Some(std::time::Instant::now());
        Ok(cpi)
    }
}

/// Sequential reader of a recording's CPIs (see [`Recording::cpis`]).
///
/// Yields `Ok(cpi)` for each CPI in order; after an error it yields nothing more.
pub struct CpiReader {
    rec: Recording,
    reader: BufReader<File>,
    next_index: u64,
    bytes: Vec<u8>,
    failed: bool,
}

impl CpiReader {
    /// Index of the CPI the next call to `next` returns.
    pub fn next_index(&self) -> u64 {
        self.next_index
    }
}

impl Iterator for CpiReader {
    type Item = Result<Cpi, IngestError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.next_index >= self.rec.num_cpis {
            return None;
        }
        let k = self.next_index;
        self.next_index += 1;
        let result = self
            .rec
            .read_cpi_bytes(&mut self.reader, k, &mut self.bytes)
            .and_then(|()| self.rec.build_cpi(k, &self.bytes));
        self.failed = result.is_err();
        Some(result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.failed {
            return (0, Some(0));
        }
        let left = usize::try_from(self.rec.num_cpis.saturating_sub(self.next_index))
            .unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

// ---------------------------------------------------------------------------
// Sample conversion (pure, no I/O).

/// Converts raw bytes in file order (pulse, sample, channel) into `out`
/// (cleared first), laid out as `[channel][pulse][sample]`. Integer types are
/// scaled by 1/2^(bits-1) unless `raw_counts`. Trailing bytes that do not make
/// a whole sample position of all channels are ignored.
pub fn decode_cpi(
    datatype: DataType,
    raw_counts: bool,
    channels: usize,
    bytes: &[u8],
    out: &mut Vec<Complex32>,
) {
    let scale = |bits: i32| {
        if raw_counts {
            1.0
        } else {
            (-(bits - 1) as f32).exp2()
        }
    };
    let be = datatype.big_endian;
    match datatype.format {
        SampleFormat::Cf32 if be => deinterleave(bytes, out, channels, f32::from_be_bytes),
        SampleFormat::Cf32 => deinterleave(bytes, out, channels, f32::from_le_bytes),
        SampleFormat::Cf64 if be => {
            deinterleave(bytes, out, channels, |b| f64::from_be_bytes(b) as f32)
        }
        SampleFormat::Cf64 => deinterleave(bytes, out, channels, |b| f64::from_le_bytes(b) as f32),
        SampleFormat::Ci32 => {
            let s = scale(32);
            if be {
                deinterleave(bytes, out, channels, |b| i32::from_be_bytes(b) as f32 * s);
            } else {
                deinterleave(bytes, out, channels, |b| i32::from_le_bytes(b) as f32 * s);
            }
        }
        SampleFormat::Ci16 => {
            let s = scale(16);
            if be {
                deinterleave(bytes, out, channels, |b| {
                    f32::from(i16::from_be_bytes(b)) * s
                });
            } else {
                deinterleave(bytes, out, channels, |b| {
                    f32::from(i16::from_le_bytes(b)) * s
                });
            }
        }
        SampleFormat::Ci8 => {
            let s = scale(8);
            // A 256-entry table: baseline x86-64 (SSE2) has no vector i8 -> f32.
            let table: [f32; 256] = std::array::from_fn(|b| f32::from(b as u8 as i8) * s);
            deinterleave(bytes, out, channels, |[b]: [u8; 1]| table[usize::from(b)]);
        }
    }
}

/// Scale of ci16 counts to full scale 1.0: 2^-15 (formats.md §1), the
/// factor [`decode_cpi`] applies.
pub const CI16_SCALE: f32 = 1.0 / 32768.0;

/// Reorders the raw bytes of a ci16 CPI in file order (pulse, sample,
/// channel) into interleaved (I, Q) counts in host order,
/// `[channel][pulse][sample]` (channel `c` of sample position `j` at
/// `2 * (c * positions + j)`), unscaled. Trailing bytes that do not make a
/// whole sample position of all channels are ignored, as in [`decode_cpi`].
pub fn decode_ci16(big_endian: bool, channels: usize, bytes: &[u8]) -> Vec<i16> {
    let (words, _) = bytes.as_chunks::<4>();
    let count = move |b: [u8; 2]| {
        if big_endian {
            i16::from_be_bytes(b)
        } else {
            i16::from_le_bytes(b)
        }
    };
    let mut out = Vec::new();
    channel_planes(words, channels, &mut out, move |w: &[u8; 4]| {
        [count([w[0], w[1]]), count([w[2], w[3]])]
    });
    out.into_flattened()
}

/// Splits `bytes` into W-byte components, pairs them into (I, Q), and
/// replaces `out` with the channel planes (see [`channel_planes`]).
#[inline(always)]
fn deinterleave<const W: usize>(
    bytes: &[u8],
    out: &mut Vec<Complex32>,
    channels: usize,
    component: impl Fn([u8; W]) -> f32 + Copy,
) {
    let (components, _) = bytes.as_chunks::<W>();
    let (pairs, _) = components.as_chunks::<2>();
    channel_planes(pairs, channels, out, move |&[re, im]: &[[u8; W]; 2]| {
        Complex32::new(component(re), component(im))
    });
}

/// Replaces `out` with `sample` of each of `positions` (file order: sample
/// position, then channel) as channel planes one after another (channel `c`
/// of sample position `j` at `c * positions + j`). Positions that do not
/// hold all channels are dropped. Building by `extend` writes each output
/// value once (no zero fill first).
#[inline(always)]
fn channel_planes<S, T>(
    positions: &[S],
    channels: usize,
    out: &mut Vec<T>,
    sample: impl Fn(&S) -> T + Copy,
) {
    let channels = channels.max(1);
    let whole = positions.len() - positions.len() % channels;
    let positions = positions.get(..whole).unwrap_or_default();
    out.clear();
    out.reserve(positions.len());
    if channels == 1 {
        out.extend(positions.iter().map(sample));
    } else {
        for c in 0..channels {
            out.extend(positions.iter().skip(c).step_by(channels).map(sample));
        }
    }
}

// ---------------------------------------------------------------------------
// Locating the files.

enum Located {
    Plain { meta: PathBuf, data: PathBuf },
    Archive(PathBuf),
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

fn locate(path: &Path) -> Located {
    match path.extension().and_then(|e| e.to_str()) {
        Some("sigmf-meta") => Located::Plain {
            meta: path.to_path_buf(),
            data: path.with_extension("sigmf-data"),
        },
        Some("sigmf-data") => Located::Plain {
            meta: path.with_extension("sigmf-meta"),
            data: path.to_path_buf(),
        },
        Some("sigmf") => Located::Archive(path.to_path_buf()),
        _ => {
            let meta = with_suffix(path, ".sigmf-meta");
            let archive = with_suffix(path, ".sigmf");
            if !meta.exists() && archive.is_file() {
                Located::Archive(archive)
            } else {
                Located::Plain {
                    meta,
                    data: with_suffix(path, ".sigmf-data"),
                }
            }
        }
    }
}

fn read_meta_bytes(reader: &mut impl Read, len: u64, label: &str) -> Result<Vec<u8>, IngestError> {
    if len > MAX_META_BYTES {
        return Err(meta_err(
            label,
            format!("metadata is {len} bytes, more than the {MAX_META_BYTES}-byte limit"),
        ));
    }
    let mut bytes = Vec::new();
    reader
        .take(len)
        .read_to_end(&mut bytes)
        .map_err(|e| io_err(label, "read the metadata", e))?;
    Ok(bytes)
}

/// A member of a `.sigmf` archive.
struct Member {
    name: String,
    offset: u64,
    len: u64,
}

/// Finds the one recording's metadata and data members in a tar archive.
fn scan_archive(archive: &Path, label: &str) -> Result<(Member, Member), IngestError> {
    let file = File::open(archive).map_err(|e| io_err(label, "open the archive", e))?;
    let archive_len = file
        .metadata()
        .map_err(|e| io_err(label, "read the archive", e))?
        .len();
    let not_tar = |e: io::Error| IngestError::Archive {
        file: label.to_string(),
        problem: format!("is not a readable tar archive: {e}"),
    };
    let mut tar = tar::Archive::new(file);
    let mut metas = Vec::new();
    let mut datas = Vec::new();
    for entry in tar.entries_with_seek().map_err(not_tar)? {
        let entry = entry.map_err(not_tar)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let list = if name.ends_with(".sigmf-meta") {
            &mut metas
        } else if name.ends_with(".sigmf-data") {
            &mut datas
        } else {
            continue;
        };
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            return Err(archive_err(
                label,
                format!("member {name} is not a regular file (tar type {:?})", kind),
            ));
        }
        let offset = entry.raw_file_position();
        let len = entry.size();
        if offset.checked_add(len).is_none_or(|end| end > archive_len) {
            return Err(archive_err(
                label,
                format!(
                    "member {name} is truncated ({len} bytes at offset {offset}, archive is {archive_len} bytes)"
                ),
            ));
        }
        list.push(Member { name, offset, len });
    }
    let mut stems: Vec<&str> = metas
        .iter()
        .filter_map(|m| m.name.strip_suffix(".sigmf-meta"))
        .chain(
            datas
                .iter()
                .filter_map(|m| m.name.strip_suffix(".sigmf-data")),
        )
        .collect();
    stems.sort_unstable();
    stems.dedup();
    match stems.len() {
        0 => {
            return Err(archive_err(
                label,
                "holds no recording (no .sigmf-meta or .sigmf-data member)",
            ));
        }
        1 => {}
        n => {
            return Err(archive_err(
                label,
                format!(
                    "holds {n} recordings ({}); tews reads an archive holding exactly one",
                    stems.join(", ")
                ),
            ));
        }
    }
    if metas.len() > 1 || datas.len() > 1 {
        return Err(archive_err(label, "holds the same member twice"));
    }
    match (metas.pop(), datas.pop()) {
        (Some(meta), Some(data)) => Ok((meta, data)),
        (None, Some(data)) => Err(archive_err(
            label,
            format!("member {} has no matching .sigmf-meta member", data.name),
        )),
        (Some(meta), None) => Err(archive_err(
            label,
            format!("member {} has no matching .sigmf-data member", meta.name),
        )),
        (None, None) => Err(archive_err(label, "holds no recording")),
    }
}

// ---------------------------------------------------------------------------
// Metadata.

fn io_err(file: &str, action: &'static str, source: io::Error) -> IngestError {
    IngestError::Io {
        file: file.to_string(),
        action,
        source,
    }
}

fn meta_err(file: &str, problem: impl Display) -> IngestError {
    IngestError::Metadata {
        file: file.to_string(),
        problem: problem.to_string(),
    }
}

fn archive_err(file: &str, problem: impl Display) -> IngestError {
    IngestError::Archive {
        file: file.to_string(),
        problem: problem.to_string(),
    }
}

/// A JSON value quoted on one line, shortened if long.
fn quote(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= QUOTE_CHARS {
        s
    } else {
        let short: String = s.chars().take(QUOTE_CHARS).collect();
        format!("{short}...")
    }
}

/// A JSON object being checked, with the context error messages need.
struct Obj<'a> {
    file: &'a str,
    /// Prefix naming where the object sits (`""`, `"captures[2]: "`).
    ctx: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    fn err(&self, problem: impl Display) -> IngestError {
        meta_err(self.file, format!("{}{problem}", self.ctx))
    }

    fn bad(&self, key: &str, what: &str, v: &Value) -> IngestError {
        self.err(format!("key {key:?} must be {what}, got {}", quote(v)))
    }

    fn get(&self, key: &str) -> Result<&'a Value, IngestError> {
        self.map
            .get(key)
            .ok_or_else(|| self.err(format!("key {key:?} is missing")))
    }

    /// A required number satisfying `ok`; `what` describes a valid value.
    fn f64_req(&self, key: &str, what: &str, ok: impl Fn(f64) -> bool) -> Result<f64, IngestError> {
        let v = self.get(key)?;
        v.as_f64()
            .filter(|x| ok(*x))
            .ok_or_else(|| self.bad(key, what, v))
    }

    /// A required whole number in `lo..=hi`.
    fn u64_req(&self, key: &str, what: &str, lo: u64, hi: u64) -> Result<u64, IngestError> {
        let v = self.get(key)?;
        v.as_u64()
            .filter(|x| (lo..=hi).contains(x))
            .ok_or_else(|| self.bad(key, what, v))
    }

    fn str_req(&self, key: &str) -> Result<&'a str, IngestError> {
        let v = self.get(key)?;
        v.as_str().ok_or_else(|| self.bad(key, "a string", v))
    }

    fn obj_req(&self, key: &str, ctx: String) -> Result<Obj<'a>, IngestError> {
        let v = self.get(key)?;
        let map = v.as_object().ok_or_else(|| self.bad(key, "an object", v))?;
        Ok(Obj {
            file: self.file,
            ctx,
            map,
        })
    }
}

fn json_error(file: &str, e: &serde_json::Error) -> IngestError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    IngestError::Json {
        file: file.to_string(),
        line: e.line(),
        column: e.column(),
        message,
    }
}

/// Major part of a dotted version string.
fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

fn parse_meta(file: &str, bytes: &[u8]) -> Result<Meta, IngestError> {
    let root: Value = serde_json::from_slice(bytes).map_err(|e| json_error(file, &e))?;
    let root_map = root.as_object().ok_or_else(|| {
        meta_err(
            file,
            "the top level must be an object with \"global\" and \"captures\"",
        )
    })?;
    let top = Obj {
        file,
        ctx: String::new(),
        map: root_map,
    };
    let global = top.obj_req("global", String::new())?;

    // core keys
    let datatype_str = global.str_req("core:datatype")?;
    let datatype = DataType::parse(datatype_str).ok_or_else(|| IngestError::Datatype {
        file: file.to_string(),
        datatype: datatype_str.to_string(),
    })?;
    let version = global.str_req("core:version")?;
    if major(version) != "1" {
        return Err(global.bad("core:version", "a SigMF 1.x version", &Value::from(version)));
    }
    let sample_rate_hz = global.f64_req("core:sample_rate", "a positive number of hertz", |x| {
        x.is_finite() && x > 0.0
    })?;
    let num_channels = match global.map.get("core:num_channels") {
        None => 1,
        Some(_) => global.u64_req(
            "core:num_channels",
            &format!("a whole number of channels from 1 to {MAX_CHANNELS}"),
            1,
            MAX_CHANNELS,
        )?,
    };
    check_radar_extension(&global)?;
    // Non-conforming datasets (bytes to skip after the samples) are not read.
    // `core:offset` is only a label for the first sample index and is ignored.
    if let Some(v) = global.map.get("core:trailing_bytes")
        && v.as_u64() != Some(0)
    {
        return Err(global.bad(
            "core:trailing_bytes",
            "0 (tews does not read non-conforming datasets)",
            v,
        ));
    }

    // radar keys
    let pulses_per_cpi = global.u64_req(
        "radar:pulses_per_cpi",
        &format!("a whole number of pulses from 1 to {MAX_PULSES_PER_CPI}"),
        1,
        MAX_PULSES_PER_CPI,
    )?;
    let samples_per_pulse = global.u64_req(
        "radar:samples_per_pulse",
        &format!("a whole number of samples from 1 to {MAX_SAMPLES_PER_PULSE}"),
        1,
        MAX_SAMPLES_PER_PULSE,
    )?;
    let pri_s = global.f64_req(
        "radar:pri_s",
        &format!("a positive number of seconds, at most {MAX_PRI_S}"),
        |x| x > 0.0 && x <= MAX_PRI_S,
    )?;
    let window_delay_s = global.f64_req(
        "radar:window_delay_s",
        "a non-negative number of seconds",
        |x| x.is_finite() && x >= 0.0,
    )?;
    let waveform = parse_waveform(&global, sample_rate_hz, pri_s)?;
    let window_s = samples_per_pulse as f64 / sample_rate_hz;
    if pri_s < window_s {
        return Err(global.err(format!(
            "radar:pri_s {pri_s} s is shorter than the receive window \
             radar:samples_per_pulse / core:sample_rate = {samples_per_pulse} / {sample_rate_hz} = {window_s} s"
        )));
    }
    if !receive_window_fits(window_delay_s, window_s, pri_s) {
        return Err(global.err(format!(
            "the receive window ends radar:window_delay_s + radar:samples_per_pulse / core:sample_rate = \
             {window_delay_s} + {window_s} = {} s after the pulse, after the next pulse at radar:pri_s = {pri_s} s",
            window_delay_s + window_s
        )));
    }
    let complex_per_cpi = num_channels
        .checked_mul(pulses_per_cpi)
        .and_then(|x| x.checked_mul(samples_per_pulse))
        .filter(|x| *x <= MAX_COMPLEX_PER_CPI);
    if complex_per_cpi.is_none() {
        return Err(global.err(format!(
            "one CPI of core:num_channels x radar:pulses_per_cpi x radar:samples_per_pulse = \
             {num_channels} x {pulses_per_cpi} x {samples_per_pulse} complex samples is more than the limit of {MAX_COMPLEX_PER_CPI}"
        )));
    }
    let cpi_bytes = complex_per_cpi.unwrap_or(0) * datatype.bytes_per_complex() as u64;
    if cpi_bytes > MAX_CPI_BYTES {
        return Err(global.err(format!(
            "one CPI of {num_channels} x {pulses_per_cpi} x {samples_per_pulse} {} samples is {cpi_bytes} bytes, more than the limit of {MAX_CPI_BYTES} (1 GiB)",
            datatype.as_sigmf()
        )));
    }
    let (channel_names, sum_channel) = parse_channels(&global, num_channels)?;
    let monopulse = parse_monopulse(&global, &channel_names)?;
    let geolocation = match global.map.get("core:geolocation") {
        None => None,
        Some(v) => Some(parse_geolocation(&global, v)?),
    };
    let simulated = match global.map.get("radar:simulated") {
        None => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| global.bad("radar:simulated", "true or false", v))?,
    };

    // All three are at most MAX_* (far below usize::MAX on 32- and 64-bit targets).
    let to_usize =
        |x: u64| usize::try_from(x).map_err(|_| meta_err(file, "sizes do not fit this machine"));
    let params = RadarParams {
        sample_rate_hz,
        pulses_per_cpi: to_usize(pulses_per_cpi)?,
        samples_per_pulse: to_usize(samples_per_pulse)?,
        pri_s,
        window_delay_s,
        waveform,
        num_channels: to_usize(num_channels)?,
        sum_channel,
        channel_names,
        monopulse,
    };
    let captures = parse_captures(&top, pulses_per_cpi * samples_per_pulse)?;
    Ok(Meta {
        params,
        datatype,
        captures,
        geolocation,
        simulated,
    })
}

fn check_radar_extension(global: &Obj<'_>) -> Result<(), IngestError> {
    const NEED: &str =
        "formats.md §1: {\"name\": \"radar\", \"version\": \"0.1.0\", \"optional\": false}";
    let Some(v) = global.map.get("core:extensions") else {
        return Err(global.err(format!("key \"core:extensions\" is missing; a tews recording must list the radar extension ({NEED})")));
    };
    let list = v
        .as_array()
        .ok_or_else(|| global.bad("core:extensions", "an array of extension objects", v))?;
    let radar = list
        .iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some("radar"))
        .ok_or_else(|| {
            global.err(format!(
                "key \"core:extensions\" does not list the radar extension ({NEED})"
            ))
        })?;
    let version = radar.get("version").and_then(Value::as_str).unwrap_or("");
    if major(version) != RADAR_EXTENSION_MAJOR {
        return Err(global.err(format!(
            "key \"core:extensions\" lists radar extension version {version:?}; this reader understands {RADAR_EXTENSION_MAJOR}.x"
        )));
    }
    Ok(())
}

fn parse_waveform(
    global: &Obj<'_>,
    sample_rate_hz: f64,
    pri_s: f64,
) -> Result<Waveform, IngestError> {
    let w = global.obj_req("radar:waveform", "radar:waveform: ".to_string())?;
    let kind = w.str_req("type")?;
    let pulse_width_s = w.f64_req("pulse_width_s", "a positive number of seconds", |x| {
        x.is_finite() && x > 0.0
    })?;
    let waveform = match kind {
        "lfm" => {
            let bandwidth_hz = w.f64_req("bandwidth_hz", "a positive number of hertz", |x| {
                x.is_finite() && x > 0.0
            })?;
            if bandwidth_hz > sample_rate_hz {
                return Err(w.err(format!(
                    "bandwidth_hz {bandwidth_hz} is more than core:sample_rate {sample_rate_hz} Hz (complex baseband cannot hold it)"
                )));
            }
            Waveform::Lfm {
                bandwidth_hz,
                pulse_width_s,
            }
        }
        "rect" => Waveform::Rect { pulse_width_s },
        other => return Err(w.bad("type", "\"lfm\" or \"rect\"", &Value::from(other))),
    };
    if pulse_width_s > pri_s {
        return Err(w.err(format!(
            "pulse_width_s {pulse_width_s} s is longer than radar:pri_s {pri_s} s"
        )));
    }
    let replica = (pulse_width_s * sample_rate_hz).round();
    if replica < 1.0 {
        return Err(w.err(format!(
            "pulse_width_s {pulse_width_s} s is shorter than one sample at core:sample_rate {sample_rate_hz} Hz \
             (replica of round(T * fs) = 0 samples)"
        )));
    }
    if replica > MAX_SAMPLES_PER_PULSE as f64 {
        return Err(w.err(format!(
            "pulse_width_s {pulse_width_s} s at core:sample_rate {sample_rate_hz} Hz is a replica of {replica} samples, \
             more than the limit of {MAX_SAMPLES_PER_PULSE}"
        )));
    }
    Ok(waveform)
}

fn parse_channels(
    global: &Obj<'_>,
    num_channels: u64,
) -> Result<(Vec<String>, usize), IngestError> {
    let Some(v) = global.map.get("radar:channels") else {
        return Ok((Vec::new(), 0));
    };
    let what = "an array of channel names";
    let list = v
        .as_array()
        .ok_or_else(|| global.bad("radar:channels", what, v))?;
    let names = list
        .iter()
        .map(|n| n.as_str().map(str::to_string))
        .collect::<Option<Vec<String>>>()
        .ok_or_else(|| global.bad("radar:channels", what, v))?;
    if names.len() as u64 != num_channels {
        return Err(global.err(format!(
            "key \"radar:channels\" names {} channels but core:num_channels is {num_channels}",
            names.len()
        )));
    }
    let sum_channel = names.iter().position(|n| n == "sum").unwrap_or(0);
    Ok((names, sum_channel))
}

/// `radar:monopulse` (formats.md §1), checked before anything is processed:
/// every key present and plausible, no unknown key, and a `sum` channel with
/// at least one of `delta_az` / `delta_el` in `radar:channels`.
fn parse_monopulse(
    global: &Obj<'_>,
    channel_names: &[String],
) -> Result<Option<Monopulse>, IngestError> {
    const KEY: &str = "radar:monopulse";
    if !global.map.contains_key(KEY) {
        return Ok(None);
    }
    let obj = global.obj_req(KEY, format!("{}{KEY}: ", global.ctx))?;
    const KEYS: [&str; 4] = [
        "beamwidth_az_deg",
        "beamwidth_el_deg",
        "slope_az",
        "slope_el",
    ];
    if let Some(unknown) = obj.map.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(obj.err(format!(
            "unknown key {unknown:?} (expected {})",
            KEYS.join(", ")
        )));
    }
    let (bw, slope) = (&MONOPULSE_BEAMWIDTH_DEG, &MONOPULSE_SLOPE);
    let bw_what = format!("a beamwidth in degrees from {} to {}", bw.start(), bw.end());
    let slope_what = format!(
        "a monopulse slope from {} to {}",
        slope.start(),
        slope.end()
    );
    let monopulse = Monopulse {
        beamwidth_az_deg: obj.f64_req("beamwidth_az_deg", &bw_what, |x| bw.contains(&x))?,
        beamwidth_el_deg: obj.f64_req("beamwidth_el_deg", &bw_what, |x| bw.contains(&x))?,
        slope_az: obj.f64_req("slope_az", &slope_what, |x| slope.contains(&x))?,
        slope_el: obj.f64_req("slope_el", &slope_what, |x| slope.contains(&x))?,
    };
    let has = |name: &str| channel_names.iter().any(|n| n == name);
    if !has("sum") || !(has("delta_az") || has("delta_el")) {
        return Err(global.err(format!(
            "key {KEY:?} is given but \"radar:channels\" ({}) does not name a \"sum\" channel \
             and a \"delta_az\" or \"delta_el\" channel",
            if channel_names.is_empty() {
                "absent".to_string()
            } else {
                channel_names.join(", ")
            }
        )));
    }
    Ok(Some(monopulse))
}

fn parse_geolocation(global: &Obj<'_>, v: &Value) -> Result<[f64; 3], IngestError> {
    let key = "core:geolocation";
    let what =
        "a GeoJSON Point {\"type\": \"Point\", \"coordinates\": [lon_deg, lat_deg, height_m]}";
    let bad = || global.bad(key, what, v);
    if v.get("type").and_then(Value::as_str) != Some("Point") {
        return Err(bad());
    }
    let coords = v
        .get("coordinates")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>())
        .ok_or_else(bad)?;
    let point = match *coords.as_slice() {
        [lon, lat] => [lon, lat, 0.0],
        [lon, lat, h] => [lon, lat, h],
        _ => return Err(bad()),
    };
    let [lon, lat, h] = point;
    if !(-180.0..=180.0).contains(&lon)
        || !(-90.0..=90.0).contains(&lat)
        || crate::geo::Geodetic::site(lat, lon, h).is_err()
    {
        return Err(global.bad(
            key,
            "a point with longitude in [-180, 180] and latitude in [-90, 90] degrees \
             and a height in [-1000, 25000] m",
            v,
        ));
    }
    Ok(point)
}

fn parse_captures(top: &Obj<'_>, samples_per_cpi: u64) -> Result<Vec<Capture>, IngestError> {
    let v = top.get("captures")?;
    let list = v
        .as_array()
        .ok_or_else(|| top.bad("captures", "an array of capture segments", v))?;
    if list.is_empty() {
        return Err(
            top.err("key \"captures\" is empty; a recording needs at least one capture segment")
        );
    }
    let mut captures: Vec<Capture> = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let ctx = format!("captures[{i}]: ");
        let map = item.as_object().ok_or_else(|| {
            meta_err(
                top.file,
                format!("{ctx}must be an object, got {}", quote(item)),
            )
        })?;
        let c = Obj {
            file: top.file,
            ctx,
            map,
        };
        let sample_start = c.u64_req(
            "core:sample_start",
            "a whole number of samples",
            0,
            u64::MAX,
        )?;
        if !sample_start.is_multiple_of(samples_per_cpi) {
            return Err(c.err(format!(
                "key \"core:sample_start\" must be a multiple of radar:pulses_per_cpi x radar:samples_per_pulse = {samples_per_cpi} \
                 (the first sample of a CPI), got {sample_start}"
            )));
        }
        match captures.last() {
            None if sample_start != 0 => {
                return Err(c.err(format!(
                    "key \"core:sample_start\" of the first capture must be 0, got {sample_start}"
                )));
            }
            Some(prev) if sample_start <= prev.sample_start => {
                return Err(c.err(format!(
                    "core:sample_start {sample_start} is not after the previous capture's {} (captures must be sorted)",
                    prev.sample_start
                )));
            }
            _ => {}
        }
        if let Some(h) = c.map.get("core:header_bytes")
            && h.as_u64() != Some(0)
        {
            return Err(c.bad(
                "core:header_bytes",
                "0 (tews does not read non-conforming datasets)",
                h,
            ));
        }
        let frequency_hz = c.f64_req("core:frequency", "a positive number of hertz", |x| {
            x.is_finite() && x > 0.0
        })?;
        let datetime_str = c.str_req("core:datetime")?;
        let datetime = OffsetDateTime::parse(datetime_str, &Rfc3339)
            .ok()
            .filter(|t| t.offset().is_utc())
            .ok_or_else(|| {
                c.bad(
                    "core:datetime",
                    "an RFC 3339 UTC time such as \"2026-01-01T00:00:00Z\"",
                    &Value::from(datetime_str),
                )
            })?;
        let azimuth_deg = c.f64_req("radar:azimuth_deg", "a number of degrees", f64::is_finite)?;
        let elevation_deg = c.f64_req(
            "radar:elevation_deg",
            "a number of degrees from -90 to 90",
            |x| (-90.0..=90.0).contains(&x),
        )?;
        captures.push(Capture {
            sample_start,
            frequency_hz,
            datetime,
            azimuth_deg,
            elevation_deg,
        });
    }
    Ok(captures)
}

/// True when a receive window opening `window_delay_s` after the pulse and
/// lasting `window_s` closes by the next pulse, `pri_s` later (to 1 ppm, for
/// rounding in the numbers given).
pub fn receive_window_fits(window_delay_s: f64, window_s: f64, pri_s: f64) -> bool {
    window_delay_s + window_s <= pri_s * (1.0 + 1e-6)
}

/// Time of the CPI `cpis_after` CPIs after one at `start`: `start +
/// cpis_after * pulses_per_cpi * pri_s`, to the nearest nanosecond; `None`
/// when it leaves the calendar.
fn cpi_time(
    start: OffsetDateTime,
    cpis_after: u64,
    pulses_per_cpi: u64,
    pri_s: f64,
) -> Option<OffsetDateTime> {
    let pulses = cpis_after.saturating_mul(pulses_per_cpi) as f64;
    let ns = (pulses * pri_s * 1e9).round();
    if !(ns.is_finite() && ns.abs() < 9.0e18) {
        return None;
    }
    start.checked_add(time::Duration::nanoseconds(ns as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datatype_names_round_trip() {
        for name in [
            "cf32_le", "cf32_be", "cf64_le", "cf64_be", "ci32_le", "ci32_be", "ci16_le", "ci16_be",
            "ci8",
        ] {
            let dt = DataType::parse(name).unwrap();
            assert_eq!(dt.as_sigmf(), name);
        }
        assert_eq!(DataType::parse("ci16_le").unwrap().bytes_per_complex(), 4);
        assert_eq!(DataType::parse("cf64_be").unwrap().bytes_per_complex(), 16);
        assert_eq!(DataType::parse("ci8").unwrap().bytes_per_complex(), 2);
    }

    #[test]
    fn unsupported_datatypes_are_rejected() {
        for name in [
            "cu8", "ci8_le", "rf32_le", "cf32", "cf16_le", "ci16_xe", "", "cu16_le", "ri16_le",
        ] {
            assert_eq!(DataType::parse(name), None, "{name}");
        }
    }

    #[test]
    fn decode_scales_integers_and_deinterleaves_channels() {
        // Two sample positions, two channels, ci16_le: values chosen by hand.
        let counts: [i16; 8] = [16384, -32768, 1, 2, -16384, 32767, 3, 4];
        let bytes: Vec<u8> = counts.iter().flat_map(|c| c.to_le_bytes()).collect();
        let dt = DataType::parse("ci16_le").unwrap();
        let mut out = vec![Complex32::new(9.0, 9.0); 7];
        decode_cpi(dt, false, 2, &bytes, &mut out);
        // out is [channel][position]
        assert_eq!(out.len(), 4);
        assert_eq!(out[0], Complex32::new(0.5, -1.0));
        assert_eq!(out[1], Complex32::new(-0.5, 32767.0 / 32768.0));
        assert_eq!(out[2], Complex32::new(1.0 / 32768.0, 2.0 / 32768.0));
        assert_eq!(out[3], Complex32::new(3.0 / 32768.0, 4.0 / 32768.0));
        decode_cpi(dt, true, 2, &bytes, &mut out);
        assert_eq!(out[0], Complex32::new(16384.0, -32768.0));
        assert_eq!(out[3], Complex32::new(3.0, 4.0));
    }

    #[test]
    fn cpi_time_rounds_to_nanoseconds_and_refuses_overflow() {
        let t0 = time::macros::datetime!(2026-01-01 00:00:00 UTC);
        assert_eq!(
            cpi_time(t0, 3, 16, 1e-3),
            Some(time::macros::datetime!(2026-01-01 00:00:00.048 UTC))
        );
        assert_eq!(cpi_time(t0, 0, 16, 1e-3), Some(t0));
        assert_eq!(cpi_time(t0, u64::MAX, 65536, 1.0), None);
    }

    const GOOD_META: &str = r#"{"global": {"core:datatype": "ci16_le", "core:sample_rate": 1e6,
        "core:version": "1.2.0", "core:num_channels": 2,
        "core:extensions": [{"name": "radar", "version": "0.1.0", "optional": false}],
        "radar:pulses_per_cpi": 4, "radar:samples_per_pulse": 8, "radar:pri_s": 1e-3,
        "radar:window_delay_s": 2e-5, "radar:channels": ["sum", "delta"],
        "radar:waveform": {"type": "lfm", "bandwidth_hz": 5e5, "pulse_width_s": 1e-5},
        "core:geolocation": {"type": "Point", "coordinates": [1, 2, 3]}},
      "captures": [{"core:sample_start": 0, "core:frequency": 9.4e9,
        "core:datetime": "2026-03-01T12:00:00Z", "radar:azimuth_deg": 45, "radar:elevation_deg": 3},
        {"core:sample_start": 32, "core:frequency": 9.4e9,
        "core:datetime": "2026-03-01T12:00:00Z", "radar:azimuth_deg": 45, "radar:elevation_deg": 3}]}"#;

    #[test]
    fn mutated_metadata_never_panics() {
        let good = GOOD_META.as_bytes();
        let parsed = parse_meta("m", good).unwrap();
        assert_eq!(parsed.params.num_channels, 2);
        assert_eq!(parsed.captures.len(), 2);
        let mut accepted = 0;
        for i in 0..good.len() {
            for b in [b'0', b'9', b'-', b'.', b'"', b'}', b']', b'e', b' ', 0xff] {
                let mut v = good.to_vec();
                v[i] = b;
                match parse_meta("m", &v) {
                    Ok(_) => accepted += 1,
                    Err(e) => {
                        let msg = e.to_string();
                        assert!(msg.starts_with("m: ") && !msg.contains('\n'), "{msg}");
                    }
                }
            }
            assert!(parse_meta("m", &good[..i]).is_err());
        }
        // Some mutations (digits inside numbers, spaces) are still valid metadata.
        assert!(accepted > 0);
    }
}
