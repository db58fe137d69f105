//! CAT062 (SDPS track messages), edition 1.21, for tews's tracks
//! (formats.md §6; the CAT062 paragraph of §7).
//!
//! Items, in UAP order (EUROCONTROL CAT062 ed. 1.21):
//!
//! | FRN | item | content |
//! | --- | --- | --- |
//! | 1 | I062/010 | SAC, SIC from [`SiteId`] |
//! | 3 | I062/015 | service identification: always [`SERVICE_ID`] |
//! | 4 | I062/070 | UTC time of day of [`TrackReport::time_utc`] (the time of the state), LSB 1/128 s |
//! | 5 | I062/105 | latitude, longitude (WGS-84), 32-bit two's complement each, LSB 180/2^25 deg |
//! | 7 | I062/185 | velocity east (VX) and north (VY), 16-bit two's complement each, LSB 0.25 m/s |
//! | 12 | I062/040 | track number, 16 bits |
//! | 13 | I062/080 | track status, five octets (below) |
//! | 18 | I062/130 | height above the WGS-84 ellipsoid, 16-bit two's complement, LSB 6.25 ft |
//! | 20 | I062/220 | rate of climb (+) / descent (-), 16-bit two's complement, LSB 6.25 ft/min |
//! | 27 | I062/500 | estimated accuracies: subfields APC, APW, AGA, ATV, ARC (below) |
//!
//! Every value is rounded to the nearest LSB (half away from zero). A value
//! that does not fit its item (or subfield) after rounding, or is not
//! finite, is never clipped or wrapped: the item (or subfield) is omitted and
//! counted in [`EncodeStats62`]. The item ranges are those of the edition's
//! definitions: I062/185 -8192 ..= 8191.75 m/s per component (both
//! components go or neither), I062/130 -1 500 ..= 150 000 ft (about -457 m
//! ..= 45.72 km: a ballistic object above it goes without I062/130),
//! I062/220 -204 800 ..= 204 793.75 ft/min (about +/-1 040 m/s).
//!
//! # Position and velocity
//!
//! I062/105 carries [`TrackReport::latitude_deg`] and
//! [`TrackReport::longitude_deg`] (the item's range is -90 ..= 90 deg and
//! -180 .. 180 deg; a longitude is taken modulo 360 deg, so 180 E goes out as
//! 180 W, the same meridian). A record whose position is not finite, or whose
//! latitude is outside +/-90 deg, is not encoded (the position is the track
//! message) and is counted in [`EncodeStats62::position_unreportable`].
//!
//! I062/185 and I062/220 are the ECEF velocity in the local east-north-up
//! frame at the track's own position ([`LocalFrame`] at its latitude,
//! longitude and height): the item's y axis "points to the Geographical North
//! at the location of the target". VX is east, VY north, I062/220 up.
//!
//! # Track number
//!
//! tews numbers its tracks 1, 2, ... within a run (tentative ones too) in 64
//! bits; I062/040 has 16. A report of a track numbered above 65535 is not
//! encoded at all (a track message without its number, or with the number
//! taken modulo 65536, would be another track to the receiver) and is
//! counted in [`EncodeStats62::track_number_too_large`]: a run that starts
//! more than 65535 tracks stops reporting its newer ones in CAT062 (they
//! still go to the JSON lines and the warnings).
//!
//! # I062/080 track status
//!
//! Always five octets (FX set on the first four). Bits set, and why:
//! - MON = 1: a monosensor track (one radar).
//! - SPI = 0: a primary radar has no SPI.
//! - MRH = 1: geometric altitude is the more reliable (tews has no
//!   barometric altitude at all).
//! - SRC = 2 (3D radar) when I062/130 is sent: the height comes from the
//!   radar's range, azimuth and elevation; SRC = 0 (no source) when I062/130
//!   is omitted.
//! - CNF = 1 for a track not (yet) confirmed: a tentative track, and the last
//!   report of one dropped before confirmation (see [`Lifecycle`]); CNF = 0
//!   for a confirmed or coasting track.
//! - SIM = 1 when [`Cat062Config::simulated`].
//! - TSE = 1 on a dropped track's report: its last message.
//! - TSB = 1 on the first message of a track to this output (see
//!   [`Lifecycle`]; [`encode_record`] alone cannot know it and leaves it 0).
//! - CST = 1 and PSR = 1 when coasting: the state is a prediction, no plot
//!   (and so no PSR update) on this look. A dropped track's last report
//!   leaves both 0: it does not say whether the last look updated it, and
//!   TSE ends the track anyway.
//! - SDS = 2: non-cooperative sources only (primary radar).
//! - Every other bit 0: FPC, AFF, STP, AMA, MD4, ME, MI, MD5, SSR, MDS, ADS,
//!   SUC, AAC, EMS, PFT, FPLT concern flight plans, SSR, Mode S, ADS-B or
//!   IFF that tews does not have; KOS = 0 is that bit's default (the
//!   edition's note 3: a default for a technology the system does not
//!   support is meaningless).
//!
//! # I062/500 estimated accuracies
//!
//! A [`TrackReport`] carries only the square roots of the traces of its
//! position and velocity covariances (3 x 3 each, ECEF). The trace is the
//! same in any rotated frame (ENU), so it is split evenly over the three
//! axes: a per-axis standard deviation `s = sigma / sqrt(3)`, exact for an
//! isotropic error and the RMS of the three axes otherwise (a radar's error
//! is larger across the beam than along it: the worst axis can be up to
//! `sigma`, `sqrt(3)` times `s`).
//! - APC X, Y (LSB 0.5 m, 16 bits unsigned): `s` east and north.
//! - APW LAT, LON (LSB 180/2^25 deg, 16 bits unsigned): `s` as degrees of
//!   latitude, `s / (M + h)`, and of longitude, `s / ((N + h) cos(lat))`
//!   (M, N: the WGS-84 meridian and prime vertical radii of curvature at the
//!   track): the accuracy of I062/105 itself. Near a pole the longitude
//!   accuracy outgrows the subfield and APW is omitted.
//! - AGA (LSB 6.25 ft, 8 bits): `s` vertical, only with I062/130.
//! - ATV X, Y (LSB 0.25 m/s, 8 bits): `s_v = velocity_sigma / sqrt(3)` east
//!   and north.
//! - ARC (LSB 6.25 ft/min, 8 bits): `s_v` vertical, only with I062/220.
//!
//! A subfield whose value does not fit is omitted and counted (the
//! edition's notes read the largest value as "maximum value or above"; tews
//! omits rather than send a floor for the true value). COV (the XY
//! covariance), ABA (barometric) and AA (acceleration) are not sent: the
//! report does not hold them. With no subfield left, I062/500 is omitted.
//!
//! # Left out on purpose
//!
//! - I062/100 (Cartesian position): needs the system's stereographic plane,
//!   which tews does not define; I062/105 carries the position.
//! - I062/135 (barometric altitude) and I062/136 (measured flight level):
//!   both are pressure (Mode C) altitudes; a primary radar measures none.
//! - I062/290 (update ages): the report does not say when the track started
//!   or was last updated.
//! - [`TrackReport::ballistic`] and [`TrackReport::plots`]: no CAT062 item
//!   holds them (and no item holds an impact point: warnings are JSON lines
//!   and CAP only, formats.md §7).
//!
//! Edition check: tshark 4.0 decodes CAT062 as edition 1.19, whose layouts
//! of the items above are those of 1.21 (1.21 adds bits to the sixth and a
//! seventh octet of I062/080, which tews does not send).

