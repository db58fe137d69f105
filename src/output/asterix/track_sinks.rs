//! Tracks as ASTERIX CAT062 ([`super::cat062`]): to a file of data blocks
//! back to back ([`Cat062FileSink`]) or as UDP datagrams, one data block
//! each ([`Cat062UdpSink`]). Both are [`SituationSink`]s; warnings are not
//! sent (CAT062 has no item for an impact point, formats.md §7).
//!
//! Each sink keeps a [`TrackLife`] so that a track's first message carries
//! I062/080 TSB and the last report of a track dropped before confirmation
//! keeps CNF = 1.

use std::net::UdpSocket;
use std::path::Path;

use super::MAX_DATA_BLOCK_LEN_BYTES;
use super::cat062::{Cat062Config, EncodeStats62, TrackLife, data_blocks, encode_record_with};
use super::udp::UdpTarget;
use crate::assess::warning::WarningReport;
use crate::output::situation::SituationSink;
use crate::output::{OutputError, PartialFile};
use crate::track::TrackReport;

/// Encodes one look's reports, in order, with each track's lifecycle.
fn encode_look(
    reports: &[TrackReport],
    config: &Cat062Config,
    life: &mut TrackLife,
    stats: &mut EncodeStats62,
) -> Vec<Vec<u8>> {
    reports
        .iter()
        .map(|r| {
            let l = life.observe(r);
            encode_record_with(r, config, l, stats)
        })
        .collect()
}

/// Warns the first time reports could not be encoded at all, then every
/// 1000th time: a long run past track number 65535 must not flood the log.
fn warn_not_encoded(name: &str, before: &EncodeStats62, after: &EncodeStats62) {
    let lost = |s: &EncodeStats62| s.track_number_too_large + s.position_unreportable;
    let (b, a) = (lost(before), lost(after));
    if a > b && (b == 0 || a / 1000 > b / 1000) {
        tracing::warn!(
            "{name}: {a} track report(s) not encoded so far ({} with a track number above 65535, \
             {} with an unreportable position)",
            after.track_number_too_large,
            after.position_unreportable
        );
    }
}

/// One log line of what was encoded and omitted.
fn summary(name: &str, s: &EncodeStats62, delivery: &str) {
    tracing::info!(
        "{name}: {} CAT062 records{delivery}; not encoded: {} (track number > 65535), \
         {} (position); omitted items: I062/185 {}, I062/130 {} (above 150 000 ft), \
         I062/220 {}; I062/500 subfields: APC {}, APW {}, AGA {}, ATV {}, ARC {}",
        s.records,
        s.track_number_too_large,
        s.position_unreportable,
        s.velocity_omitted,
        s.altitude_omitted,
        s.rate_of_climb_omitted,
        s.apc_omitted,
        s.apw_omitted,
        s.aga_omitted,
        s.atv_omitted,
        s.arc_omitted
    );
}

/// CAT062 data blocks back to back in a file, each at most 65535 octets.
///
/// The blocks go to `PATH.partial`, renamed to `PATH` by
/// [`SituationSink::commit`] (only when the run succeeded), so a failed run
/// never replaces an earlier good file; dropped uncommitted, the sink
/// removes its `.partial`.
pub struct Cat062FileSink {
    name: String,
    config: Cat062Config,
    out: PartialFile,
    life: TrackLife,
    stats: EncodeStats62,
    data_blocks: u64,
}

impl Cat062FileSink {
    /// Creates `PATH.partial`; the output is named `cat062-file:PATH`.
    pub fn create(path: &Path, config: Cat062Config) -> Result<Self, OutputError> {
        let name = format!("cat062-file:{}", path.display());
        Ok(Cat062FileSink {
            out: PartialFile::create(path, &name)?,
            name,
            config,
            life: TrackLife::default(),
            stats: EncodeStats62::default(),
            data_blocks: 0,
        })
    }

    /// What was encoded so far, including the reports that could not be.
    pub fn stats(&self) -> EncodeStats62 {
        self.stats
    }

