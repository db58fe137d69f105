//! Multi-channel CPI assembly: one VRT stream per receive channel (sum and
//! difference channels of a monopulse receiver, formats.md §3), each
//! assembled by its own [`CpiAssembler`], joined into one CPI of every
//! channel.
//!
//! Decisions (why, briefly):
//! - **A CPI is emitted only when every channel delivered it whole**, with
//!   the same first-sample timestamp (the digitizer's channels share the CPI
//!   markers and the sample clock, hw/README.md). A channel's damaged CPI is
//!   dropped by its own assembler, so the joined CPI never holds a zero-filled
//!   or misaligned channel: the monopulse ratio of a cell would be wrong
//!   with no sign of it.
//! - **Counting**: packet counters are summed over the channels. Each CPI is
//!   counted once: a CPI the sum channel dropped is
//!   counted under its reason; a CPI the sum channel completed but another
//!   channel did not deliver (damaged, lost, or its timestamp never came) is
//!   counted in [`CpiDrops::channel_missing`] when a later CPI of any channel
//!   shows it can no longer complete, or at [`MultiChannelAssembler::finish`].
//! - At most [`PENDING_CPIS`] CPIs wait for their other channels; an older
//!   one is dropped (channel missing): memory stays bounded whatever a
//!   broken channel sends.
//! - CPI index, carrier and beam come from the sum channel's stream.

use std::collections::BTreeMap;

use super::{AssemblerConfig, CpiAssembler, Packet, VrtCounters, parse};
use crate::cpi::Cpi;

/// CPIs that may wait for their other channels at once.
pub const PENDING_CPIS: usize = 4;

/// Joins one [`CpiAssembler`] per channel.
#[derive(Debug)]
pub struct MultiChannelAssembler {
    /// One per channel, in the CPI's channel order.
    channels: Vec<CpiAssembler>,
    /// Index of the sum channel.
    sum: usize,
    /// First-sample time (Unix ns) -> the channels' CPIs so far.
    pending: BTreeMap<i128, Vec<Option<Cpi>>>,
    /// CPIs the sum channel completed that another channel did not deliver.
    channel_missing: u64,
    /// Joined CPIs emitted.
    emitted: u64,
    /// Packets of no configured stream (multi-channel only).
    unknown_stream: u64,
}

impl MultiChannelAssembler {
    /// One channel per entry of `stream_ids`, in the CPI's channel order,
    /// with the sum channel at `sum`; each is cut by `config` (whose
    /// `stream_id` then does not apply). No stream IDs: one channel with
    /// `config.stream_id` (`None` takes the first stream seen, as
    /// [`CpiAssembler`] does).
    pub fn new(config: AssemblerConfig, stream_ids: &[Option<u32>], sum: usize) -> Self {
        let ids: Vec<Option<u32>> = if stream_ids.is_empty() {
            vec![config.stream_id]
        } else {
            stream_ids.to_vec()
        };
        MultiChannelAssembler {
            channels: ids
                .into_iter()
                .map(|stream_id| {
                    CpiAssembler::new(AssemblerConfig {
                        stream_id,
                        ..config
                    })
                })
                .collect(),
            sum: if sum < stream_ids.len().max(1) {
                sum
            } else {
                0
            },
            pending: BTreeMap::new(),
            channel_missing: 0,
            emitted: 0,
            unknown_stream: 0,
        }
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.channels.len()
    }

    /// True when `stream_id` is the sum channel's stream (or could be: a
    /// single channel that has not seen a stream yet).
    pub fn is_sum_stream(&self, stream_id: u32) -> bool {
        self.channels[self.sum]
            .stream_id()
            .is_none_or(|s| s == stream_id)
    }

    /// The counters: packets summed over channels, CPIs counted once (see
    /// the module docs).
    pub fn counters(&self) -> VrtCounters {
        if self.channels.len() == 1 {
            return *self.channels[0].counters();
        }
        let mut c = *self.channels[self.sum].counters();
        for (i, other) in self.channels.iter().enumerate() {
            if i == self.sum {
                continue;
            }
            let o = other.counters();
            c.packets_received += o.packets_received;
            c.packets_lost += o.packets_lost;
            c.packets_malformed += o.packets_malformed;
            c.packets_duplicate += o.packets_duplicate;
            c.packets_late += o.packets_late;
            c.packets_outside_cpi += o.packets_outside_cpi;
        }
        // Each channel's assembler counted the other channels' packets as
        // unknown; only packets no channel took are.
        c.packets_unknown_stream = self.unknown_stream;
        c.cpis_emitted = self.emitted;
        c.cpis_dropped.channel_missing = self.channel_missing;
        c
    }

    /// Parses and feeds one datagram (a malformed one is counted once).
    pub fn push_datagram(&mut self, datagram: &[u8]) -> Option<Cpi> {
        match parse(datagram) {
            Ok(packet) => self.push(packet),
            Err(_) => self.channels[0].push_datagram(datagram),
        }
    }

    /// Feeds one parsed packet; returns the joined CPI it completed, if any.
    pub fn push(&mut self, packet: Packet) -> Option<Cpi> {
        if self.channels.len() == 1 {
            return self.channels[0].push(packet);
        }
        let id = packet.stream_id();
        let Some(c) = self.channels.iter().position(|a| a.stream_id() == Some(id)) else {
            self.unknown_stream += 1;
            return None;
        };
        let cpi = self.channels[c].push(packet)?;
        let key = cpi.meta.time_utc.unix_timestamp_nanos();
        let n = self.channels.len();
        // Older CPIs still short of this channel can no longer complete:
        // each channel's stream arrives in time order.
        let stale: Vec<i128> = self
            .pending
            .iter()
            .filter(|(k, slot)| **k < key && slot[c].is_none())
            .map(|(k, _)| *k)
            .collect();
        for k in stale {
            self.drop_pending(k);
        }
        let slot = self.pending.entry(key).or_insert_with(|| vec![None; n]);
        slot[c] = Some(cpi);
        if slot.iter().all(Option::is_some) {
            let parts = self.pending.remove(&key)?;
            return self.join(parts);
        }
        while self.pending.len() > PENDING_CPIS {
            let Some(&oldest) = self.pending.keys().next() else {
                break;
            };
            self.drop_pending(oldest);
        }
        None
    }

    /// Ends the input: CPIs still waiting for a channel are dropped.
    pub fn finish(&mut self) {
        for a in &mut self.channels {
            a.finish();
        }
        let keys: Vec<i128> = self.pending.keys().copied().collect();
        for k in keys {
            self.drop_pending(k);
        }
    }

    /// Drops a waiting CPI; counted when the sum channel had delivered it
    /// (otherwise the sum channel's assembler counted it already).
    fn drop_pending(&mut self, key: i128) {
        if let Some(slot) = self.pending.remove(&key)
            && slot[self.sum].is_some()
        {
            self.channel_missing += 1;
        }
    }

    /// One CPI of every channel from the channels' CPIs (all complete).
    fn join(&mut self, parts: Vec<Option<Cpi>>) -> Option<Cpi> {
        let parts: Vec<Cpi> = parts.into_iter().collect::<Option<_>>()?;
        let (_, p, n) = parts[0].dim();
        let mut iq = Vec::with_capacity(parts.len() * 2 * p * n);
        let mut scale = 1.0;
        for part in &parts {
            let (counts, s) = part.ci16()?;
            iq.extend_from_slice(counts);
            scale = s;
        }
        let meta = parts[self.sum].meta.clone();
        let joined = Cpi::from_ci16(meta, (parts.len(), p, n), iq, scale).ok()?;
        self.emitted += 1;
        Some(joined)
    }
}