use std::collections::HashMap;

use nalgebra::Vector3;

use super::{
    MAX_DATA_BLOCK_LEN_BYTES, SiteId, close_data_block, fspec, open_data_block, time_of_day_128th_s,
};
use crate::geo::{Geodetic, LocalFrame, WGS84_A_M, WGS84_E2};
use crate::track::{TrackReport, TrackStatus};

/// The ASTERIX category.
pub const CATEGORY: u8 = 62;

/// The CAT062 edition this encoder follows.
pub const EDITION: &str = "1.21";

/// I062/015: the one service tews provides, its radar's tracks. Sites tell
/// their feeds apart by SAC/SIC (I062/010).
pub const SERVICE_ID: u8 = 1;

/// Metres per international foot.
pub const METRES_PER_FT: f64 = 0.3048;

/// I062/105 LSB, degrees.
pub const WGS84_LSB_DEG: f64 = 180.0 / 33_554_432.0;

/// I062/185 and I062/500 ATV LSB, m/s.
pub const VELOCITY_LSB_MPS: f64 = 0.25;

/// I062/130 and I062/500 AGA LSB, ft.
pub const ALTITUDE_LSB_FT: f64 = 6.25;

/// I062/220 and I062/500 ARC LSB, ft/min.
pub const RATE_OF_CLIMB_LSB_FT_MIN: f64 = 6.25;

/// I062/500 APC LSB, m.
pub const APC_LSB_M: f64 = 0.5;

/// I062/130's range in LSBs: -1 500 ft ..= 150 000 ft.
pub const ALTITUDE_RANGE_LSB: (i32, i32) = (-240, 24_000);

/// The longest record [`encode_record`] writes: FSPEC 4, 010 2, 015 1,
/// 070 3, 105 8, 185 4, 040 2, 080 5, 130 2, 220 2, 500 14 (FSPEC 2, APC 4,
/// APW 4, AGA 1, ATV 2, ARC 1).
pub const MAX_RECORD_LEN_BYTES: usize = 47;

const FRN_010: u8 = 1;
const FRN_015: u8 = 3;
const FRN_070: u8 = 4;
const FRN_105: u8 = 5;
const FRN_185: u8 = 7;
const FRN_040: u8 = 12;
const FRN_080: u8 = 13;
const FRN_130: u8 = 18;
const FRN_220: u8 = 20;
const FRN_500: u8 = 27;

/// I062/500 subfield numbers.
const SF_APC: u8 = 1;
const SF_APW: u8 = 3;
const SF_AGA: u8 = 4;
const SF_ATV: u8 = 6;
const SF_ARC: u8 = 8;

/// What the encoder needs besides the reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cat062Config {
    /// I062/010.
    pub site: SiteId,
    /// True when the tracks come from simulated input: sets I062/080 SIM.
    pub simulated: bool,
}

/// Counts over many reports, for logs and the run summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeStats62 {
    /// Records encoded.
    pub records: u64,
    /// Reports not encoded: track number above 65535.
    pub track_number_too_large: u64,
    /// Reports not encoded: position not finite or latitude beyond +/-90 deg.
    pub position_unreportable: u64,
    /// Records sent without I062/185 (a component outside +/-8192 m/s or not finite).
    pub velocity_omitted: u64,
    /// Records sent without I062/220 (vertical speed outside about
    /// +/-1 040 m/s or not finite).
    pub rate_of_climb_omitted: u64,
    /// Records sent without I062/130 (height outside -1 500 ..= 150 000 ft
    /// or not finite).
    pub altitude_omitted: u64,
    /// Records without the I062/500 APC subfield (per-axis position sigma
    /// above 32 767.5 m or not finite).
    pub apc_omitted: u64,
    /// Records without APW (latitude or longitude sigma above 65535 LSB).
    pub apw_omitted: u64,
    /// Records with I062/130 but without AGA (vertical sigma above 1 593.75 ft).
    pub aga_omitted: u64,
    /// Records without ATV (per-axis velocity sigma above 63.75 m/s).
    pub atv_omitted: u64,
    /// Records with I062/220 but without ARC (vertical speed sigma above
    /// 1 593.75 ft/min).
    pub arc_omitted: u64,
}