    /// Data blocks written so far.
    pub fn data_blocks(&self) -> u64 {
        self.data_blocks
    }
}

impl SituationSink for Cat062FileSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn write_tracks(&mut self, reports: &[TrackReport]) -> Result<(), OutputError> {
        let before = self.stats;
        let records = encode_look(reports, &self.config, &mut self.life, &mut self.stats);
        warn_not_encoded(&self.name, &before, &self.stats);
        for block in data_blocks(&records, MAX_DATA_BLOCK_LEN_BYTES) {
            self.out.write_bytes(&block)?;
            self.data_blocks += 1;
        }
        Ok(())
    }

    /// CAT062 carries no warning.
    fn write_warning(&mut self, _: &WarningReport) -> Result<(), OutputError> {
        Ok(())
    }

    fn flush(&mut self) -> Result<(), OutputError> {
        self.out.flush()?;
        summary(
            &self.name,
            &self.stats,
            &format!(" in {} data blocks", self.data_blocks),
        );
        Ok(())
    }

    fn commit(&mut self) -> Result<(), OutputError> {
        self.out.commit()
    }
}

/// CAT062 over UDP (unicast or multicast, the `asterix+udp://` options of
/// [`UdpTarget`]): each look's records in data blocks of at most
/// `max_datagram` octets, one block per datagram.
///
/// The socket is connected and non-blocking ([`UdpTarget::connect`]): a
/// send never waits. A refused send (no listener, a full socket buffer) is
/// counted in [`Cat062UdpSink::send_errors`], logged the first time and
/// every 1000th, and the output goes on.
pub struct Cat062UdpSink {
    name: String,
    config: Cat062Config,
    socket: UdpSocket,
    max_datagram_bytes: usize,
    life: TrackLife,
    stats: EncodeStats62,
    datagrams_sent: u64,
    send_errors: u64,
}

impl Cat062UdpSink {
    /// Opens the socket for `target`; the output is named as the target.
    pub fn open(target: &UdpTarget, config: Cat062Config) -> Result<Self, OutputError> {
        let (socket, dest) = target.connect()?;
        tracing::debug!("{}: sending CAT062 to {dest}", target.spec);
        Ok(Cat062UdpSink {
            name: target.spec.clone(),
            config,
            socket,
            max_datagram_bytes: target.max_datagram_bytes,
            life: TrackLife::default(),
            stats: EncodeStats62::default(),
            datagrams_sent: 0,
            send_errors: 0,
        })
    }

    /// What was encoded so far, including the reports that could not be.
    pub fn stats(&self) -> EncodeStats62 {
        self.stats
    }

    /// Datagrams the system accepted.
    pub fn datagrams_sent(&self) -> u64 {
        self.datagrams_sent
    }

    /// Datagrams the system refused.
    pub fn send_errors(&self) -> u64 {
        self.send_errors
    }
}

impl SituationSink for Cat062UdpSink {
    fn name(&self) -> &str {
        &self.name
    }

    /// Never fails: a refused datagram is counted.
    fn write_tracks(&mut self, reports: &[TrackReport]) -> Result<(), OutputError> {
        let before = self.stats;
        let records = encode_look(reports, &self.config, &mut self.life, &mut self.stats);
        warn_not_encoded(&self.name, &before, &self.stats);
        for block in data_blocks(&records, self.max_datagram_bytes) {
            match self.socket.send(&block) {
                Ok(_) => self.datagrams_sent += 1,
                Err(e) => {
                    self.send_errors += 1;
                    if self.send_errors % 1000 == 1 {
                        tracing::warn!(
                            "{}: CAT062 datagram not sent ({e}); {} refused so far, output continues",
                            self.name,
                            self.send_errors
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// CAT062 carries no warning.
    fn write_warning(&mut self, _: &WarningReport) -> Result<(), OutputError> {
        Ok(())
    }

    fn flush(&mut self) -> Result<(), OutputError> {
        summary(
            &self.name,
            &self.stats,
            &format!(
                "; {} datagrams sent, {} refused by the system",
                self.datagrams_sent, self.send_errors
            ),
        );
        Ok(())
    }
}
