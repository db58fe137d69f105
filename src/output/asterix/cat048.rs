//! CAT048 (monoradar target reports), edition 1.32, for primary radar plots.
//!
//! Items, in UAP order (formats.md §4, EUROCONTROL CAT048 ed. 1.32):
//!
//! | FRN | item | content |
//! | --- | --- | --- |
//! | 1 | I048/010 | SAC, SIC from [`SiteId`] |
//! | 2 | I048/140 | UTC time of day of [`Plot::time_utc`], LSB 1/128 s |
//! | 3 | I048/020 | TYP = 1 (single PSR detection), SIM from the input, RDP = SPI = RAB = 0; first extension only for ERR |
//! | 4 | I048/040 | RHO (LSB 1/256 NM, 1 NM = 1852 m), THETA (LSB 360/2^16 deg): the measured azimuth of a monopulse plot, else the beam's |
//! | 19 | I048/110 | 3D height, 14-bit two's complement, LSB 25 ft: only for a plot whose elevation was measured (monopulse with an elevation channel) and whose site position is known |
//! | 20 | I048/120 | subfield CAL only: D = 0, 10-bit two's complement m/s, positive receding |
//! | 28 | RE | Reserved Expansion Field, item ERR, only for ranges >= 256 NM |
//!
//! Every value is rounded to the nearest LSB (half away from zero).
//!
//! Ranges >= 256 NM follow the standard rather than wrapping: I048/020 gets
//! its first extension with ERR = 1, I048/040 carries RHO = 0xFFFF (the value
//! the REF's note 1 recommends) with the true THETA, and the Reserved
//! Expansion Field (CAT048 REF editions 1.11 to 1.13, all with the same layout
//! for ERR: fixed one-octet FSPEC, ERR fifth, 24 bits, LSB 1/256 NM) carries
//! the range. A range beyond the ERR field (>= 65536 NM), negative or not
//! finite, or an azimuth that is not finite, cannot be reported honestly: the
//! plot is not encoded and is counted in [`EncodeStats::plots_dropped`].
//!
//! Left out on purpose:
//! - I048/130 (radar plot characteristics), decided subfield by subfield
//!   for a coherent pulse-Doppler radar that makes each plot from one CPI on
//!   one beam position:
//!   - SRL, SRR, SAM, RPD, APD describe SSR replies or PSR/SSR differences:
//!     a primary-only sensor has none.
//!   - PRL (primary plot runlength, azimuth) is the azimuth span over which
//!     successive hits of a scanning radar saw the target. A plot here is
//!     one dwell: there is no run of hits across azimuth, and the beamwidth
//!     or the step to the next CPI would be a property of the antenna
//!     presented as a measurement of the target.
//!   - PAM (amplitude of the primary plot) is an absolute power in dBm.
//!     [`Plot::snr_db`] is peak power over the CFAR noise estimate after
//!     pulse compression and Doppler integration; turning it into dBm needs
//!     a receiver calibration (the noise power in dBm that the estimate
//!     stands for) that neither the recording nor the site configuration
//!     carries. A receiver reading SNR as dBm would be off by the whole
//!     noise floor (about -100 dBm), so PAM is not sent. With such a
//!     calibration key, PAM = noise power (dBm) + `snr_db` would be honest;
//!     that is the way to add it.
//!
//!   No subfield is left, so the item is absent (both decoder tests assert
//!   it).
//! - I048/110 for plots whose elevation is only the beam's pointing: the
//!   target may be anywhere in the beam (with a 3 deg beam at 100 km,
//!   +/-2.6 km, some 340 LSBs of 25 ft), and a receiver takes I048/110 as a
//!   measured height and fuses it as one. A plot with a monopulse elevation
//!   carries it: the height is the plot's geodetic height ([`Plot::height_m`],
//!   straight-line propagation, above the WGS-84 ellipsoid; the geoid is
//!   within about 110 m of it, 4 LSBs, and tews carries no geoid model).
//!   Its accuracy is that of the elevation: about `R sigma_el cos(el)`, e.g.
//!   160 m (6 LSBs) at 100 km for a 0.09 deg sigma at 20 dB. A height
//!   outside the item's -204 800 .. +204 775 ft (about -62.4 .. +62.4 km;
//!   a ballistic object above it is common) is omitted, never clipped, and
//!   counted in [`EncodeStats::height_omitted`].
//! - I048/120 RDS (raw Doppler speed): needs the ambiguity range and
//!   transmitter frequency, which a plot does not carry.
//! - CAL outside -512..=511 m/s (after rounding) or not finite: the CAL
//!   subfield, and so I048/120, is omitted and counted in
//!   [`EncodeStats::doppler_omitted`]. A saturated value flagged "doubtful"
//!   would still read as a wrong speed to a receiver that ignores D; an
//!   absent item cannot be misread.

