//! ASTERIX decoding helpers shared by the tests that check tews's ASTERIX
//! output with independent decoders (tshark, libasterix); included with
//! `#[path]` by tests/asterix_decoders.rs and tests/asterix_udp.rs.
//!
//! Every expected value comes from the source plot and the unit conversion
//! (1 NM = 1852 m, degrees, UTC seconds since midnight), never from the
//! encoder; each decoded value must lie within half an LSB of it.
#![allow(dead_code)]

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use tews::output::asterix::SiteId;
use tews::plots::Plot;
use time::macros::offset;

pub const NM_M: f64 = 1852.0;
pub const RHO_LSB_NM: f64 = 1.0 / 256.0;
pub const THETA_LSB_DEG: f64 = 360.0 / 65536.0;
pub const TOD_LSB_S: f64 = 1.0 / 128.0;
pub const SITE: SiteId = SiteId { sac: 25, sic: 201 };

/// What a decoder should find for one plot, from the plot alone.
#[derive(Debug)]
pub struct Expected {
    pub tod_s: f64,
    pub range_nm: f64,
    pub azimuth_deg: f64,
    pub v_mps: Option<f64>,
    /// I048/110: the measured height in feet, when it fits the item.
    pub height_ft: Option<f64>,
}

/// A plot for the encoder tests: the fields the ASTERIX items carry, the
/// rest fixed.
pub fn plot(
    cpi: u64,
    time_utc: time::OffsetDateTime,
    range_m: f64,
    azimuth_deg: f64,
    v_mps: f64,
) -> Plot {
    Plot {
        cpi,
        time_utc,
        range_m,
        radial_velocity_mps: v_mps,
        azimuth_deg,
        elevation_deg: 1.0,
        snr_db: 17.0,
        range_bin: 0.0,
        doppler_bin: 0.0,
        cells: 1,
        received_at: None,
        ..Plot::default()
    }
}

/// The plots that can be reported (finite range in [0, 65536) NM, finite
/// azimuth), in order.
pub fn expected(cpis: &[Vec<Plot>]) -> Vec<Expected> {
    cpis.iter()
        .flatten()
        .filter(|p| {
            p.range_m.is_finite()
                && p.range_m >= 0.0
                && p.range_m / NM_M < 65536.0
                && p.azimuth_deg.is_finite()
        })
        .map(|p| {
            let utc = p.time_utc.to_offset(offset!(UTC));
            let midnight = utc.replace_time(time::Time::MIDNIGHT);
            Expected {
                tod_s: (utc - midnight).as_seconds_f64(),
                range_nm: p.range_m / NM_M,
                azimuth_deg: p.azimuth_deg.rem_euclid(360.0),
                v_mps: (p.radial_velocity_mps.is_finite()
                    && (-512.5..511.5).contains(&p.radial_velocity_mps))
                .then_some(p.radial_velocity_mps),
                // A measured (monopulse) elevation and a known site give the
                // height: metres to feet, inside the 14-bit item of 25 ft.
                height_ft: p
                    .height_m
                    .filter(|_| {
                        p.angle_source == tews::plots::AngleSource::Monopulse
                            && p.elevation_sigma_deg.is_some()
                    })
                    .map(|h| h / 0.3048)
                    .filter(|ft| (-8192.5 * 25.0..8191.5 * 25.0).contains(ft)),
            }
        })
        .collect()
}

/// |a - b| on a circle of `period`.
pub fn circular_diff(a: f64, b: f64, period: f64) -> f64 {
    let d = (a - b).rem_euclid(period);
    d.min(period - d)
}

/// One CAT048 record as a decoder reports it.
#[derive(Debug)]
pub struct Decoded {
    pub sac: u64,
    pub sic: u64,
    pub tod_s: f64,
    pub typ: u64,
    pub sim: u64,
    pub rdp_spi_rab: [u64; 3],
    pub err: Option<u64>,
    pub rho_nm: f64,
    pub theta_deg: f64,
    pub cal: Option<(u64, f64)>,
    pub re_present: bool,
    pub ref_err_nm: Option<f64>,
    pub height_ft: Option<f64>,
}