/// Where a track is in its life as seen by one output: what a single report
/// does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    /// The first message of this track to this output: I062/080 TSB.
    pub first: bool,
    /// The track has been confirmed (now or before): I062/080 CNF = 0.
    pub confirmed: bool,
}

impl Lifecycle {
    /// What one report alone says: never first; confirmed unless tentative
    /// (a dropped track is taken as confirmed, since the report does not say
    /// whether it ever was).
    pub fn from_report(report: &TrackReport) -> Self {
        Lifecycle {
            first: false,
            confirmed: report.status != TrackStatus::Tentative,
        }
    }
}

/// The [`Lifecycle`] of every live track of one output, from the reports in
/// the order they are sent. A track is forgotten at its dropped report.
#[derive(Debug, Clone, Default)]
pub struct TrackLife {
    /// Live track number -> confirmed so far.
    confirmed: HashMap<u64, bool>,
}

impl TrackLife {
    /// The lifecycle of `report`'s track at this report; call once per
    /// report, in order.
    pub fn observe(&mut self, report: &TrackReport) -> Lifecycle {
        let first = !self.confirmed.contains_key(&report.track);
        let entry = self.confirmed.entry(report.track).or_insert(false);
        if matches!(
            report.status,
            TrackStatus::Confirmed | TrackStatus::Coasting
        ) {
            *entry = true;
        }
        let life = Lifecycle {
            first,
            confirmed: *entry,
        };
        if report.status == TrackStatus::Dropped {
            self.confirmed.remove(&report.track);
        }
        life
    }

    /// Tracks seen and not yet dropped.
    pub fn live(&self) -> usize {
        self.confirmed.len()
    }
}

/// I062/105: latitude and longitude in LSBs of 180/2^25 deg, or `None` when
/// not finite or the latitude is beyond +/-90 deg. The longitude is taken
/// modulo 360 deg into -180 .. 180 deg.
pub fn wgs84_position(latitude_deg: f64, longitude_deg: f64) -> Option<(i32, i32)> {
    const HALF_TURN: i64 = 1 << 25;
    let lat = (latitude_deg / WGS84_LSB_DEG).round();
    let lon = (longitude_deg / WGS84_LSB_DEG).round();
    if !(lat.is_finite() && lon.is_finite() && lat.abs() <= (HALF_TURN / 2) as f64) {
        return None;
    }
    let lon = ((lon as i64) + HALF_TURN).rem_euclid(2 * HALF_TURN) - HALF_TURN;
    Some((lat as i32, lon as i32))
}

/// `value / lsb` rounded, if finite and within `lo ..= hi`.
fn quantise(value: f64, lsb: f64, lo: i64, hi: i64) -> Option<i64> {
    let q = (value / lsb).round();
    (q.is_finite() && q >= lo as f64 && q <= hi as f64).then_some(q as i64)
}

/// The velocity in the east-north-up frame at the track's position, m/s.
pub fn velocity_enu_mps(report: &TrackReport) -> Vector3<f64> {
    let frame = LocalFrame::new(Geodetic {
        latitude_deg: report.latitude_deg,
        longitude_deg: report.longitude_deg,
        height_m: report.height_m,
    });
    frame.rotate_to_enu(&Vector3::from(report.velocity_ecef_mps))
}

/// I062/185: east and north velocity in LSBs of 0.25 m/s, or `None` when
/// either is outside -8192 ..= 8191.75 m/s or not finite.
pub fn velocity_lsb(east_mps: f64, north_mps: f64) -> Option<(i16, i16)> {
    let q = |v| quantise(v, VELOCITY_LSB_MPS, -32_768, 32_767).map(|x| x as i16);
    Some((q(east_mps)?, q(north_mps)?))
}

/// I062/220: vertical speed in LSBs of 6.25 ft/min, or `None` outside the
/// 16-bit item or not finite.
pub fn rate_of_climb_lsb(up_mps: f64) -> Option<i16> {
    quantise(
        up_mps / METRES_PER_FT * 60.0,
        RATE_OF_CLIMB_LSB_FT_MIN,
        -32_768,
        32_767,
    )
    .map(|x| x as i16)
}

/// I062/130: height above the ellipsoid in LSBs of 6.25 ft, or `None`
/// outside -1 500 ..= 150 000 ft or not finite.
pub fn altitude_lsb(height_m: f64) -> Option<i16> {
    let (lo, hi) = ALTITUDE_RANGE_LSB;
    quantise(
        height_m / METRES_PER_FT,
        ALTITUDE_LSB_FT,
        i64::from(lo),
        i64::from(hi),
    )
    .map(|x| x as i16)
}

/// A non-negative standard deviation in LSBs of `lsb`, if it fits `max`.
fn sigma_lsb(sigma: f64, lsb: f64, max: i64) -> Option<u16> {
    if sigma < 0.0 {
        return None;
    }
    quantise(sigma, lsb, 0, max).map(|x| x as u16)
}

/// I062/500 APW: a per-axis horizontal standard deviation `s_m` (metres) at
/// `latitude_deg`, `height_m` as (latitude, longitude) standard deviations
/// in LSBs of 180/2^25 deg, or `None` when either exceeds 16 bits.
pub fn apw_lsb(s_m: f64, latitude_deg: f64, height_m: f64) -> Option<(u16, u16)> {
    let (sl, cl) = latitude_deg.to_radians().sin_cos();
    let w = (1.0 - WGS84_E2 * sl * sl).sqrt();
    let n = WGS84_A_M / w;
    let m = WGS84_A_M * (1.0 - WGS84_E2) / (w * w * w);
    let lat_deg = (s_m / (m + height_m)).to_degrees();
    let lon_deg = (s_m / ((n + height_m) * cl.abs())).to_degrees();
    Some((
        sigma_lsb(lat_deg, WGS84_LSB_DEG, 0xFFFF)?,
        sigma_lsb(lon_deg, WGS84_LSB_DEG, 0xFFFF)?,
    ))
}