use super::{SiteId, close_data_block, fspec, open_data_block, time_of_day_128th_s};
use crate::plots::{AngleSource, Plot};

/// The ASTERIX category.
pub const CATEGORY: u8 = 48;

/// The CAT048 edition this encoder follows.
pub const EDITION: &str = "1.32";

/// Metres per international nautical mile.
pub const METRES_PER_NM: f64 = 1852.0;

/// Largest range I048/040 itself can carry: (2^16 - 1)/256 NM.
pub const RHO_MAX_NM: f64 = 65535.0 / 256.0;

/// Largest range the REF ERR item can carry: (2^24 - 1)/256 NM.
pub const ERR_MAX_NM: f64 = 16_777_215.0 / 256.0;

/// Smallest and largest I048/120 CAL values, m/s (10-bit two's complement).
pub const CAL_RANGE_MPS: (i32, i32) = (-512, 511);

const FRN_010: u8 = 1;
const FRN_140: u8 = 2;
const FRN_020: u8 = 3;
const FRN_040: u8 = 4;
const FRN_110: u8 = 19;
const FRN_120: u8 = 20;
const FRN_RE: u8 = 28;

/// What the encoder needs besides the plots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cat048Config {
    /// I048/010.
    pub site: SiteId,
    /// True when the plots come from simulated input: sets I048/020 SIM.
    pub simulated: bool,
}

/// How one plot was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// A record was appended; `extended_range` when the range went into the
    /// REF ERR item, `doppler` false when I048/120 was omitted.
    Encoded {
        /// RHO >= 256 NM: ERR bit set, range in the Reserved Expansion Field.
        extended_range: bool,
        /// I048/120 CAL was sent.
        doppler: bool,
        /// The plot had a measured height that I048/110 cannot hold.
        height_omitted: bool,
    },
    /// Nothing was appended: the position cannot be reported (see module docs).
    Dropped,
}

/// Counts over many plots, for logs and the run summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeStats {
    /// Records encoded.
    pub records: u64,
    /// Records whose range went into the REF ERR item (>= 256 NM).
    pub extended_range: u64,
    /// Records sent without I048/120 (speed outside CAL or not finite).
    pub doppler_omitted: u64,
    /// Records of measured height sent without I048/110 (height outside
    /// the item's range).
    pub height_omitted: u64,
    /// Plots not encoded: range beyond ERR, negative or not finite, or azimuth
    /// not finite.
    pub plots_dropped: u64,
    /// Data blocks produced.
    pub data_blocks: u64,
}

impl EncodeStats {
    fn count(&mut self, outcome: RecordOutcome) {
        match outcome {
            RecordOutcome::Encoded {
                extended_range,
                doppler,
                height_omitted,
            } => {
                self.records += 1;
                self.extended_range += u64::from(extended_range);
                self.doppler_omitted += u64::from(!doppler);
                self.height_omitted += u64::from(height_omitted);
            }
            RecordOutcome::Dropped => self.plots_dropped += 1,
        }
    }
}