pub fn check_records(decoder: &str, decoded: &[Decoded], expected: &[Expected], simulated: bool) {
    assert_eq!(
        decoded.len(),
        expected.len(),
        "{decoder}: number of CAT048 records"
    );
    let half = 0.5 + 1e-9;
    for (i, (d, e)) in decoded.iter().zip(expected).enumerate() {
        let ctx = format!("{decoder}, record {i}: {d:?} vs {e:?}");
        assert_eq!((d.sac, d.sic), (25, 201), "{ctx}: SAC/SIC");
        assert_eq!(d.typ, 1, "{ctx}: TYP single PSR detection");
        assert_eq!(d.sim, u64::from(simulated), "{ctx}: SIM");
        assert_eq!(d.rdp_spi_rab, [0, 0, 0], "{ctx}: RDP/SPI/RAB");
        assert!(
            circular_diff(d.tod_s, e.tod_s, 86_400.0) <= half * TOD_LSB_S,
            "{ctx}: TOD"
        );
        assert!(d.tod_s < 86_400.0, "{ctx}: TOD below 24 h");
        assert!(
            circular_diff(d.theta_deg, e.azimuth_deg, 360.0) <= half * THETA_LSB_DEG,
            "{ctx}: THETA"
        );
        let extended = (e.range_nm * 256.0).round() >= 65536.0;
        if extended {
            assert_eq!(d.err, Some(1), "{ctx}: ERR bit");
            assert_eq!(d.rho_nm, 65535.0 / 256.0, "{ctx}: RHO all ones");
            assert!(d.re_present, "{ctx}: RE present");
            if let Some(r) = d.ref_err_nm {
                assert!(
                    (r - e.range_nm).abs() <= half * RHO_LSB_NM,
                    "{ctx}: REF ERR"
                );
            }
        } else {
            assert!(d.err.unwrap_or(0) == 0, "{ctx}: ERR bit");
            assert!(!d.re_present, "{ctx}: no RE");
            assert!(
                (d.rho_nm - e.range_nm).abs() <= half * RHO_LSB_NM,
                "{ctx}: RHO"
            );
        }
        match (d.cal, e.v_mps) {
            (Some((dbit, cal)), Some(v)) => {
                assert_eq!(dbit, 0, "{ctx}: D bit valid");
                assert!((cal - v).abs() <= half, "{ctx}: CAL");
            }
            (None, None) => {}
            _ => panic!("{ctx}: I048/120 CAL presence"),
        }
        match (d.height_ft, e.height_ft) {
            (Some(h), Some(want)) => {
                assert!((h - want).abs() <= half * 25.0, "{ctx}: I048/110 height");
            }
            (None, None) => {}
            _ => panic!("{ctx}: I048/110 presence"),
        }
    }
}

/// One CAT034 record as a decoder reports it: SAC, SIC, I034/000, I034/030
/// seconds, I034/020 degrees.
pub type ServiceDecoded = (u64, u64, u64, f64, Option<f64>);

/// Checks decoded CAT034 records against `expected` (message type, time of
/// day in seconds, sector start in degrees), in order.
pub fn check_service(
    decoder: &str,
    decoded: &[ServiceDecoded],
    expected: &[(u64, f64, Option<f64>)],
) {
    assert_eq!(decoded.len(), expected.len(), "{decoder}: CAT034 records");
    for (i, (d, e)) in decoded.iter().zip(expected).enumerate() {
        let ctx = format!("{decoder}, CAT034 record {i}: {d:?} vs {e:?}");
        assert_eq!(
            (d.0, d.1),
            (u64::from(SITE.sac), u64::from(SITE.sic)),
            "{ctx}: SAC/SIC"
        );
        assert_eq!(d.2, e.0, "{ctx}: I034/000");
        assert!(
            circular_diff(d.3, e.1, 86_400.0) <= 0.5 * TOD_LSB_S + 1e-9,
            "{ctx}: I034/030"
        );
        match (d.4, e.2) {
            (Some(s), Some(x)) => assert!(
                circular_diff(s, x, 360.0) <= 0.5 * 360.0 / 256.0 + 1e-9,
                "{ctx}: I034/020"
            ),
            (None, None) => {}
            _ => panic!("{ctx}: I034/020 presence"),
        }
    }
}

// ---------------------------------------------------------------------------
// libasterix

pub fn decode_with_libasterix(py: &Path, file: &Path) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/decode_asterix.py");
    let out = Command::new(py).arg(script).arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "decode_asterix.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

pub fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

pub fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

pub fn libasterix_records(records: &[Value]) -> Vec<Decoded> {
    records
        .iter()
        .filter(|r| r["cat"] == 48)
        .map(|r| {
            assert_eq!(r["rds"], false, "no RDS");
            assert_eq!(r["i130"], false, "no I048/130");
            Decoded {
                sac: u(r, "sac"),
                sic: u(r, "sic"),
                tod_s: f(r, "tod_s"),
                typ: u(r, "typ"),
                sim: u(r, "sim"),
                rdp_spi_rab: [u(r, "rdp"), u(r, "spi"), u(r, "rab")],
                err: r["err"].as_u64(),
                rho_nm: f(r, "rho_nm"),
                theta_deg: f(r, "theta_deg"),
                cal: r["cal_mps"].as_f64().map(|c| (u(r, "cal_d"), c)),
                re_present: !r["ref_err_nm"].is_null(),
                ref_err_nm: r["ref_err_nm"].as_f64(),
                height_ft: r["height_ft"].as_f64(),
            }
        })
        .collect()
}

