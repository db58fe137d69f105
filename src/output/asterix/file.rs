//! `asterix-file:PATH`: data blocks back to back in a file; per CPI a CAT034
//! block when the beam passed north or a sector boundary (see
//! [`super::scan`]), then one or more CAT048 blocks (split so that no LEN
//! exceeds 65535).
//!
//! `asterix-pcap:PATH`: the same blocks as a capture file that Wireshark and
//! tshark open directly: each block (at most
//! [`super::udp::DEFAULT_MAX_DATAGRAM_BYTES`] octets, as over UDP) in its
//! own Ethernet/IPv4/UDP frame from 127.0.0.1:8600 to 127.0.0.1:8600 (the
//! port tshark's ASTERIX dissector knows), timestamped with its CPI's time
//! (microseconds since 1970; a time before 1970 or after 2106, where the
//! classic pcap header cannot go, is written as 0). Decode with
//! `tshark -r PATH -d udp.port==8600,asterix -V`.

use super::MAX_DATA_BLOCK_LEN_BYTES;
use super::cat034;
use super::cat048::{Cat048Config, EncodeStats, encode_data_blocks};
use super::scan::ScanTracker;
use crate::output::{BeamPosition, OutputError, PartialFile, PlotSink, Undelivered};
use crate::plots::Plot;
use std::path::Path;

/// UDP port of `asterix-pcap:` frames (both ends).
pub const PCAP_UDP_PORT: u16 = 8600;

/// How the blocks are laid out in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// Back to back.
    Raw,
    /// One pcap record (Ethernet/IPv4/UDP) per block.
    Pcap,
}

/// The classic pcap file header: little-endian magic, version 2.4,
/// microsecond timestamps, snap length 65535, link type 1 (Ethernet).
fn pcap_header() -> Vec<u8> {
    let mut h = Vec::with_capacity(24);
    h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&0i32.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&65535u32.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    h
}