/// Range in units of 1/256 NM, rounded to the nearest LSB, or `None` when it
/// is negative, not finite or beyond the ERR item.
pub fn range_256th_nm(range_m: f64) -> Option<u32> {
    let lsb = (range_m / METRES_PER_NM * 256.0).round();
    (range_m >= 0.0 && lsb <= 16_777_215.0).then_some(lsb as u32)
}

/// Azimuth in units of 360/2^16 deg, rounded to the nearest LSB, in
/// [0, 360) deg (a value that rounds to 360 deg is north, 0), or `None` when
/// not finite.
pub fn azimuth_16bit(azimuth_deg: f64) -> Option<u16> {
    if !azimuth_deg.is_finite() {
        return None;
    }
    let lsb = (azimuth_deg.rem_euclid(360.0) / 360.0 * 65536.0).round() as u32;
    Some((lsb % 65536) as u16)
}

/// Radial speed in whole m/s, rounded to the nearest, or `None` outside the
/// CAL subfield's -512..=511 m/s or not finite.
pub fn cal_mps(radial_velocity_mps: f64) -> Option<i16> {
    let v = radial_velocity_mps.round();
    let (lo, hi) = CAL_RANGE_MPS;
    (v.is_finite() && v >= f64::from(lo) && v <= f64::from(hi)).then_some(v as i16)
}

/// Metres per international foot.
pub const METRES_PER_FT: f64 = 0.3048;

/// Smallest and largest I048/110 values, in LSBs of 25 ft (14-bit two's complement).
pub const HEIGHT_RANGE_25FT: (i32, i32) = (-8192, 8191);

/// The measured height of `plot` in LSBs of 25 ft: `Some(Ok(lsb))` when it
/// fits I048/110, `Some(Err(()))` when measured but out of range, `None`
/// when the plot has no measured height (see the module docs).
pub fn height_25ft(plot: &Plot) -> Option<Result<i16, ()>> {
    let measured =
        plot.angle_source == AngleSource::Monopulse && plot.elevation_sigma_deg.is_some();
    let h = plot.height_m.filter(|_| measured)?;
    let lsb = (h / METRES_PER_FT / 25.0).round();
    let (lo, hi) = HEIGHT_RANGE_25FT;
    Some(
        (lsb.is_finite() && lsb >= f64::from(lo) && lsb <= f64::from(hi))
            .then_some(lsb as i16)
            .ok_or(()),
    )
}