/// I062/080 as sent: five octets (see the module docs).
pub fn track_status(
    report: &TrackReport,
    life: Lifecycle,
    simulated: bool,
    altitude_sent: bool,
) -> [u8; 5] {
    const MON: u8 = 0x80;
    const MRH: u8 = 0x20;
    const SRC_3D_RADAR: u8 = 2 << 2;
    const CNF: u8 = 0x02;
    const FX: u8 = 0x01;
    const SIM: u8 = 0x80;
    const TSE: u8 = 0x40;
    const TSB: u8 = 0x20;
    const CST: u8 = 0x80;
    const PSR: u8 = 0x40;
    const SDS_NON_COOPERATIVE: u8 = 2 << 6;

    let mut o1 = MON | MRH | FX;
    if altitude_sent {
        o1 |= SRC_3D_RADAR;
    }
    if !life.confirmed {
        o1 |= CNF;
    }
    let mut o2 = FX;
    if simulated {
        o2 |= SIM;
    }
    if report.status == TrackStatus::Dropped {
        o2 |= TSE;
    }
    if life.first {
        o2 |= TSB;
    }
    let mut o4 = FX;
    if report.status == TrackStatus::Coasting {
        o4 |= CST | PSR;
    }
    [o1, o2, FX, o4, SDS_NON_COOPERATIVE]
}

/// One CAT062 record (FSPEC and items, no data block header) for `report`,
/// with the [`Lifecycle`] a single report implies ([`Lifecycle::from_report`]:
/// no TSB). Empty when the report cannot be encoded (see the module docs);
/// omissions are counted in `stats`.
pub fn encode_record(
    report: &TrackReport,
    config: &Cat062Config,
    stats: &mut EncodeStats62,
) -> Vec<u8> {
    encode_record_with(report, config, Lifecycle::from_report(report), stats)
}

/// [`encode_record`] with the track's [`Lifecycle`] as an output has seen it
/// ([`TrackLife::observe`]): sets TSB and CNF from it.
pub fn encode_record_with(
    report: &TrackReport,
    config: &Cat062Config,
    life: Lifecycle,
    stats: &mut EncodeStats62,
) -> Vec<u8> {
    let Ok(track_number) = u16::try_from(report.track) else {
        stats.track_number_too_large += 1;
        return Vec::new();
    };
    let Some((lat, lon)) = wgs84_position(report.latitude_deg, report.longitude_deg) else {
        stats.position_unreportable += 1;
        return Vec::new();
    };
    let enu = velocity_enu_mps(report);
    let velocity = velocity_lsb(enu.x, enu.y);
    let rate_of_climb = rate_of_climb_lsb(enu.z);
    let altitude = altitude_lsb(report.height_m);
    stats.velocity_omitted += u64::from(velocity.is_none());
    stats.rate_of_climb_omitted += u64::from(rate_of_climb.is_none());
    stats.altitude_omitted += u64::from(altitude.is_none());

    // I062/500 subfields.
    let s_pos = report.position_sigma_m / 3f64.sqrt();
    let s_vel = report.velocity_sigma_mps / 3f64.sqrt();
    let apc = sigma_lsb(s_pos, APC_LSB_M, 0xFFFF);
    let apw = apw_lsb(s_pos, report.latitude_deg, report.height_m);
    let aga =
        altitude.map(|_| sigma_lsb(s_pos / METRES_PER_FT, ALTITUDE_LSB_FT, 0xFF).map(|x| x as u8));
    let atv = sigma_lsb(s_vel, VELOCITY_LSB_MPS, 0xFF).map(|x| x as u8);
    let arc = rate_of_climb.map(|_| {
        sigma_lsb(s_vel / METRES_PER_FT * 60.0, RATE_OF_CLIMB_LSB_FT_MIN, 0xFF).map(|x| x as u8)
    });
    stats.apc_omitted += u64::from(apc.is_none());
    stats.apw_omitted += u64::from(apw.is_none());
    stats.aga_omitted += u64::from(aga == Some(None));
    stats.atv_omitted += u64::from(atv.is_none());
    stats.arc_omitted += u64::from(arc == Some(None));
    let (aga, arc) = (aga.flatten(), arc.flatten());
    let mut accuracies = Vec::with_capacity(14);
    let mut subfields = Vec::with_capacity(5);
    if let Some(x) = apc {
        subfields.push(SF_APC);
        accuracies.extend_from_slice(&x.to_be_bytes());
        accuracies.extend_from_slice(&x.to_be_bytes());
    }
    if let Some((la, lo)) = apw {
        subfields.push(SF_APW);
        accuracies.extend_from_slice(&la.to_be_bytes());
        accuracies.extend_from_slice(&lo.to_be_bytes());
    }
    if let Some(x) = aga {
        subfields.push(SF_AGA);
        accuracies.push(x);
    }
    if let Some(x) = atv {
        subfields.push(SF_ATV);
        accuracies.extend_from_slice(&[x, x]);
    }
    if let Some(x) = arc {
        subfields.push(SF_ARC);
        accuracies.push(x);
    }

    let mut frns = vec![FRN_010, FRN_015, FRN_070, FRN_105];
    if velocity.is_some() {
        frns.push(FRN_185);
    }
    frns.extend_from_slice(&[FRN_040, FRN_080]);
    if altitude.is_some() {
        frns.push(FRN_130);
    }
    if rate_of_climb.is_some() {
        frns.push(FRN_220);
    }
    if !subfields.is_empty() {
        frns.push(FRN_500);
    }

    let mut out = Vec::with_capacity(MAX_RECORD_LEN_BYTES);
    out.extend_from_slice(&fspec(&frns));
    // I062/010
    out.extend_from_slice(&[config.site.sac, config.site.sic]);
    // I062/015
    out.push(SERVICE_ID);
    // I062/070: 24 bits.
    out.extend_from_slice(&time_of_day_128th_s(report.time_utc).to_be_bytes()[1..]);
    // I062/105
    out.extend_from_slice(&lat.to_be_bytes());
    out.extend_from_slice(&lon.to_be_bytes());
    // I062/185
    if let Some((vx, vy)) = velocity {
        out.extend_from_slice(&vx.to_be_bytes());
        out.extend_from_slice(&vy.to_be_bytes());
    }
    // I062/040
    out.extend_from_slice(&track_number.to_be_bytes());
    // I062/080
    out.extend_from_slice(&track_status(
        report,
        life,
        config.simulated,
        altitude.is_some(),
    ));
    // I062/130
    if let Some(a) = altitude {
        out.extend_from_slice(&a.to_be_bytes());
    }
    // I062/220
    if let Some(r) = rate_of_climb {
        out.extend_from_slice(&r.to_be_bytes());
    }
    // I062/500: compound FSPEC (same FX rule as the record's), subfields.
    if !subfields.is_empty() {
        out.extend_from_slice(&fspec(&subfields));
        out.extend_from_slice(&accuracies);
    }
    debug_assert!(out.len() <= MAX_RECORD_LEN_BYTES);
    stats.records += 1;
    out
}

