//! CPI assembly: a pure state machine fed parsed VRT packets, emitting whole
//! CPIs. No I/O, no clocks: the caller (UDP receiver, replay) feeds packets
//! in arrival order.
//!
//! Decisions (why, briefly):
//! - **A damaged CPI is dropped, never emitted.** A lost packet (a gap in the
//!   data packet count), a sample-loss or not-valid-data indicator, a pulse
//!   whose length is not N, a sample frame out of sequence, or a late
//!   (reordered) packet drops the CPI it belongs to and is counted. Zero-filling
//!   the hole would bias CFAR noise estimates and smear Doppler; a silently
//!   wrong CPI must never reach detection.
//! - **Each CPI needs its own context packet**: the context packet received
//!   since the previous CPI start whose timestamp is that of the CPI's first
//!   sample (formats.md §3). Without one the carrier and beam are unknown
//!   (reusing the previous CPI's beam would mislabel plots), so the CPI is
//!   dropped.
//! - **Packet counts are tracked per (stream ID, packet class)**: data and
//!   context packets of a stream count separately (hw/README.md §1 note c).
//!   A count repeated immediately is a duplicate and is ignored. A count 1 to
//!   3 behind the last one is a late packet (it arrived after a later one, so
//!   it was first counted as lost): it is counted as late, taken back out of
//!   `packets_lost`, and ignored. Any other jump is a loss of that many
//!   packets. With a 4-bit count, 16 lost packets in a row are invisible to
//!   the count; the pulse and CPI structure checks still catch them unless
//!   whole CPIs vanish.
//! - A CPI starts at a data packet with the CPI-start indicator that opens a
//!   sample frame. It is emitted as soon as its P-th pulse is complete; data
//!   packets that then arrive before the next CPI start (more pulses than the
//!   site configuration's P) are counted in `packets_outside_cpi`, as are
//!   packets before the first CPI start.

use time::OffsetDateTime;

use super::{ContextPacket, DataPacket, PICOSECONDS_PER_SECOND, Packet, parse};
use crate::cpi::{Cpi, CpiMeta};

/// What the assembler needs to know from the site configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssemblerConfig {
    /// Pulses per CPI, P (`radar:pulses_per_cpi`).
    pub pulses_per_cpi: usize,
    /// Samples per pulse, N (`radar:samples_per_pulse`).
    pub samples_per_pulse: usize,
    /// The receive channel's stream ID; `None` takes the first stream seen.
    /// Packets of any other stream are counted and ignored.
    pub stream_id: Option<u32>,
}

/// CPIs dropped, by reason (each dropped CPI is counted once, under the first
/// reason found).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpiDrops {
    /// A data packet of the CPI was lost (gap in the packet count).
    pub packet_lost: u64,
    /// A packet arrived after a later one (reordered).
    pub packet_late: u64,
    /// A packet carried the sample-loss indicator.
    pub sample_loss: u64,
    /// A packet's valid-data indicator was clear.
    pub invalid_data: u64,
    /// A pulse was not N samples long, or its sample frame indicators or
    /// CPI-start bits were out of sequence.
    pub bad_frame: u64,
    /// No context packet for this CPI (none since the previous CPI start, or
    /// its timestamp is not the CPI's first sample's).
    pub no_context: u64,
    /// Multi-channel input: the sum channel's CPI was whole but another
    /// channel's was not delivered whole ([`super::MultiChannelAssembler`]).
    pub channel_missing: u64,
}

impl CpiDrops {
    /// All dropped CPIs.
    pub fn total(&self) -> u64 {
        self.packet_lost
            + self.packet_late
            + self.sample_loss
            + self.invalid_data
            + self.bad_frame
            + self.no_context
            + self.channel_missing
    }
}