/// Appends one CAT048 record (FSPEC and items, no data block header) for
/// `plot` to `out`, or nothing when the plot cannot be reported.
pub fn encode_record(plot: &Plot, config: &Cat048Config, out: &mut Vec<u8>) -> RecordOutcome {
    let (Some(rho), Some(theta)) = (
        range_256th_nm(plot.range_m),
        azimuth_16bit(plot.azimuth_deg),
    ) else {
        return RecordOutcome::Dropped;
    };
    let extended_range = rho > 0xFFFF;
    let cal = cal_mps(plot.radial_velocity_mps);
    let height = height_25ft(plot);

    let mut frns = vec![FRN_010, FRN_140, FRN_020, FRN_040];
    if let Some(Ok(_)) = height {
        frns.push(FRN_110);
    }
    if cal.is_some() {
        frns.push(FRN_120);
    }
    if extended_range {
        frns.push(FRN_RE);
    }
    out.extend_from_slice(&fspec(&frns));

    // I048/010
    out.extend_from_slice(&[config.site.sac, config.site.sic]);
    // I048/140: 24 bits.
    out.extend_from_slice(&time_of_day_128th_s(plot.time_utc).to_be_bytes()[1..]);
    // I048/020: TYP = 1 in bits 8..6, SIM bit 5, RDP/SPI/RAB 0, FX bit 1.
    let mut octet1 = 0b001 << 5;
    if config.simulated {
        octet1 |= 0x10;
    }
    if extended_range {
        // First extension: TST=0, ERR=1 (bit 7), XPP/ME/MI/FOEFRI=0, FX=0.
        out.extend_from_slice(&[octet1 | 0x01, 0x40]);
    } else {
        out.push(octet1);
    }
    // I048/040
    let rho_040 = if extended_range { 0xFFFF } else { rho as u16 };
    out.extend_from_slice(&rho_040.to_be_bytes());
    out.extend_from_slice(&theta.to_be_bytes());
    // I048/110: two spare bits, 14-bit two's complement, LSB 25 ft.
    if let Some(Ok(h)) = height {
        out.extend_from_slice(&((h as u16) & 0x3FFF).to_be_bytes());
    }
    // I048/120: primary subfield CAL present (bit 8), no RDS, FX = 0; then
    // CAL: D = 0 (valid), 5 spare bits, 10-bit two's complement m/s.
    if let Some(v) = cal {
        let cal_bits = (v as u16) & 0x03FF;
        out.push(0x80);
        out.extend_from_slice(&cal_bits.to_be_bytes());
    }
    // RE: LEN (octets, itself included), REF FSPEC (ERR is the fifth
    // subfield: 0x08, no FX in a fixed one-octet FSPEC), ERR 24 bits.
    if extended_range {
        out.extend_from_slice(&[5, 0x08]);
        out.extend_from_slice(&rho.to_be_bytes()[1..]);
    }
    RecordOutcome::Encoded {
        extended_range,
        doppler: cal.is_some(),
        height_omitted: matches!(height, Some(Err(()))),
    }
}

/// Encodes `plots` as CAT048 data blocks appended to `out`, starting a new
/// block whenever the next record would take a block past
/// `max_block_len_bytes` (at most [`super::MAX_DATA_BLOCK_LEN_BYTES`]; a
/// record is at most [`MAX_RECORD_LEN_BYTES`] octets, so smaller limits are
/// raised to that plus the 3-octet header). Returns
/// the offsets where each block starts; no block is written for no records.
pub fn encode_data_blocks(
    plots: &[Plot],
    config: &Cat048Config,
    max_block_len_bytes: usize,
    stats: &mut EncodeStats,
    out: &mut Vec<u8>,
) -> Vec<usize> {
    encode_data_blocks_counted(plots, config, max_block_len_bytes, stats, out)
        .into_iter()
        .map(|b| b.start)
        .collect()
}

/// One data block written by [`encode_data_blocks_counted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockSpan {
    /// Offset of the block's CAT octet in the output.
    pub start: usize,
    /// Records (plots) in the block.
    pub records: u64,
}

/// [`encode_data_blocks`], also saying how many records each block holds
/// (so a sender that loses a block knows how many plots it lost).
pub fn encode_data_blocks_counted(
    plots: &[Plot],
    config: &Cat048Config,
    max_block_len_bytes: usize,
    stats: &mut EncodeStats,
    out: &mut Vec<u8>,
) -> Vec<BlockSpan> {
    let max = max_block_len_bytes.clamp(MAX_RECORD_LEN_BYTES + 3, super::MAX_DATA_BLOCK_LEN_BYTES);
    let mut blocks: Vec<BlockSpan> = Vec::new();
    let mut record = Vec::with_capacity(MAX_RECORD_LEN_BYTES);
    for plot in plots {
        record.clear();
        let outcome = encode_record(plot, config, &mut record);
        stats.count(outcome);
        if record.is_empty() {
            continue;
        }
        let fits = blocks
            .last()
            .is_some_and(|b| out.len() - b.start + record.len() <= max);
        if !fits {
            if let Some(b) = blocks.last() {
                close_data_block(out, b.start);
            }
            blocks.push(BlockSpan {
                start: open_data_block(out, CATEGORY),
                records: 0,
            });
            stats.data_blocks += 1;
        }
        out.extend_from_slice(&record);
        if let Some(b) = blocks.last_mut() {
            b.records += 1;
        }
    }
    if let Some(b) = blocks.last() {
        close_data_block(out, b.start);
    }
    blocks
}