/// One pcap record holding `payload` as a UDP datagram 127.0.0.1:8600 ->
/// 127.0.0.1:8600 at `time` (`payload` at most 65507 octets).
fn pcap_record(time: time::OffsetDateTime, payload: &[u8], out: &mut Vec<u8>) {
    let us = time.unix_timestamp_nanos() / 1000;
    let (sec, usec) = match u32::try_from(us.div_euclid(1_000_000)) {
        Ok(s) => (s, us.rem_euclid(1_000_000) as u32),
        Err(_) => (0, 0),
    };
    let udp_len = 8 + payload.len();
    let ip_len = 20 + udp_len;
    let frame_len = 14 + ip_len;
    out.extend_from_slice(&sec.to_le_bytes());
    out.extend_from_slice(&usec.to_le_bytes());
    out.extend_from_slice(&(frame_len as u32).to_le_bytes());
    out.extend_from_slice(&(frame_len as u32).to_le_bytes());
    // Ethernet: locally administered addresses, IPv4.
    out.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
    // IPv4: version 4, IHL 5, total length, DF, TTL 64, UDP, checksum.
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
    ip[6] = 0x40;
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[127, 0, 0, 1]);
    ip[16..20].copy_from_slice(&[127, 0, 0, 1]);
    let sum: u32 = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    let folded = (sum & 0xffff) + (sum >> 16);
    let checksum = !(((folded & 0xffff) + (folded >> 16)) as u16);
    ip[10..12].copy_from_slice(&checksum.to_be_bytes());
    out.extend_from_slice(&ip);
    // UDP, checksum 0 (none: allowed over IPv4).
    out.extend_from_slice(&PCAP_UDP_PORT.to_be_bytes());
    out.extend_from_slice(&PCAP_UDP_PORT.to_be_bytes());
    out.extend_from_slice(&(udp_len as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
}

/// Writes CAT048 data blocks to a file.
///
/// Like the JSON lines file output, the blocks go to `PATH.partial`, renamed
/// to `PATH` only when the run finishes, so a failed run never replaces an
/// earlier good file.
pub struct AsterixFileSink {
    name: String,
    config: Cat048Config,
    out: PartialFile,
    framing: Framing,
    frames: Vec<u8>,
    stats: EncodeStats,
    scan: ScanTracker,
    /// Plots not encoded since the last `take_undelivered`.
    not_encoded: u64,
    buffer: Vec<u8>,
    messages: Vec<cat034::ServiceMessage>,
}

impl AsterixFileSink {
    /// Creates `PATH.partial` (`asterix-file:`).
    pub fn create(path: &Path, config: Cat048Config) -> Result<Self, OutputError> {
        Self::open(path, config, Framing::Raw)
    }

    /// Creates `PATH.partial` as a pcap capture (`asterix-pcap:`, module docs).
    pub fn create_pcap(path: &Path, config: Cat048Config) -> Result<Self, OutputError> {
        Self::open(path, config, Framing::Pcap)
    }

    fn open(path: &Path, config: Cat048Config, framing: Framing) -> Result<Self, OutputError> {
        let kind = match framing {
            Framing::Raw => "asterix-file",
            Framing::Pcap => "asterix-pcap",
        };
        let name = format!("{kind}:{}", path.display());
        let mut out = PartialFile::create(path, &name)?;
        if framing == Framing::Pcap {
            out.write_bytes(&pcap_header())?;
        }
        Ok(AsterixFileSink {
            name,
            config,
            out,
            framing,
            frames: Vec::new(),
            stats: EncodeStats::default(),
            scan: ScanTracker::default(),
            not_encoded: 0,
            buffer: Vec::new(),
            messages: Vec::new(),
        })
    }

    /// What was encoded so far, including the plots that could not be.
    pub fn stats(&self) -> EncodeStats {
        self.stats
    }

    /// Appends the CAT048 blocks of `plots` to the buffer.
    fn encode_plots(&mut self, plots: &[Plot]) {
        let dropped = self.stats.plots_dropped;
        let max_block = match self.framing {
            Framing::Raw => MAX_DATA_BLOCK_LEN_BYTES,
            Framing::Pcap => super::udp::DEFAULT_MAX_DATAGRAM_BYTES,
        };
        encode_data_blocks(
            plots,
            &self.config,
            max_block,
            &mut self.stats,
            &mut self.buffer,
        );
        self.not_encoded += self.stats.plots_dropped - dropped;
        if self.stats.plots_dropped > dropped {
            tracing::warn!(
                "{}: {} plot(s) of CPI {} not encoded (range beyond 65535 NM, negative or not finite, or azimuth not finite)",
                self.name,
                self.stats.plots_dropped - dropped,
                plots.first().map_or(0, |p| p.cpi)
            );
        }
    }

    /// Writes the buffer's blocks: as they are, or one pcap frame each.
    fn write_buffer(&mut self, time: time::OffsetDateTime) -> Result<(), OutputError> {
        match self.framing {
            Framing::Raw => self.out.write_bytes(&self.buffer),
            Framing::Pcap => {
                self.frames.clear();
                let mut at = 0;
                // Each block starts with CAT and a big-endian LEN (the whole block).
                while at + 3 <= self.buffer.len() {
                    let len = usize::from(u16::from_be_bytes([
                        self.buffer[at + 1],
                        self.buffer[at + 2],
                    ]));
                    let end = (at + len.max(3)).min(self.buffer.len());
                    pcap_record(time, &self.buffer[at..end], &mut self.frames);
                    at = end;
                }
                self.out.write_bytes(&self.frames)
            }
        }
    }
}

impl PlotSink for AsterixFileSink {
    fn name(&self) -> &str {
        &self.name
    }

    /// A file is the record of the run: never thinned.
    fn overflow(&self) -> crate::output::Overflow {
        crate::output::Overflow::Block
    }

    fn write(&mut self, plots: &[Plot]) -> Result<(), OutputError> {
        self.buffer.clear();
        self.encode_plots(plots);
        let time = plots
            .first()
            .map_or(time::OffsetDateTime::UNIX_EPOCH, |p| p.time_utc);
        self.write_buffer(time)
    }

    fn write_cpi(&mut self, beam: &BeamPosition, plots: &[Plot]) -> Result<(), OutputError> {
        self.buffer.clear();
        self.messages.clear();
        self.scan.advance(beam, &mut self.messages);
        cat034::encode_data_block(&self.messages, self.config.site, &mut self.buffer);
        self.encode_plots(plots);
        self.write_buffer(beam.time_utc)
    }

    fn take_undelivered(&mut self) -> Undelivered {
        Undelivered {
            plots: std::mem::take(&mut self.not_encoded),
            send_errors: 0,
        }
    }

    fn finish(&mut self) -> Result<(), OutputError> {
        self.finish_uncommitted()?;
        self.commit()
    }

    fn finish_uncommitted(&mut self) -> Result<(), OutputError> {
        self.out.flush()?;
        let s = self.stats;
        tracing::info!(
            "{}: {} CAT048 records in {} data blocks; {} extended range (REF ERR), {} without I048/120 (speed outside +/-511 m/s), {} measured heights without I048/110 (outside +/-62 km), {} plots not encoded",
            self.name,
            s.records,
            s.data_blocks,
            s.extended_range,
            s.doppler_omitted,
            s.height_omitted,
            s.plots_dropped
        );
        Ok(())
    }

    fn commit(&mut self) -> Result<(), OutputError> {
        self.out.commit()
    }
}