/// Counters of everything the assembler has seen (monotonic).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VrtCounters {
    /// Datagrams or packets handed in, malformed ones included.
    pub packets_received: u64,
    /// Packets missing from the count sequences (data and context) of the
    /// configured stream. A malformed datagram of the stream also leaves a
    /// gap, so it is counted here as well as in `packets_malformed`.
    pub packets_lost: u64,
    /// Datagrams that failed to parse ([`super::VrtError`]).
    pub packets_malformed: u64,
    /// Packets whose count repeated the previous one of their class.
    pub packets_duplicate: u64,
    /// Packets that arrived after a later one of their class.
    pub packets_late: u64,
    /// Packets of a stream ID other than the configured one.
    pub packets_unknown_stream: u64,
    /// Data packets outside any CPI: before the first CPI start, or between a
    /// complete CPI and the next start.
    pub packets_outside_cpi: u64,
    /// CPIs emitted complete.
    pub cpis_emitted: u64,
    /// CPIs dropped because of damage (see [`CpiDrops`]).
    pub cpis_dropped: CpiDrops,
    /// CPIs cut short by the next CPI start (or by [`CpiAssembler::finish`])
    /// with fewer than P pulses and no other damage seen.
    pub cpis_incomplete: u64,
}

/// Why a CPI is being dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DropReason {
    PacketLost,
    PacketLate,
    SampleLoss,
    InvalidData,
    BadFrame,
    NoContext,
}

/// The CPI being collected.
#[derive(Debug)]
struct Collecting {
    meta: CpiMeta,
    /// `P * N` samples as interleaved (I, Q) counts (`2 * P * N` values),
    /// pulse-major, filled up to `pulses_done * N + in_pulse` samples. Kept
    /// as counts: the CPI goes out as ci16 ([`Cpi::from_ci16`]).
    samples: Vec<i16>,
    pulses_done: usize,
    /// Samples of the current pulse so far (0 = between pulses).
    in_pulse: usize,
}

#[derive(Debug)]
enum State {
    /// No CPI in progress: before the first start, or after a complete one.
    AwaitingStart,
    /// Collecting a CPI.
    Collecting(Box<Collecting>),
    /// The current CPI was dropped: discard its packets until the next start.
    Dropping,
}

/// Packet-count tracking for one packet class of the stream.
#[derive(Debug, Default, Clone, Copy)]
struct CountTracker {
    last: Option<u8>,
}

/// Outcome of a packet count check.
#[derive(Debug, PartialEq, Eq)]
enum CountCheck {
    InOrder,
    /// `n` packets missing before this one.
    Gap(u64),
    Duplicate,
    Late,
}

impl CountTracker {
    fn check(&mut self, count: u8) -> CountCheck {
        let Some(last) = self.last else {
            self.last = Some(count);
            return CountCheck::InOrder;
        };
        match count.wrapping_sub(last) & 0xF {
            0 => CountCheck::Duplicate,
            1 => {
                self.last = Some(count);
                CountCheck::InOrder
            }
            // 1 to 3 behind the last count: a reordered packet. `last` stays.
            13..=15 => CountCheck::Late,
            d => {
                self.last = Some(count);
                CountCheck::Gap(u64::from(d - 1))
            }
        }
    }
}

/// Assembles [`Cpi`]s of shape `(1, P, N)` from one receive channel's packets.
///
/// Feed every datagram (or packet) in arrival order to
/// [`CpiAssembler::push_datagram`] (or [`CpiAssembler::push`] when already
/// parsed); each returns the CPI that packet completed, if any. Samples are
/// scaled to full scale 1.0 (ci16 / 32768). The module documentation lists the
/// decisions about damaged CPIs.
#[derive(Debug)]
pub struct CpiAssembler {
    config: AssemblerConfig,
    stream_id: Option<u32>,
    data_count: CountTracker,
    context_count: CountTracker,
    /// The newest context packet since the last CPI start.
    pending_context: Option<ContextPacket>,
    state: State,
    /// CPIs seen so far (emitted, dropped or incomplete): the next CPI's index.
    next_index: u64,
    counters: VrtCounters,
}

impl CpiAssembler {
    /// A new assembler with nothing received.
    pub fn new(config: AssemblerConfig) -> Self {
        CpiAssembler {
            config,
            stream_id: config.stream_id,
            data_count: CountTracker::default(),
            context_count: CountTracker::default(),
            pending_context: None,
            state: State::AwaitingStart,
            next_index: 0,
            counters: VrtCounters::default(),
        }
    }