/// The CAT034 records of a libasterix decode.
pub fn libasterix_service(records: &[Value]) -> Vec<ServiceDecoded> {
    records
        .iter()
        .filter(|r| r["cat"] == 34)
        .map(|r| {
            (
                u(r, "sac"),
                u(r, "sic"),
                u(r, "msg_type"),
                f(r, "tod_s"),
                r["sector_deg"].as_f64(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// tshark

/// A classic pcap file: one Ethernet/IPv4/UDP frame to port 8600 per payload.
pub fn pcap_udp_8600(payloads: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    // Global header: magic, version 2.4, zone, sigfigs, snaplen, Ethernet.
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    for word in [0u32, 0, 65_535, 1] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    for (k, payload) in payloads.iter().enumerate() {
        let udp_len = 8 + payload.len();
        let ip_len = 20 + udp_len;
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&(ip_len as u16).to_be_bytes());
        ip.extend_from_slice(&(k as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
        let mut sum: u32 = ip
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        while sum > 0xFFFF {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&1000u16.to_be_bytes());
        frame.extend_from_slice(&8600u16.to_be_bytes());
        frame.extend_from_slice(&(udp_len as u16).to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(payload);
        for word in [k as u32, 0, frame.len() as u32, frame.len() as u32] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&frame);
    }
    out
}

pub fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `v` as a list: tshark's `--no-duplicate-keys` turns repeated keys into
/// arrays and leaves single ones as they are.
pub fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => vec![],
        other => vec![other],
    }
}

pub fn ts_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    list(&v[key]).first().and_then(|x| x.as_str())
}

pub fn ts_u(v: &Value, key: &str) -> u64 {
    let s = ts_str(v, key).unwrap_or_else(|| panic!("{key} missing in {v}"));
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
        None => s.parse().unwrap(),
    }
}

pub fn ts_f(v: &Value, key: &str) -> f64 {
    ts_str(v, key)
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
        .parse()
        .unwrap()
}

/// Decodes `pcap` with tshark: the number of packets, the CAT048 records
/// and the CAT034 records, in order. Fails on anything tshark flags.
pub fn tshark_decode(pcap: &Path) -> (usize, Vec<Decoded>, Vec<ServiceDecoded>) {
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(pcap)
        .args(["-T", "json", "--no-duplicate-keys", "-O", "asterix"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let packets: Value = serde_json::from_slice(&out.stdout).unwrap();
    let packets = packets.as_array().unwrap();

    let mut decoded = Vec::new();
    let mut service = Vec::new();
    for packet in packets {
        let layers = &packet["_source"]["layers"];
        let text = layers.to_string();
        assert!(
            !text.contains("_ws.expert") && !text.contains("_ws.malformed"),
            "tshark flagged a problem: {text}"
        );
        for block in list(&layers["asterix"]) {
            let cat = ts_u(block, "asterix.category");
            for m in list(&block["asterix.message"]) {
                if cat == 34 {
                    let i010 = &m["asterix.034_010"];
                    service.push((
                        ts_u(i010, "asterix.034_010_SAC"),
                        ts_u(i010, "asterix.034_010_SIC"),
                        ts_u(&m["asterix.034_000"], "asterix.034_000_VALUE"),
                        ts_f(&m["asterix.034_030"], "asterix.034_030_VALUE"),
                        ts_str(&m["asterix.034_020"], "asterix.034_020_VALUE")
                            .map(|s| s.parse().unwrap()),
                    ));
                    continue;
                }
                assert_eq!(cat, 48);
                assert!(m.get("asterix.048_130").is_none(), "no I048/130");
                let i010 = &m["asterix.048_010"];
                let i020 = &m["asterix.048_020"];
                let i040 = &m["asterix.048_040"];
                let i120 = &m["asterix.048_120"];
                assert!(i120.get("asterix.048_120_RDS").is_none(), "no RDS");
                let cal = &i120["asterix.048_120_CAL"];
                decoded.push(Decoded {
                    sac: ts_u(i010, "asterix.048_010_SAC"),
                    sic: ts_u(i010, "asterix.048_010_SIC"),
                    tod_s: ts_f(&m["asterix.048_140"], "asterix.048_140_VALUE"),
                    typ: ts_u(i020, "asterix.048_020_TYP"),
                    sim: ts_u(i020, "asterix.048_020_SIM"),
                    rdp_spi_rab: [
                        ts_u(i020, "asterix.048_020_RDP"),
                        ts_u(i020, "asterix.048_020_SPI"),
                        ts_u(i020, "asterix.048_020_RAB"),
                    ],
                    err: ts_str(i020, "asterix.048_020_ERR").map(|s| s.parse().unwrap()),
                    rho_nm: ts_f(i040, "asterix.048_040_RHO"),
                    theta_deg: ts_f(i040, "asterix.048_040_THETA"),
                    cal: ts_str(cal, "asterix.048_120_CAL_CAL")
                        .map(|s| (ts_u(cal, "asterix.048_120_CAL_D"), s.parse().unwrap())),
                    // tshark shows the RE field but does not decode it.
                    re_present: m.get("asterix.048_RE").is_some(),
                    ref_err_nm: None,
                    height_ft: m
                        .get("asterix.048_110")
                        .map(|i110| ts_f(i110, "asterix.048_110_3DH")),
                });
            }
        }
    }
    (packets.len(), decoded, service)
}