/// Packs `records` (from [`encode_record`]; empty ones are skipped) into
/// CAT062 data blocks in order, starting a new block whenever the next
/// record would take a block past `max_block_len` octets (CAT and LEN
/// included; clamped to [`MAX_RECORD_LEN_BYTES`] + 3 ..=
/// [`MAX_DATA_BLOCK_LEN_BYTES`]). No block for no records.
pub fn data_blocks(records: &[Vec<u8>], max_block_len: usize) -> Vec<Vec<u8>> {
    let max = max_block_len.clamp(MAX_RECORD_LEN_BYTES + 3, MAX_DATA_BLOCK_LEN_BYTES);
    let mut blocks = Vec::new();
    let mut block = Vec::new();
    for record in records.iter().filter(|r| !r.is_empty()) {
        if !block.is_empty() && block.len() + record.len() > max {
            close_data_block(&mut block, 0);
            blocks.push(std::mem::take(&mut block));
        }
        if block.is_empty() {
            open_data_block(&mut block, CATEGORY);
        }
        block.extend_from_slice(record);
    }
    if !block.is_empty() {
        close_data_block(&mut block, 0);
        blocks.push(block);
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const CONFIG: Cat062Config = Cat062Config {
        site: SiteId {
            sac: 0x12,
            sic: 0x34,
        },
        simulated: true,
    };

    /// A report at `lat`, `lon`, `h` with the ENU velocity `v_enu`.
    fn report(
        track: u64,
        status: TrackStatus,
        lat: f64,
        lon: f64,
        h: f64,
        v_enu: [f64; 3],
    ) -> TrackReport {
        let g = Geodetic {
            latitude_deg: lat,
            longitude_deg: lon,
            height_m: h,
        };
        let p = g.to_ecef();
        let v = LocalFrame::new(g).rotate_to_ecef(&Vector3::from(v_enu));
        TrackReport {
            track,
            status,
            time_utc: datetime!(2024-03-01 12:00:00.5 UTC),
            position_ecef_m: [p.x, p.y, p.z],
            velocity_ecef_mps: [v.x, v.y, v.z],
            latitude_deg: lat,
            longitude_deg: lon,
            height_m: h,
            position_sigma_m: 0.0,
            velocity_sigma_mps: 0.0,
            plots: 5,
            ballistic: false,
        }
    }

    /// At the equator and prime meridian, 0 deg: east = ECEF y, north = z, up = x.
    fn equator(track: u64, status: TrackStatus) -> TrackReport {
        report(track, status, 0.0, 0.0, 0.0, [0.0; 3])
    }

    #[test]
    fn whole_record_by_hand() {
        // 45 deg N, 90 deg W, 3048 m (10 000 ft), 100 m/s east, -50 north,
        // +5.08 up (1 000 ft/min); sigmas sqrt(3) * 10 m and sqrt(3) * 1 m/s.
        let mut r = report(
            0x0102,
            TrackStatus::Confirmed,
            45.0,
            -90.0,
            3048.0,
            [100.0, -50.0, 5.08],
        );
        r.position_sigma_m = 3f64.sqrt() * 10.0;
        r.velocity_sigma_mps = 3f64.sqrt();
        let mut stats = EncodeStats62::default();
        let out = encode_record(&r, &CONFIG, &mut stats);
        let tod = 12 * 3600 * 128 + 64; // 0x546040
        // 45 deg = 2^23 LSB; -90 deg = -2^24 LSB.
        let mut expected = vec![
            0xBB,
            0x0D,
            0x15,
            0x04, // FSPEC: 010 015 070 105 185 | 040 080 | 130 220 | 500
            0x12,
            0x34, // 010
            0x01, // 015
            (tod >> 16) as u8,
            (tod >> 8) as u8,
            tod as u8, // 070
            0x00,
            0x80,
            0x00,
            0x00,
            0xFF,
            0x00,
            0x00,
            0x00, // 105
            0x01,
            0x90,
            0xFF,
            0x38, // 185: 400, -200 LSB
            0x01,
            0x02, // 040
            0xA9,
            0x81,
            0x01,
            0x01,
            0x80, // 080: MON MRH SRC=2 | SIM | - | - | SDS=2
            0x06,
            0x40, // 130: 1600 LSB
            0x00,
            0xA0, // 220: 160 LSB
        ];
        // 500: FSPEC APC, APW, AGA, ATV | ARC.
        expected.extend_from_slice(&[0xB5, 0x80]);
        expected.extend_from_slice(&[0x00, 0x14, 0x00, 0x14]); // APC 20 LSB = 10 m
        let apw = apw_lsb(10.0, 45.0, 3048.0).unwrap();
        expected.extend_from_slice(&apw.0.to_be_bytes());
        expected.extend_from_slice(&apw.1.to_be_bytes());
        // AGA 10 m = 32.8 ft = 5.25 LSB -> 5; ATV 1 m/s = 4 LSB;
        // ARC 196.85 ft/min = 31.5 LSB -> 31 (31.496).
        expected.extend_from_slice(&[5, 4, 4, 31]);
        assert_eq!(out, expected);
        assert_eq!(out.len(), MAX_RECORD_LEN_BYTES);
        assert_eq!(
            stats,
            EncodeStats62 {
                records: 1,
                ..EncodeStats62::default()
            }
        );
        // APW by hand: M(45 deg) = 6 367 381.8 m, N = 6 388 838.3 m;
        // 10 m / (M + h) = 8.994e-5 deg = 16.77 LSB; over (N + h) cos 45 deg:
        // 1.2683e-4 deg = 23.64 LSB.
        assert_eq!(apw, (17, 24));
    }

    #[test]
    fn time_and_source_items() {
        let mut stats = EncodeStats62::default();
        let mut r = equator(7, TrackStatus::Confirmed);
        r.time_utc = datetime!(2024-03-01 00:00:01 UTC);
        let out = encode_record(&r, &CONFIG, &mut stats);
        // FSPEC 4 octets (500 present: APC/ATV of a zero sigma).
        assert_eq!(&out[4..10], &[0x12, 0x34, 0x01, 0x00, 0x00, 0x80]);
        let real = Cat062Config {
            simulated: false,
            ..CONFIG
        };
        let out = encode_record(&r, &real, &mut stats);
        let i080 = 4 + 2 + 1 + 3 + 8 + 4 + 2;
        assert_eq!(&out[i080..i080 + 5], &[0xA9, 0x01, 0x01, 0x01, 0x80]);
    }

    #[test]
    fn position_lsbs_and_longitude_modulo() {
        assert_eq!(wgs84_position(0.0, 0.0), Some((0, 0)));
        assert_eq!(wgs84_position(90.0, 0.0), Some((1 << 24, 0)));
        assert_eq!(wgs84_position(-90.0, 0.0), Some((-(1 << 24), 0)));
        assert_eq!(wgs84_position(90.0 + WGS84_LSB_DEG, 0.0), None);
        // Half an LSB: away from zero; just under: down.
        assert_eq!(wgs84_position(0.5 * WGS84_LSB_DEG, 0.0), Some((1, 0)));
        assert_eq!(
            wgs84_position(0.49 * WGS84_LSB_DEG, -0.51 * WGS84_LSB_DEG),
            Some((0, -1))
        );
        // 180 E is 180 W; 179.99999... rounding to 180 too.
        assert_eq!(wgs84_position(0.0, 180.0), Some((0, -(1 << 25))));
        assert_eq!(wgs84_position(0.0, -180.0), Some((0, -(1 << 25))));
        assert_eq!(
            wgs84_position(0.0, 180.0 - 0.4 * WGS84_LSB_DEG),
            Some((0, -(1 << 25)))
        );
        assert_eq!(
            wgs84_position(0.0, 180.0 - WGS84_LSB_DEG),
            Some((0, (1 << 25) - 1))
        );
        assert_eq!(wgs84_position(0.0, 270.0), Some((0, -(1 << 24))));
        assert_eq!(wgs84_position(f64::NAN, 0.0), None);
        assert_eq!(wgs84_position(0.0, f64::INFINITY), None);
        // Bytes: 52.5 deg N, 13.25 deg E.
        let (lat, lon) = wgs84_position(52.5, 13.25).unwrap();
        assert_eq!(lat, 9_786_709); // 52.5 * 2^25 / 180 = 9 786 709.33
        assert_eq!(lon, 2_469_979); // 13.25 * 2^25 / 180 = 2 469 979.02
        assert_eq!(lat.to_be_bytes(), [0x00, 0x95, 0x55, 0x55]);
    }

    #[test]
    fn unreportable_positions_and_track_numbers_give_no_record() {
        let mut stats = EncodeStats62::default();
        let mut r = equator(65_536, TrackStatus::Confirmed);
        assert!(encode_record(&r, &CONFIG, &mut stats).is_empty());
        r.track = 65_535;
        let out = encode_record(&r, &CONFIG, &mut stats);
        let i040 = 4 + 2 + 1 + 3 + 8 + 4;
        assert_eq!(&out[i040..i040 + 2], &[0xFF, 0xFF]);
        r.latitude_deg = f64::NAN;
        assert!(encode_record(&r, &CONFIG, &mut stats).is_empty());
        assert_eq!(stats.track_number_too_large, 1);
        assert_eq!(stats.position_unreportable, 1);
        assert_eq!(stats.records, 1);
    }

    #[test]
    fn velocity_is_east_north_at_the_track() {
        let mut stats = EncodeStats62::default();
        // At the equator on the prime meridian: ECEF y is east, z north.
        let mut r = equator(1, TrackStatus::Confirmed);
        r.velocity_ecef_mps = [0.0, -1.0, 2.5];
        let v = velocity_enu_mps(&r);
        assert!((v - Vector3::new(-1.0, 2.5, 0.0)).norm() < 1e-12);
        let out = encode_record(&r, &CONFIG, &mut stats);
        assert_eq!(&out[18..22], &[0xFF, 0xFC, 0x00, 0x0A]);
        // At 90 deg E: ECEF -x is east.
        r.longitude_deg = 90.0;
        r.velocity_ecef_mps = [-3.0, 0.0, 0.0];
        let v = velocity_enu_mps(&r);
        assert!((v - Vector3::new(3.0, 0.0, 0.0)).norm() < 1e-12);
        // Limits: -8192 and 8191.75 fit; 8191.875 rounds to 32768 LSB: omitted.
        assert_eq!(velocity_lsb(-8192.0, 8191.75), Some((-32_768, 32_767)));
        assert_eq!(velocity_lsb(8191.8, 0.0), Some((32_767, 0)));
        assert_eq!(velocity_lsb(8191.875, 0.0), None);
        assert_eq!(velocity_lsb(0.0, -8192.125), None);
        assert_eq!(velocity_lsb(f64::NAN, 0.0), None);
        assert_eq!(velocity_lsb(0.125, -0.125), Some((1, -1)));
    }

    #[test]
    fn fast_velocity_omits_i062_185_and_counts() {
        let mut stats = EncodeStats62::default();
        let r = report(
            1,
            TrackStatus::Confirmed,
            10.0,
            20.0,
            100.0,
            [9000.0, 0.0, 0.0],
        );
        let out = encode_record(&r, &CONFIG, &mut stats);
        assert_eq!(out[0], 0xB9, "FRN 7 absent");
        assert_eq!(stats.velocity_omitted, 1);
        assert_eq!(
            out[4 + 2 + 1 + 3 + 8..][..2],
            [0x00, 0x01],
            "040 follows 105"
        );
    }

    #[test]
    fn altitude_range_is_the_items_not_the_bits() {
        // 150 000 ft = 45 720 m: the last value; one LSB more is omitted.
        assert_eq!(altitude_lsb(45_720.0), Some(24_000));
        assert_eq!(altitude_lsb((150_000.0 + 6.25) * METRES_PER_FT), None);
        assert_eq!(
            altitude_lsb((150_000.0 + 3.0) * METRES_PER_FT),
            Some(24_000)
        );
        assert_eq!(altitude_lsb(-1_500.0 * METRES_PER_FT), Some(-240));
        assert_eq!(altitude_lsb(-1_510.0 * METRES_PER_FT), None);
        assert_eq!(altitude_lsb(f64::NAN), None);
        assert_eq!(altitude_lsb(-100.0 * METRES_PER_FT), Some(-16));
        assert_eq!((-16i16).to_be_bytes(), [0xFF, 0xF0]);

        // A ballistic object at 40 km has I062/130 and SRC = 2; at 120 km
        // neither, and no AGA.
        let mut stats = EncodeStats62::default();
        let mut r = report(3, TrackStatus::Confirmed, 30.0, 40.0, 40_000.0, [0.0; 3]);
        r.position_sigma_m = 100.0;
        let out = encode_record(&r, &CONFIG, &mut stats);
        assert_eq!(out[2] & 0x10, 0x10, "FRN 18");
        let i080 = 4 + 2 + 1 + 3 + 8 + 4 + 2;
        assert_eq!(out[i080], 0xA9);
        // 40 000 m = 131 233.6 ft = 20 997.4 LSB -> 20 997 = 0x5205.
        assert_eq!(&out[i080 + 5..i080 + 7], &[0x52, 0x05]);
        r.height_m = 120_000.0;
        let out = encode_record(&r, &CONFIG, &mut stats);
        assert_eq!(out[2] & 0x10, 0, "FRN 18 absent");
        assert_eq!(out[i080], 0xA1, "SRC = 0");
        assert_eq!(stats.altitude_omitted, 1);
        assert_eq!(stats.aga_omitted, 0, "AGA is not counted without I062/130");
        // 500 FSPEC: APC, APW, ATV (no AGA) | ARC.
        let i500 = i080 + 5 + 2;
        assert_eq!(&out[i500..i500 + 2], &[0xA5, 0x80]);
    }

    #[test]
    fn rate_of_climb_lsbs() {
        // 6.25 ft/min = 0.03175 m/s.
        assert_eq!(rate_of_climb_lsb(0.03175), Some(1));
        assert_eq!(rate_of_climb_lsb(-0.03175), Some(-1));
        assert_eq!(rate_of_climb_lsb(-5.08), Some(-160));
        // 32767 LSB = 204 793.75 ft/min = 1040.35 m/s.
        // 1040 m/s = 204 724.4 ft/min = 32 755.9 LSB.
        assert_eq!(rate_of_climb_lsb(1040.0), Some(32_756));
        assert_eq!(rate_of_climb_lsb(1040.4), None);
        // -1040.3 m/s = -32 765.35 LSB; -1041 m/s = -32 787.4 LSB.
        assert_eq!(rate_of_climb_lsb(-1040.3), Some(-32_765));
        assert_eq!(rate_of_climb_lsb(-1041.0), None);
        assert_eq!(rate_of_climb_lsb(f64::NAN), None);
    }

    #[test]
    fn accuracies_split_and_omitted_subfields() {
        let mut stats = EncodeStats62::default();
        let mut r = report(
            1,
            TrackStatus::Confirmed,
            0.0,
            0.0,
            1000.0,
            [10.0, 0.0, 0.0],
        );
        // s = 60 000 / sqrt(3) = 34 641 m: no APC (> 32 767.5 m), APW fits
        // (0.311 deg = 58 057 LSB), AGA does not (113 652 ft).
        r.position_sigma_m = 60_000.0;
        // s_v = 120 / sqrt(3) = 69.3 m/s: no ATV (> 63.75), no ARC.
        r.velocity_sigma_mps = 120.0;
        let out = encode_record(&r, &CONFIG, &mut stats);
        let i500 = 4 + 2 + 1 + 3 + 8 + 4 + 2 + 5 + 2 + 2;
        assert_eq!(out[i500], 0x20, "APW only");
        assert_eq!(out.len(), i500 + 1 + 4);
        assert_eq!(
            (
                stats.apc_omitted,
                stats.apw_omitted,
                stats.aga_omitted,
                stats.atv_omitted,
                stats.arc_omitted
            ),
            (1, 0, 1, 1, 1)
        );
        // Nothing fits: no I062/500 at all.
        r.position_sigma_m = f64::INFINITY;
        r.velocity_sigma_mps = f64::NAN;
        let out = encode_record(&r, &CONFIG, &mut stats);
        assert_eq!(
            &out[..3],
            &[0xBB, 0x0D, 0x14],
            "FSPEC: FRN 27 absent, 3 octets"
        );
        assert_eq!(out.len(), i500 - 1);
        // Near a pole the longitude accuracy outgrows APW.
        r.latitude_deg = 89.99;
        r.position_sigma_m = 100.0;
        r.velocity_sigma_mps = 1.0;
        let before = stats.apw_omitted;
        let out = encode_record(&r, &CONFIG, &mut stats);
        assert_eq!(stats.apw_omitted, before + 1);
        // APC, AGA, ATV | ARC: s = 57.7 m = 115 LSB, 189.4 ft = 30 LSB;
        // s_v = 0.577 m/s = 2 LSB, 113.6 ft/min = 18 LSB.
        assert_eq!(
            &out[i500..],
            &[0x95, 0x80, 0x00, 115, 0x00, 115, 30, 2, 2, 18]
        );
        // Largest APC: 65535 LSB = 32 767.5 m per axis.
        assert_eq!(sigma_lsb(32_767.5, APC_LSB_M, 0xFFFF), Some(0xFFFF));
        assert_eq!(sigma_lsb(32_767.8, APC_LSB_M, 0xFFFF), None);
        assert_eq!(sigma_lsb(-1.0, APC_LSB_M, 0xFFFF), None);
    }

    #[test]
    fn status_bits_for_each_state() {
        let status = |s, first, confirmed| {
            let r = equator(1, s);
            track_status(&r, Lifecycle { first, confirmed }, false, true)
        };
        use TrackStatus::*;
        // Tentative, first: CNF, TSB.
        assert_eq!(
            status(Tentative, true, false),
            [0xAB, 0x21, 0x01, 0x01, 0x80]
        );
        assert_eq!(
            status(Confirmed, false, true),
            [0xA9, 0x01, 0x01, 0x01, 0x80]
        );
        // Coasting: CST, PSR.
        assert_eq!(
            status(Coasting, false, true),
            [0xA9, 0x01, 0x01, 0xC1, 0x80]
        );
        // Dropped: TSE; CNF after the lifecycle.
        assert_eq!(status(Dropped, false, true), [0xA9, 0x41, 0x01, 0x01, 0x80]);
        assert_eq!(
            status(Dropped, false, false),
            [0xAB, 0x41, 0x01, 0x01, 0x80]
        );
        // No altitude: SRC 0; simulated: SIM.
        let r = equator(1, Confirmed);
        let life = Lifecycle::from_report(&r);
        assert_eq!(
            track_status(&r, life, true, false),
            [0xA1, 0x81, 0x01, 0x01, 0x80]
        );
        assert!(!Lifecycle::from_report(&equator(1, Tentative)).confirmed);
    }

    #[test]
    fn track_life_follows_each_track() {
        use TrackStatus::*;
        let mut life = TrackLife::default();
        let seq = [
            (1, Tentative, true, false),
            (2, Tentative, true, false),
            (1, Tentative, false, false),
            (1, Confirmed, false, true),
            (2, Dropped, false, false),
            (1, Coasting, false, true),
            (1, Dropped, false, true),
            // A number seen again after its drop is a new track.
            (1, Tentative, true, false),
        ];
        for (k, (id, s, first, confirmed)) in seq.into_iter().enumerate() {
            assert_eq!(
                life.observe(&equator(id, s)),
                Lifecycle { first, confirmed },
                "step {k}"
            );
        }
        assert_eq!(life.live(), 1);
    }

    #[test]
    fn data_blocks_split_below_max_len() {
        let mut stats = EncodeStats62::default();
        let records: Vec<Vec<u8>> = (0..3000)
            .map(|i| encode_record(&equator(i, TrackStatus::Confirmed), &CONFIG, &mut stats))
            .collect();
        let len = records[1].len();
        assert!(records[0].len() == len && records[2999].len() == len);
        let blocks = data_blocks(&records, 65_535);
        let per_block = (65_535 - 3) / len;
        assert_eq!(blocks.len(), 3000usize.div_ceil(per_block));
        let mut total = 0;
        for b in &blocks {
            assert_eq!(b[0], 62);
            assert_eq!(usize::from(u16::from_be_bytes([b[1], b[2]])), b.len());
            assert!(b.len() <= 65_535);
            assert_eq!((b.len() - 3) % len, 0, "whole records only");
            total += (b.len() - 3) / len;
        }
        assert_eq!(total, 3000);
        let concatenated: Vec<u8> = blocks.iter().flat_map(|b| b[3..].to_vec()).collect();
        assert_eq!(concatenated, records.concat());

        // A datagram-sized limit; a tiny one is raised to one record.
        let blocks = data_blocks(&records[..100], 1400);
        assert_eq!(blocks.len(), 100usize.div_ceil((1400 - 3) / len));
        assert!(blocks.iter().all(|b| b.len() <= 1400));
        let blocks = data_blocks(&records[..3], 1);
        assert_eq!(blocks.len(), 3);
        assert!(data_blocks(&[], 1400).is_empty());
        assert!(data_blocks(&[Vec::new()], 1400).is_empty());
    }
}