    /// The counters so far.
    pub fn counters(&self) -> &VrtCounters {
        &self.counters
    }

    /// The stream ID being assembled (the configured one, or the first seen).
    pub fn stream_id(&self) -> Option<u32> {
        self.stream_id
    }

    /// Parses one datagram and feeds it; a malformed one is counted in
    /// `packets_malformed` (and its count gap, if it was of this stream, in
    /// `packets_lost` when the next packet arrives).
    pub fn push_datagram(&mut self, datagram: &[u8]) -> Option<Cpi> {
        match parse(datagram) {
            Ok(packet) => self.push(packet),
            Err(_) => {
                self.counters.packets_received += 1;
                self.counters.packets_malformed += 1;
                None
            }
        }
    }

    /// Feeds one parsed packet; returns the CPI it completed, if any.
    pub fn push(&mut self, packet: Packet) -> Option<Cpi> {
        self.counters.packets_received += 1;
        let id = packet.stream_id();
        if *self.stream_id.get_or_insert(id) != id {
            self.counters.packets_unknown_stream += 1;
            return None;
        }
        match packet {
            Packet::Context(c) => {
                match self.context_count.check(c.count) {
                    CountCheck::Duplicate => self.counters.packets_duplicate += 1,
                    CountCheck::Late => self.note_late(),
                    CountCheck::Gap(n) => {
                        self.counters.packets_lost += n;
                        self.pending_context = Some(c);
                    }
                    CountCheck::InOrder => self.pending_context = Some(c),
                }
                None
            }
            Packet::Data(d) => self.push_data(d),
        }
    }

    /// Ends the input: a CPI still being collected is counted as incomplete.
    pub fn finish(&mut self) {
        if let State::Collecting(_) = self.state {
            self.counters.cpis_incomplete += 1;
        }
        self.state = State::AwaitingStart;
    }

    fn note_late(&mut self) {
        self.counters.packets_late += 1;
        // It was counted as lost when the later packet arrived first.
        self.counters.packets_lost = self.counters.packets_lost.saturating_sub(1);
    }

    /// Drops the CPI in progress (if any) for `reason`.
    fn drop_cpi(&mut self, reason: DropReason) {
        if let State::Collecting(_) = self.state {
            let d = &mut self.counters.cpis_dropped;
            *match reason {
                DropReason::PacketLost => &mut d.packet_lost,
                DropReason::PacketLate => &mut d.packet_late,
                DropReason::SampleLoss => &mut d.sample_loss,
                DropReason::InvalidData => &mut d.invalid_data,
                DropReason::BadFrame => &mut d.bad_frame,
                DropReason::NoContext => &mut d.no_context,
            } += 1;
            self.state = State::Dropping;
        }
    }

