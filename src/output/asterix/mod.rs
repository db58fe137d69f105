//! ASTERIX output (formats.md §4): CAT048 monoradar target reports for plots,
//! CAT034 monoradar service messages (north marker, sector crossing, from the
//! beam's movement: [`scan`]), the `asterix-file:PATH` sink that writes data
//! blocks back to back, and the `asterix+udp://HOST:PORT` sink that sends one
//! data block per datagram ([`udp`]).
//!
//! Encoding is pure (bytes in a `Vec<u8>`, no I/O); the sink only frames and
//! writes. Every field is rounded to the nearest LSB of its item.

pub mod cat034;
pub mod cat048;
pub mod cat062;
pub mod file;
pub mod scan;
pub mod track_sinks;
pub mod udp;

pub use file::AsterixFileSink;
pub use udp::{AsterixUdpSink, UdpTarget};

use time::OffsetDateTime;

/// Largest value of a data block's LEN field: the whole block, CAT and LEN
/// included, must fit in 16 bits.
pub const MAX_DATA_BLOCK_LEN_BYTES: usize = 65535;

/// The data source identifier (I048/010, I034/010): System Area Code and
/// System Identification Code, as assigned to the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SiteId {
    /// System Area Code.
    pub sac: u8,
    /// System Identification Code.
    pub sic: u8,
}

/// ASTERIX time of day (I048/140, I034/030): UTC seconds since the midnight
/// of `time`'s UTC day, in units of 1/128 s, rounded to the nearest LSB.
///
/// A time within half an LSB of the next midnight rounds up to that midnight
/// and is encoded as 0 (the item "is reset to zero each day at midnight"),
/// never as 86400 s, which is not a time of day.
pub fn time_of_day_128th_s(time: OffsetDateTime) -> u32 {
    const DAY_128TH_S: u64 = 86_400 * 128;
    let utc = time.to_offset(time::UtcOffset::UTC);
    let (h, m, s, ns) = utc.to_hms_nano();
    let whole_s = u64::from(h) * 3600 + u64::from(m) * 60 + u64::from(s);
    // Integer rounding: ns * 128 / 1e9, half up.
    let frac_128th = (u64::from(ns) * 128 + 500_000_000) / 1_000_000_000;
    ((whole_s * 128 + frac_128th) % DAY_128TH_S) as u32
}

/// Appends a data block header (CAT, LEN placeholder) and returns the offset
/// of the block's first octet, for [`close_data_block`].
pub(crate) fn open_data_block(out: &mut Vec<u8>, category: u8) -> usize {
    let start = out.len();
    out.extend_from_slice(&[category, 0, 0]);
    start
}

/// Writes the LEN of the data block that starts at `start` and runs to the end
/// of `out`. The caller keeps every block within [`MAX_DATA_BLOCK_LEN_BYTES`].
pub(crate) fn close_data_block(out: &mut [u8], start: usize) {
    let len = out.len() - start;
    debug_assert!(len <= MAX_DATA_BLOCK_LEN_BYTES);
    let len = u16::try_from(len).unwrap_or(u16::MAX);
    out[start + 1..start + 3].copy_from_slice(&len.to_be_bytes());
}

/// Builds an FSPEC from the field reference numbers (FRN, 1-based) of the
/// items present: 7 presence bits per octet, most significant first, the FX
/// bit (least significant) set on every octet but the last. Trailing all-zero
/// octets are not sent.
pub fn fspec(frns: &[u8]) -> Vec<u8> {
    let max = frns.iter().copied().max().unwrap_or(0);
    let octets = usize::from(max.div_ceil(7)).max(1);
    let mut out = vec![0u8; octets];
    for &frn in frns {
        if frn == 0 {
            continue;
        }
        let i = usize::from((frn - 1) / 7);
        let bit = (frn - 1) % 7;
        out[i] |= 0x80 >> bit;
    }
    for octet in out.iter_mut().take(octets - 1) {
        *octet |= 0x01;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn fspec_sets_fx_on_all_but_last_octet() {
        assert_eq!(fspec(&[1, 2, 3, 4]), vec![0xF0]);
        assert_eq!(fspec(&[1, 7]), vec![0x82]);
        assert_eq!(fspec(&[8]), vec![0x01, 0x80]);
        assert_eq!(fspec(&[1, 2, 3, 4, 20]), vec![0xF1, 0x01, 0x04]);
        assert_eq!(fspec(&[1, 2, 3, 4, 28]), vec![0xF1, 0x01, 0x01, 0x02]);
        assert_eq!(fspec(&[]), vec![0x00]);
    }

    #[test]
    fn time_of_day_rounds_to_nearest_128th() {
        assert_eq!(time_of_day_128th_s(datetime!(2024-01-01 00:00:00 UTC)), 0);
        assert_eq!(
            time_of_day_128th_s(datetime!(2024-01-01 01:00:00.5 UTC)),
            3600 * 128 + 64
        );
        // 1/256 s is exactly half an LSB: rounds up.
        assert_eq!(
            time_of_day_128th_s(datetime!(2024-01-01 00:00:00.00390625 UTC)),
            1
        );
        assert_eq!(
            time_of_day_128th_s(datetime!(2024-01-01 00:00:00.0039 UTC)),
            0
        );
    }

    #[test]
    fn time_of_day_near_midnight() {
        // Last LSB of the day.
        assert_eq!(
            time_of_day_128th_s(datetime!(2024-01-01 23:59:59.9921875 UTC)),
            86_400 * 128 - 1
        );
        // Within half an LSB of midnight: the next day's 0, never 86400 s.
        assert_eq!(
            time_of_day_128th_s(datetime!(2024-01-01 23:59:59.999 UTC)),
            0
        );
        // A non-UTC offset is converted to UTC first.
        assert_eq!(
            time_of_day_128th_s(datetime!(2024-01-02 01:00:00 +02:00)),
            23 * 3600 * 128
        );
    }
}