/// The longest record [`encode_record`] writes: FSPEC 4, 010 2, 140 3,
/// 020 2, 040 4, 110 2, 120 3, RE 5.
pub const MAX_RECORD_LEN_BYTES: usize = 25;

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn plot(range_m: f64, azimuth_deg: f64, radial_velocity_mps: f64) -> Plot {
        Plot {
            cpi: 0,
            time_utc: datetime!(2024-03-01 12:00:00.5 UTC),
            range_m,
            radial_velocity_mps,
            azimuth_deg,
            elevation_deg: 0.0,
            snr_db: 20.0,
            range_bin: 0.0,
            doppler_bin: 0.0,
            cells: 1,
            received_at: None,
            ..Plot::default()
        }
    }

    const CONFIG: Cat048Config = Cat048Config {
        site: SiteId {
            sac: 0x12,
            sic: 0x34,
        },
        simulated: true,
    };

    #[test]
    fn measured_height_goes_in_i048_110_and_only_then() {
        // 10 NM, 90 deg, -3 m/s, monopulse elevation, 3048 m = 10 000 ft = 400 LSB.
        let mut p = plot(18_520.0, 90.0, -3.0);
        p.height_m = Some(3048.0);
        let mut beam_only = Vec::new();
        encode_record(&p, &CONFIG, &mut beam_only);
        assert_eq!(beam_only.len(), 16, "no I048/110 for a beam elevation");
        p.angle_source = AngleSource::Monopulse;
        p.elevation_sigma_deg = Some(0.1);
        let mut out = Vec::new();
        let outcome = encode_record(&p, &CONFIG, &mut out);
        assert!(matches!(
            outcome,
            RecordOutcome::Encoded {
                height_omitted: false,
                ..
            }
        ));
        // FSPEC: the third octet holds FRN 15-21 from bit 8; FRN 19 is 0x08, 20 is 0x04.
        assert_eq!(&out[..3], &[0xF1, 0x01, 0x0C]);
        assert_eq!(&out[out.len() - 5..out.len() - 3], &[0x01, 0x90]);
        // Negative: -100 ft = -4 LSB -> 0x3FFC.
        p.height_m = Some(-30.48);
        out.clear();
        encode_record(&p, &CONFIG, &mut out);
        assert_eq!(&out[out.len() - 5..out.len() - 3], &[0x3F, 0xFC]);
        // A ballistic height above the item's range is omitted and counted.
        p.height_m = Some(300_000.0);
        out.clear();
        let outcome = encode_record(&p, &CONFIG, &mut out);
        assert!(matches!(
            outcome,
            RecordOutcome::Encoded {
                height_omitted: true,
                ..
            }
        ));
        assert_eq!(out.len(), 16);
        assert_eq!(out[2], 0x04, "FRN 19 absent");
    }

    #[test]
    fn record_bytes_by_hand() {
        // 10 NM, 90 deg, -3 m/s.
        let mut out = Vec::new();
        let outcome = encode_record(&plot(18_520.0, 90.0, -3.0), &CONFIG, &mut out);
        assert_eq!(
            outcome,
            RecordOutcome::Encoded {
                extended_range: false,
                doppler: true,
                height_omitted: false,
            }
        );
        let tod = 12 * 3600 * 128 + 64;
        let tod = [(tod >> 16) as u8, (tod >> 8) as u8, tod as u8];
        let mut expected = vec![0xF1, 0x01, 0x04, 0x12, 0x34];
        expected.extend_from_slice(&tod);
        expected.extend_from_slice(&[0x30, 0x0A, 0x00, 0x40, 0x00, 0x80, 0x03, 0xFD]);
        assert_eq!(out, expected);
    }

    #[test]
    fn sim_bit_follows_config() {
        let mut out = Vec::new();
        let real = Cat048Config {
            simulated: false,
            ..CONFIG
        };
        encode_record(&plot(1000.0, 0.0, 0.0), &real, &mut out);
        assert_eq!(out[8], 0x20);
    }

    #[test]
    fn rounding_at_lsb_boundaries() {
        let lsb_m = METRES_PER_NM / 256.0;
        assert_eq!(range_256th_nm(0.0), Some(0));
        assert_eq!(range_256th_nm(0.49 * lsb_m), Some(0));
        assert_eq!(range_256th_nm(0.51 * lsb_m), Some(1));
        assert_eq!(range_256th_nm(100.49 * lsb_m), Some(100));
        assert_eq!(range_256th_nm(100.51 * lsb_m), Some(101));
        assert_eq!(range_256th_nm(-1.0), None);
        assert_eq!(range_256th_nm(f64::NAN), None);
        let lsb_deg = 360.0 / 65536.0;
        assert_eq!(azimuth_16bit(0.49 * lsb_deg), Some(0));
        assert_eq!(azimuth_16bit(0.51 * lsb_deg), Some(1));
        assert_eq!(azimuth_16bit(359.9999), Some(0));
        assert_eq!(azimuth_16bit(360.0 - lsb_deg), Some(65535));
        assert_eq!(azimuth_16bit(-90.0), Some(49152));
        assert_eq!(azimuth_16bit(450.0), Some(16384));
        assert_eq!(azimuth_16bit(f64::INFINITY), None);
        assert_eq!(cal_mps(2.49), Some(2));
        assert_eq!(cal_mps(2.5), Some(3));
        assert_eq!(cal_mps(-2.5), Some(-3));
    }

    #[test]
    fn negative_speeds_are_twos_complement() {
        for (v, bits) in [(-1.0, 0x03FF), (-512.0, 0x0200), (511.0, 0x01FF), (0.0, 0)] {
            let mut out = Vec::new();
            encode_record(&plot(1000.0, 0.0, v), &CONFIG, &mut out);
            let n = out.len();
            assert_eq!(out[n - 3], 0x80, "CAL present, no RDS, no FX");
            assert_eq!(
                u16::from_be_bytes([out[n - 2], out[n - 1]]),
                bits,
                "{v} m/s"
            );
        }
    }

    #[test]
    fn speeds_outside_cal_omit_item_120() {
        for v in [-512.6, 511.5, 1500.0, f64::NAN] {
            let mut out = Vec::new();
            let outcome = encode_record(&plot(1000.0, 0.0, v), &CONFIG, &mut out);
            assert_eq!(
                outcome,
                RecordOutcome::Encoded {
                    extended_range: false,
                    doppler: false,
                    height_omitted: false,
                },
                "{v}"
            );
            assert_eq!(out[0], 0xF0, "FSPEC: 010, 140, 020, 040 only");
            assert_eq!(out.len(), 1 + 2 + 3 + 1 + 4);
        }
        assert_eq!(cal_mps(-512.4), Some(-512));
        assert_eq!(cal_mps(511.4), Some(511));
    }

    #[test]
    fn range_boundary_at_256_nm() {
        let nm = METRES_PER_NM;
        // Largest RHO that fits I048/040: no extension, no RE.
        let mut out = Vec::new();
        let o = encode_record(&plot(RHO_MAX_NM * nm, 0.0, 0.0), &CONFIG, &mut out);
        assert_eq!(
            o,
            RecordOutcome::Encoded {
                extended_range: false,
                doppler: true,
                height_omitted: false,
            }
        );
        assert_eq!(&out[..3], &[0xF1, 0x01, 0x04]);
        assert_eq!(out[8], 0x30, "020 without extension");
        assert_eq!(&out[9..11], &[0xFF, 0xFF]);

        // 256 NM exactly: ERR bit, RHO all ones, range in the REF.
        for (range_nm, err_lsb) in [(256.0, 65536u32), (300.0, 76800), (ERR_MAX_NM, 0xFF_FFFF)] {
            let mut out = Vec::new();
            let o = encode_record(&plot(range_nm * nm, 45.0, 0.0), &CONFIG, &mut out);
            assert_eq!(
                o,
                RecordOutcome::Encoded {
                    extended_range: true,
                    doppler: true,
                    height_omitted: false,
                }
            );
            assert_eq!(
                &out[..4],
                &[0xF1, 0x01, 0x05, 0x02],
                "FSPEC with 120 and RE"
            );
            assert_eq!(&out[9..11], &[0x31, 0x40], "020: FX, then ERR");
            assert_eq!(&out[11..13], &[0xFF, 0xFF], "RHO");
            assert_eq!(&out[13..15], &[0x20, 0x00], "THETA 45 deg");
            let re = &out[out.len() - 5..];
            assert_eq!(&re[..2], &[5, 0x08]);
            let err = u32::from_be_bytes([0, re[2], re[3], re[4]]);
            assert_eq!(err, err_lsb, "{range_nm} NM");
        }
        // Half an LSB below 256 NM rounds to 256 NM: extended.
        let mut out = Vec::new();
        let o = encode_record(
            &plot((256.0 - 0.4 / 256.0) * nm, 0.0, 0.0),
            &CONFIG,
            &mut out,
        );
        assert!(matches!(
            o,
            RecordOutcome::Encoded {
                extended_range: true,
                ..
            }
        ));

        // Beyond the ERR item: dropped, nothing written.
        let mut out = Vec::new();
        let o = encode_record(&plot(70_000.0 * nm, 0.0, 0.0), &CONFIG, &mut out);
        assert_eq!(o, RecordOutcome::Dropped);
        assert!(out.is_empty());
    }

    #[test]
    fn data_blocks_split_below_max_len() {
        let plots: Vec<Plot> = (0..10_000)
            .map(|i| plot(1000.0 + f64::from(i), 0.0, 1.0))
            .collect();
        let mut stats = EncodeStats::default();
        let mut out = Vec::new();
        let starts = encode_data_blocks(&plots, &CONFIG, 65535, &mut stats, &mut out);
        // 10 000 records of 16 octets = 160 000 octets: 3 blocks.
        assert_eq!(starts.len(), 3);
        assert_eq!(stats.records, 10_000);
        assert_eq!(stats.data_blocks, 3);
        let mut pos = 0;
        for &start in &starts {
            assert_eq!(start, pos);
            assert_eq!(out[pos], 48);
            let len = usize::from(u16::from_be_bytes([out[pos + 1], out[pos + 2]]));
            assert!(len <= 65535 && len > 3);
            assert_eq!((len - 3) % 16, 0, "whole records only");
            pos += len;
        }
        assert_eq!(pos, out.len());

        // A datagram-sized limit.
        let mut out = Vec::new();
        let starts = encode_data_blocks(&plots[..200], &CONFIG, 1400, &mut stats, &mut out);
        assert_eq!(starts.len(), 200usize.div_ceil((1400 - 3) / 16));
        for w in starts.windows(2) {
            assert!(w[1] - w[0] <= 1400);
        }
    }

    #[test]
    fn no_block_for_no_records() {
        let mut stats = EncodeStats::default();
        let mut out = Vec::new();
        let plots = [plot(f64::NAN, 0.0, 0.0)];
        assert!(encode_data_blocks(&plots, &CONFIG, 65535, &mut stats, &mut out).is_empty());
        assert!(out.is_empty());
        assert_eq!(stats.plots_dropped, 1);
        assert!(encode_data_blocks(&[], &CONFIG, 65535, &mut stats, &mut out).is_empty());
    }
}
