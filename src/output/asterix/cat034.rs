//! CAT034 (transmission of monoradar service messages), edition 1.29
//! (EUROCONTROL, 2021-03-15): north marker and sector crossing messages.
//!
//! UAP of edition 1.29, by FRN: 1 I034/010, 2 I034/000, 3 I034/030,
//! 4 I034/020, 5 I034/041, 6 I034/050, 7 I034/060, 8 I034/070, 9 I034/100,
//! 10 I034/110, 11 I034/120, 12 I034/090, 13 RE, 14 SP. A north marker sends
//! 010, 000 (= 1) and 030; a sector crossing adds 020.

use super::{SiteId, close_data_block, fspec, open_data_block, time_of_day_128th_s};
use time::OffsetDateTime;

/// The ASTERIX category.
pub const CATEGORY: u8 = 34;

/// The CAT034 edition this encoder follows.
pub const EDITION: &str = "1.29";

const FRN_010: u8 = 1;
const FRN_000: u8 = 2;
const FRN_030: u8 = 3;
const FRN_020: u8 = 4;

/// A service message this encoder writes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ServiceMessage {
    /// I034/000 = 1: the antenna crossed north.
    NorthMarker {
        /// When, UTC.
        time_utc: OffsetDateTime,
    },
    /// I034/000 = 2: the antenna entered a sector.
    SectorCrossing {
        /// When, UTC.
        time_utc: OffsetDateTime,
        /// Azimuth of the sector's start, degrees clockwise from north; sent
        /// as I034/020, LSB 360/2^8 deg, rounded to the nearest LSB.
        sector_start_deg: f64,
    },
}

/// I034/020: azimuth in units of 360/2^8 deg, nearest LSB, in [0, 360) deg;
/// `None` when not finite.
pub fn sector_number(azimuth_deg: f64) -> Option<u8> {
    if !azimuth_deg.is_finite() {
        return None;
    }
    let lsb = (azimuth_deg.rem_euclid(360.0) / 360.0 * 256.0).round() as u32;
    Some((lsb % 256) as u8)
}

/// Appends one CAT034 record for `message` to `out`; returns false (and
/// appends nothing) for a sector crossing whose azimuth is not finite.
pub fn encode_record(message: &ServiceMessage, site: SiteId, out: &mut Vec<u8>) -> bool {
    let (kind, time_utc, sector) = match *message {
        ServiceMessage::NorthMarker { time_utc } => (1u8, time_utc, None),
        ServiceMessage::SectorCrossing {
            time_utc,
            sector_start_deg,
        } => match sector_number(sector_start_deg) {
            Some(s) => (2, time_utc, Some(s)),
            None => return false,
        },
    };
    let mut frns = vec![FRN_010, FRN_000, FRN_030];
    if sector.is_some() {
        frns.push(FRN_020);
    }
    out.extend_from_slice(&fspec(&frns));
    out.extend_from_slice(&[site.sac, site.sic, kind]);
    out.extend_from_slice(&time_of_day_128th_s(time_utc).to_be_bytes()[1..]);
    if let Some(s) = sector {
        out.push(s);
    }
    true
}

/// Appends one CAT034 data block holding `messages` (at most a few thousand:
/// a record is at most 8 octets) to `out`; nothing when none is encodable.
/// Returns the number of records written.
pub fn encode_data_block(messages: &[ServiceMessage], site: SiteId, out: &mut Vec<u8>) -> usize {
    const MAX_RECORDS: usize = (super::MAX_DATA_BLOCK_LEN_BYTES - 3) / 8;
    let start = open_data_block(out, CATEGORY);
    let written = messages
        .iter()
        .take(MAX_RECORDS)
        .filter(|m| encode_record(m, site, out))
        .count();
    if written == 0 {
        out.truncate(start);
    } else {
        close_data_block(out, start);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const SITE: SiteId = SiteId { sac: 1, sic: 2 };

    #[test]
    fn north_marker_bytes() {
        let mut out = Vec::new();
        let n = encode_data_block(
            &[ServiceMessage::NorthMarker {
                time_utc: datetime!(2024-03-01 00:00:01 UTC),
            }],
            SITE,
            &mut out,
        );
        assert_eq!(n, 1);
        assert_eq!(out, vec![34, 0, 10, 0xE0, 1, 2, 1, 0x00, 0x00, 0x80]);
    }

    #[test]
    fn sector_crossing_bytes() {
        let mut out = Vec::new();
        let msg = ServiceMessage::SectorCrossing {
            time_utc: datetime!(2024-03-01 00:00:00 UTC),
            sector_start_deg: 45.0,
        };
        assert!(encode_record(&msg, SITE, &mut out));
        assert_eq!(out, vec![0xF0, 1, 2, 2, 0, 0, 0, 32]);
    }

    #[test]
    fn sector_number_rounds_and_wraps() {
        let lsb = 360.0 / 256.0;
        assert_eq!(sector_number(0.49 * lsb), Some(0));
        assert_eq!(sector_number(0.51 * lsb), Some(1));
        assert_eq!(sector_number(359.5), Some(0));
        assert_eq!(sector_number(-lsb), Some(255));
        assert_eq!(sector_number(f64::NAN), None);
        let mut out = Vec::new();
        let bad = ServiceMessage::SectorCrossing {
            time_utc: datetime!(2024-03-01 00:00:00 UTC),
            sector_start_deg: f64::NAN,
        };
        assert_eq!(encode_data_block(&[bad], SITE, &mut out), 0);
        assert!(out.is_empty());
    }
}