    fn push_data(&mut self, d: DataPacket) -> Option<Cpi> {
        match self.data_count.check(d.count) {
            CountCheck::Duplicate => {
                self.counters.packets_duplicate += 1;
                return None;
            }
            CountCheck::Late => {
                self.note_late();
                self.drop_cpi(DropReason::PacketLate);
                return None;
            }
            CountCheck::Gap(n) => {
                self.counters.packets_lost += n;
                self.drop_cpi(DropReason::PacketLost);
                // A gap after a complete CPI: the lost packets belonged to
                // the next CPI, unless this packet starts it.
                if let State::AwaitingStart = self.state
                    && self.next_index > 0
                    && !is_cpi_start(&d)
                {
                    self.state = State::Dropping;
                    self.counters.cpis_dropped.packet_lost += 1;
                    // Its start was lost, but it was a CPI: keep indices aligned.
                    self.next_index += 1;
                    return None;
                }
            }
            CountCheck::InOrder => {}
        }

        if is_cpi_start(&d) {
            if let State::Collecting(_) = self.state {
                self.counters.cpis_incomplete += 1;
            }
            self.start_cpi(&d);
        }

        let State::Collecting(cpi) = &mut self.state else {
            if let State::AwaitingStart = self.state {
                self.counters.packets_outside_cpi += 1;
            }
            return None;
        };
        let (p, n) = (self.config.pulses_per_cpi, self.config.samples_per_pulse);
        let frame = d.trailer.sample_frame;
        let reason = if d.trailer.sample_loss {
            Some(DropReason::SampleLoss)
        } else if !d.trailer.valid_data {
            Some(DropReason::InvalidData)
        } else if frame.starts_frame() != (cpi.in_pulse == 0)
            || d.trailer.cpi_start != (cpi.pulses_done == 0)
            || cpi.in_pulse + d.samples.len() > n
            || (frame.ends_frame() && cpi.in_pulse + d.samples.len() != n)
        {
            Some(DropReason::BadFrame)
        } else {
            None
        };
        if let Some(reason) = reason {
            self.drop_cpi(reason);
            return None;
        }
        cpi.samples
            .extend(d.samples.iter().flat_map(|s| [s.i, s.q]));
        cpi.in_pulse += d.samples.len();
        if frame.ends_frame() {
            cpi.in_pulse = 0;
            cpi.pulses_done += 1;
            if cpi.pulses_done == p {
                let State::Collecting(done) =
                    std::mem::replace(&mut self.state, State::AwaitingStart)
                else {
                    return None;
                };
                let done = *done;
                // Counts / 32768 (formats.md §1), as `Ci16::to_complex32`.
                let scale = 1.0 / super::CI16_FULL_SCALE;
                let cpi = Cpi::from_ci16(done.meta, (1, p, n), done.samples, scale).ok()?;
                self.counters.cpis_emitted += 1;
                return Some(cpi);
            }
        }
        None
    }

    /// Begins a CPI at `d` (a CPI-start packet), taking the pending context.
    fn start_cpi(&mut self, d: &DataPacket) {
        let index = self.next_index;
        self.next_index += 1;
        let context = self.pending_context.take();
        let Some(ctx) =
            context.filter(|c| c.seconds == d.seconds && c.picoseconds == d.picoseconds)
        else {
            self.state = State::Collecting(Box::new(placeholder(index)));
            self.drop_cpi(DropReason::NoContext);
            return;
        };
        let (p, n) = (self.config.pulses_per_cpi, self.config.samples_per_pulse);
        self.state = State::Collecting(Box::new(Collecting {
            meta: CpiMeta {
                index,
                time_utc: utc(d.seconds, d.picoseconds),
                carrier_hz: ctx.rf_frequency_hz,
                azimuth_deg: ctx.azimuth_deg,
                elevation_deg: ctx.elevation_deg,
                simulated: false,
                received_at: None,
            },
            samples: Vec::with_capacity(p.saturating_mul(n).saturating_mul(2)),
            pulses_done: 0,
            in_pulse: 0,
        }));
    }
}

/// A CPI that exists only to be dropped.
fn placeholder(index: u64) -> Collecting {
    Collecting {
        meta: CpiMeta {
            index,
            time_utc: OffsetDateTime::UNIX_EPOCH,
            carrier_hz: 0.0,
            azimuth_deg: 0.0,
            elevation_deg: 0.0,
            simulated: false,
            received_at: None,
        },
        samples: Vec::new(),
        pulses_done: 0,
        in_pulse: 0,
    }
}

/// True for the packet that opens the first pulse of a CPI.
fn is_cpi_start(d: &DataPacket) -> bool {
    d.trailer.cpi_start && d.trailer.sample_frame.starts_frame()
}

/// UTC time of a (seconds, picoseconds) timestamp, to the nanosecond.
pub(super) fn utc(seconds: u32, picoseconds: u64) -> OffsetDateTime {
    let ns = i128::from(seconds) * 1_000_000_000
        + i128::from(picoseconds.min(PICOSECONDS_PER_SECOND - 1) / 1000);
    // In range for any u32 seconds; the fallback is unreachable.
    OffsetDateTime::from_unix_timestamp_nanos(ns).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
