//! ASTERIX CAT062 track output checked by two independent decoders, field
//! by field: Wireshark's dissector (tshark, UDP port 8600, which decodes
//! CAT062 as edition 1.19: the same layouts for every item tews sends) and
//! libasterix (Python, edition 1.21; tests/py/decode_cat062.py).
//!
//! The reports are built by hand from a geodetic position and an
//! east-north-up velocity (converted to ECEF here, with the formulas written
//! out, not with tews::geo); every expected value comes from those and the
//! unit conversions (1 ft = 0.3048 m, UTC seconds since midnight, sigma /
//! sqrt(3) per axis), never from the encoder, and each decoded value must
//! lie within half an LSB of it.

#[path = "common/asterix.rs"]
mod asterix_check;
mod common;

use asterix_check::{list, pcap_udp_8600, ts_f, ts_str, ts_u, tshark_available};

use serde_json::Value;
use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tews::output::asterix::cat062::Cat062Config;
use tews::output::asterix::track_sinks::{Cat062FileSink, Cat062UdpSink};
use tews::output::asterix::{SiteId, UdpTarget};
use tews::output::situation::SituationSink;
use tews::track::{TrackReport, TrackStatus};
use time::macros::{datetime, offset};

const SITE: SiteId = SiteId { sac: 25, sic: 201 };
const FT_M: f64 = 0.3048;
const LSB_DEG: f64 = 180.0 / 33_554_432.0;
const HALF: f64 = 0.5 + 1e-6;
const A_M: f64 = 6_378_137.0;
const F: f64 = 1.0 / 298.257_223_563;

/// What the lifecycle should put in I062/080 for one report.
#[derive(Debug, Clone, Copy)]
struct Flags {
    tsb: bool,
    cnf: bool,
    tse: bool,
    cst: bool,
}

/// One report and what it was made from.
#[derive(Debug, Clone)]
struct Case {
    report: TrackReport,
    v_enu: [f64; 3],
    flags: Flags,
}

fn e2() -> f64 {
    F * (2.0 - F)
}

/// ECEF position and the rotation ENU -> ECEF (columns east, north, up).
fn ecef(lat_deg: f64, lon_deg: f64, h: f64) -> ([f64; 3], [[f64; 3]; 3]) {
    let (sl, cl) = lat_deg.to_radians().sin_cos();
    let (so, co) = lon_deg.to_radians().sin_cos();
    let n = A_M / (1.0 - e2() * sl * sl).sqrt();
    let p = [
        (n + h) * cl * co,
        (n + h) * cl * so,
        (n * (1.0 - e2()) + h) * sl,
    ];
    let east = [-so, co, 0.0];
    let north = [-sl * co, -sl * so, cl];
    let up = [cl * co, cl * so, sl];
    (p, [east, north, up])
}

fn case(
    track: u64,
    status: TrackStatus,
    look: u8,
    (lat, lon, h): (f64, f64, f64),
    v_enu: [f64; 3],
    (position_sigma_m, velocity_sigma_mps): (f64, f64),
    (tsb, cnf): (bool, bool),
) -> Case {
    let (p, [e, n, u]) = ecef(lat, lon, h);
    let v: [f64; 3] = std::array::from_fn(|i| v_enu[0] * e[i] + v_enu[1] * n[i] + v_enu[2] * u[i]);
    let time_utc =
        datetime!(2025-07-01 12:34:56.789 UTC) + Duration::from_millis(1500 * u64::from(look));
    Case {
        report: TrackReport {
            track,
            status,
            time_utc,
            position_ecef_m: p,
            velocity_ecef_mps: v,
            latitude_deg: lat,
            longitude_deg: lon,
            height_m: h,
            position_sigma_m,
            velocity_sigma_mps,
            plots: 4,
            ballistic: h > 30_000.0,
        },
        v_enu,
        flags: Flags {
            tsb,
            cnf,
            tse: status == TrackStatus::Dropped,
            cst: status == TrackStatus::Coasting,
        },
    }
}

/// Two looks: tentative, confirmed, coasting and dropped tracks (one dropped
/// before confirmation), ballistic ones at 40 km and 120 km, one too fast
/// for I062/185, one near the pole (no APW), the largest track number and
/// one above it (not encoded).
fn looks() -> Vec<Vec<Case>> {
    use TrackStatus::*;
    vec![
        vec![
            case(
                1,
                Tentative,
                0,
                (52.1, 4.3, 3000.0),
                [120.0, -45.0, 2.0],
                (150.0, 8.0),
                (true, true),
            ),
            case(
                5,
                Tentative,
                0,
                (51.0, 3.0, 1500.0),
                [60.0, 10.0, 0.0],
                (400.0, 20.0),
                (true, true),
            ),
            case(
                2,
                Confirmed,
                0,
                (-33.9, -70.6, 12_000.0),
                [-250.0, 300.0, -10.0],
                (60.0, 3.0),
                (true, false),
            ),
            case(
                3,
                Confirmed,
                0,
                (0.0, 179.999_999, 500.0),
                [0.0, 200.0, 0.0],
                (30.0, 1.0),
                (true, false),
            ),
            case(
                4,
                Confirmed,
                0,
                (60.0, 25.0, 8000.0),
                [-100.0, -100.0, 20.0],
                (80.0, 2.0),
                (true, false),
            ),
        ],
        vec![
            case(
                1,
                Confirmed,
                1,
                (52.101, 4.302, 3003.0),
                [121.0, -44.0, 2.0],
                (120.0, 6.0),
                (false, false),
            ),
            case(
                5,
                Dropped,
                1,
                (51.001, 3.001, 1500.0),
                [60.0, 10.0, 0.0],
                (500.0, 25.0),
                (false, true),
            ),
            case(
                2,
                Confirmed,
                1,
                (-33.903, -70.603, 11_985.0),
                [-250.0, 300.0, -10.0],
                (55.0, 3.0),
                (false, false),
            ),
            case(
                3,
                Coasting,
                1,
                (0.002_7, -179.999_999, 500.0),
                [0.0, 200.0, 0.0],
                (45.0, 1.5),
                (false, false),
            ),
            case(
                4,
                Dropped,
                1,
                (59.998, 24.997, 8030.0),
                [-100.0, -100.0, 20.0],
                (120.0, 3.0),
                (false, false),
            ),
            case(
                6,
                Confirmed,
                1,
                (35.0, 45.0, 40_000.0),
                [1500.0, 800.0, -1200.0],
                (900.0, 30.0),
                (true, false),
            ),
            case(
                7,
                Confirmed,
                1,
                (36.0, 46.0, 120_000.0),
                [3000.0, -2000.0, 900.0],
                (2000.0, 50.0),
                (true, false),
            ),
            case(
                8,
                Confirmed,
                1,
                (10.0, 100.0, 300_000.0),
                [9000.0, 100.0, -50.0],
                (3000.0, 40.0),
                (true, false),
            ),
            case(
                70_000,
                Confirmed,
                1,
                (20.0, 20.0, 1000.0),
                [10.0, 10.0, 0.0],
                (50.0, 1.0),
                (true, false),
            ),
            case(
                9,
                Confirmed,
                1,
                (89.99, 10.0, 9000.0),
                [50.0, 0.0, 0.0],
                (100.0, 1.0),
                (true, false),
            ),
            case(
                65_535,
                Confirmed,
                1,
                (-10.0, -170.0, 2000.0),
                [-5.0, 5.0, 0.5],
                (20.0, 0.5),
                (true, false),
            ),
        ],
    ]
}

/// Expected record values, from the case alone.
#[derive(Debug)]
struct Expected {
    track: u64,
    tod_s: f64,
    lat: f64,
    lon: f64,
    velocity: Option<(f64, f64)>,
    alt_ft: Option<f64>,
    roc_ft_min: Option<f64>,
    apc_m: Option<f64>,
    apw_deg: Option<(f64, f64)>,
    aga_ft: Option<f64>,
    atv_mps: Option<f64>,
    arc_ft_min: Option<f64>,
    flags: Flags,
}

fn expected(c: &Case) -> Option<Expected> {
    let r = &c.report;
    if r.track > 65_535 {
        return None;
    }
    let utc = r.time_utc.to_offset(offset!(UTC));
    let midnight = utc.replace_time(time::Time::MIDNIGHT);
    let [e, n, u] = c.v_enu;
    let fits = |v: f64| (-8192.0..=8191.75).contains(&v);
    let alt_ft = Some(r.height_m / FT_M).filter(|ft| (-1500.0..=150_000.0).contains(ft));
    let roc = Some(u / FT_M * 60.0).filter(|x| x.abs() <= 32_767.0 * 6.25);
    let s = r.position_sigma_m / 3f64.sqrt();
    let sv = r.velocity_sigma_mps / 3f64.sqrt();
    let (sl, cl) = r.latitude_deg.to_radians().sin_cos();
    let w = (1.0 - e2() * sl * sl).sqrt();
    let apw = (
        (s / (A_M * (1.0 - e2()) / w.powi(3) + r.height_m)).to_degrees(),
        (s / ((A_M / w + r.height_m) * cl)).to_degrees(),
    );
    Some(Expected {
        track: r.track,
        tod_s: (utc - midnight).as_seconds_f64(),
        lat: r.latitude_deg,
        lon: r.longitude_deg,
        velocity: (fits(e) && fits(n)).then_some((e, n)),
        alt_ft,
        roc_ft_min: roc,
        apc_m: Some(s).filter(|s| *s <= 32_767.5),
        apw_deg: Some(apw).filter(|(a, b)| a.max(*b) <= 65_535.0 * LSB_DEG),
        aga_ft: alt_ft.and(Some(s / FT_M)).filter(|x| *x <= 255.0 * 6.25),
        atv_mps: Some(sv).filter(|x| *x <= 255.0 * 0.25),
        arc_ft_min: roc
            .and(Some(sv / FT_M * 60.0))
            .filter(|x| *x <= 255.0 * 6.25),
        flags: c.flags,
    })
}

/// One record as a decoder reports it.
#[derive(Debug)]
struct Decoded {
    items: BTreeSet<String>,
    sac: u64,
    sic: u64,
    service: u64,
    tod_s: f64,
    lat: f64,
    lon: f64,
    velocity: Option<(f64, f64)>,
    track: u64,
    /// I062/080 bits by name; absent names were not in the octets sent.
    status: Vec<(String, u64)>,
    alt_ft: Option<f64>,
    roc_ft_min: Option<f64>,
    i500: BTreeSet<String>,
    apc: Option<(f64, f64)>,
    apw: Option<(f64, f64)>,
    aga_ft: Option<f64>,
    atv: Option<(f64, f64)>,
    arc_ft_min: Option<f64>,
}

fn close(decoder: &str, what: &str, got: f64, want: f64, lsb: f64) {
    assert!(
        (got - want).abs() <= HALF * lsb,
        "{decoder}: {what} {got} vs {want} (LSB {lsb})"
    );
}

fn close_opt<T: Copy + std::fmt::Debug>(
    decoder: &str,
    what: &str,
    got: Option<T>,
    want: Option<T>,
    check: impl Fn(T, T),
) {
    match (got, want) {
        (Some(g), Some(w)) => check(g, w),
        (None, None) => {}
        _ => panic!("{decoder}: {what} presence: got {got:?}, want {want:?}"),
    }
}

fn check(decoder: &str, decoded: &[Decoded], cases: &[Case], simulated: bool) {
    let expected: Vec<Expected> = cases.iter().filter_map(expected).collect();
    assert_eq!(
        decoded.len(),
        expected.len(),
        "{decoder}: number of records"
    );
    for (d, e) in decoded.iter().zip(&expected) {
        let ctx = format!("{decoder}, track {}", e.track);
        let ctx = ctx.as_str();
        assert_eq!(d.track, e.track, "{ctx}: I062/040");
        assert_eq!((d.sac, d.sic), (25, 201), "{ctx}: I062/010");
        assert_eq!(d.service, 1, "{ctx}: I062/015");
        close(ctx, "I062/070", d.tod_s, e.tod_s, 1.0 / 128.0);
        close(ctx, "LAT", d.lat, e.lat, LSB_DEG);
        let dlon = (d.lon - e.lon).rem_euclid(360.0);
        close(ctx, "LON", dlon.min(360.0 - dlon), 0.0, LSB_DEG);
        assert!((-180.0..180.0).contains(&d.lon), "{ctx}: LON {}", d.lon);
        close_opt(ctx, "I062/185", d.velocity, e.velocity, |g, w| {
            close(ctx, "VX", g.0, w.0, 0.25);
            close(ctx, "VY", g.1, w.1, 0.25);
        });
        close_opt(ctx, "I062/130", d.alt_ft, e.alt_ft, |g, w| {
            close(ctx, "I062/130", g, w, 6.25)
        });
        close_opt(ctx, "I062/220", d.roc_ft_min, e.roc_ft_min, |g, w| {
            close(ctx, "I062/220", g, w, 6.25)
        });
        let mut items: BTreeSet<String> = ["010", "015", "040", "070", "080", "105"]
            .map(String::from)
            .into();
        let mut i500 = BTreeSet::new();
        for (present, name) in [
            (e.velocity.is_some(), "185"),
            (e.alt_ft.is_some(), "130"),
            (e.roc_ft_min.is_some(), "220"),
        ] {
            if present {
                items.insert(name.to_string());
            }
        }
        for (present, name) in [
            (e.apc_m.is_some(), "APC"),
            (e.apw_deg.is_some(), "APW"),
            (e.aga_ft.is_some(), "AGA"),
            (e.atv_mps.is_some(), "ATV"),
            (e.arc_ft_min.is_some(), "ARC"),
        ] {
            if present {
                i500.insert(name.to_string());
            }
        }
        if !i500.is_empty() {
            items.insert("500".into());
        }
        assert_eq!(d.items, items, "{ctx}: items present");
        assert_eq!(d.i500, i500, "{ctx}: I062/500 subfields");
        close_opt(ctx, "APC", d.apc, e.apc_m.map(|s| (s, s)), |g, w| {
            close(ctx, "APC X", g.0, w.0, 0.5);
            close(ctx, "APC Y", g.1, w.1, 0.5);
        });
        close_opt(ctx, "APW", d.apw, e.apw_deg, |g, w| {
            close(ctx, "APW LAT", g.0, w.0, LSB_DEG);
            close(ctx, "APW LON", g.1, w.1, LSB_DEG);
        });
        close_opt(ctx, "AGA", d.aga_ft, e.aga_ft, |g, w| {
            close(ctx, "AGA", g, w, 6.25)
        });
        close_opt(ctx, "ATV", d.atv, e.atv_mps.map(|s| (s, s)), |g, w| {
            close(ctx, "ATV X", g.0, w.0, 0.25);
            close(ctx, "ATV Y", g.1, w.1, 0.25);
        });
        close_opt(ctx, "ARC", d.arc_ft_min, e.arc_ft_min, |g, w| {
            close(ctx, "ARC", g, w, 6.25)
        });

        // I062/080: five octets; every bit not listed here is 0.
        let f = e.flags;
        let want = [
            ("MON", 1),
            ("MRH", 1),
            ("SRC", if e.alt_ft.is_some() { 2 } else { 0 }),
            ("CNF", u64::from(f.cnf)),
            ("SIM", u64::from(simulated)),
            ("TSE", u64::from(f.tse)),
            ("TSB", u64::from(f.tsb)),
            ("CST", u64::from(f.cst)),
            ("PSR", u64::from(f.cst)),
            ("SDS", 2),
        ];
        let names: BTreeSet<&str> = d.status.iter().map(|(n, _)| n.as_str()).collect();
        for bit in [
            "MON", "CNF", "SIM", "TSB", "KOS", "MD5", "CST", "AAC", "SDS", "FPLT",
        ] {
            assert!(
                names.contains(bit),
                "{ctx}: I062/080 {bit} missing: {:?}",
                d.status
            );
        }
        for bit in ["DUPT", "SFC", "MLAT", "M5I"] {
            assert!(!names.contains(bit), "{ctx}: I062/080 sixth octet sent");
        }
        for (name, value) in &d.status {
            let w = want.iter().find(|(n, _)| n == name).map_or(0, |(_, v)| *v);
            assert_eq!(*value, w, "{ctx}: I062/080 {name}");
        }
    }
}

// ---------------------------------------------------------------------------
// libasterix

fn decode_with_libasterix(py: &Path, file: &Path) -> Vec<Decoded> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/decode_cat062.py");
    let out = Command::new(py).arg(script).arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "decode_cat062.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = |r: &Value, k: &str| r[k].as_f64();
    let names = |v: &Value| -> BTreeSet<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    let pair = |r: &Value, a: &str, b: &str| f(r, a).zip(f(r, b));
    records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Decoded {
            items: names(&r["items"]),
            sac: r["sac"].as_u64().unwrap(),
            sic: r["sic"].as_u64().unwrap(),
            service: r["service"].as_u64().unwrap(),
            tod_s: f(r, "tod_s").unwrap(),
            lat: f(r, "lat_deg").unwrap(),
            lon: f(r, "lon_deg").unwrap(),
            velocity: pair(r, "vx_mps", "vy_mps"),
            track: r["track"].as_u64().unwrap(),
            status: r["status"]
                .as_object()
                .unwrap()
                .iter()
                .filter_map(|(k, v)| v.as_u64().map(|v| (k.clone(), v)))
                .collect(),
            alt_ft: f(r, "alt_ft"),
            roc_ft_min: f(r, "roc_ft_min"),
            i500: names(&r["i500"]),
            apc: pair(r, "apc_x_m", "apc_y_m"),
            apw: pair(r, "apw_lat_deg", "apw_lon_deg"),
            aga_ft: f(r, "aga_ft"),
            atv: pair(r, "atv_x_mps", "atv_y_mps"),
            arc_ft_min: f(r, "arc_ft_min"),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// tshark

const ITEMS: [&str; 10] = [
    "010", "015", "070", "105", "185", "040", "080", "130", "220", "500",
];
const SUBFIELDS: [&str; 5] = ["APC", "APW", "AGA", "ATV", "ARC"];

/// Decodes one datagram per payload with tshark (port 8600).
fn decode_with_tshark(dir: &Path, payloads: &[&[u8]]) -> Vec<Decoded> {
    let pcap = dir.join("cat062.pcap");
    std::fs::write(&pcap, pcap_udp_8600(payloads)).unwrap();
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .args(["-d", "udp.port==8600,asterix"])
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
    assert_eq!(packets.len(), payloads.len());
    let mut decoded = Vec::new();
    for packet in packets {
        let layers = &packet["_source"]["layers"];
        let text = layers.to_string();
        assert!(
            !text.contains("_ws.expert") && !text.contains("_ws.malformed"),
            "tshark flagged a problem: {text}"
        );
        for block in list(&layers["asterix"]) {
            assert_eq!(ts_u(block, "asterix.category"), 62);
            for m in list(&block["asterix.message"]) {
                let item = |name: &str| m.get(format!("asterix.062_{name}"));
                let items: BTreeSet<String> = m
                    .as_object()
                    .unwrap()
                    .keys()
                    .filter_map(|k| k.strip_prefix("asterix.062_"))
                    .map(String::from)
                    .collect();
                assert!(
                    items.iter().all(|i| ITEMS.contains(&i.as_str())),
                    "unexpected item in {items:?}"
                );
                let i500 = item("500");
                let sub = |name: &str| i500.and_then(|v| v.get(format!("asterix.062_500_{name}")));
                let i500_names: BTreeSet<String> = SUBFIELDS
                    .iter()
                    .filter(|s| sub(s).is_some())
                    .map(|s| s.to_string())
                    .collect();
                let pair =
                    |v: Option<&Value>, a: &str, b: &str| v.map(|v| (ts_f(v, a), ts_f(v, b)));
                let value =
                    |name: &str| item(name).map(|v| ts_f(v, &format!("asterix.062_{name}_VALUE")));
                let i080 = item("080").expect("I062/080");
                let status = i080
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter_map(|(k, _)| {
                        let bit = k.strip_prefix("asterix.062_080_")?;
                        Some((bit.to_string(), ts_u(i080, k)))
                    })
                    .collect();
                let i010 = item("010").unwrap();
                let i105 = item("105").unwrap();
                decoded.push(Decoded {
                    items,
                    sac: ts_u(i010, "asterix.062_010_SAC"),
                    sic: ts_u(i010, "asterix.062_010_SIC"),
                    service: ts_u(item("015").unwrap(), "asterix.062_015_VALUE"),
                    tod_s: value("070").unwrap(),
                    lat: ts_f(i105, "asterix.062_105_LAT"),
                    lon: ts_f(i105, "asterix.062_105_LON"),
                    velocity: pair(item("185"), "asterix.062_185_VX", "asterix.062_185_VY"),
                    track: ts_u(item("040").unwrap(), "asterix.062_040_VALUE"),
                    status,
                    alt_ft: value("130"),
                    roc_ft_min: value("220"),
                    i500: i500_names,
                    apc: pair(sub("APC"), "asterix.062_500_APC_X", "asterix.062_500_APC_Y"),
                    apw: pair(
                        sub("APW"),
                        "asterix.062_500_APW_LAT",
                        "asterix.062_500_APW_LON",
                    ),
                    aga_ft: sub("AGA").map(|v| ts_f(v, "asterix.062_500_AGA_VALUE")),
                    atv: pair(sub("ATV"), "asterix.062_500_ATV_X", "asterix.062_500_ATV_Y"),
                    arc_ft_min: sub("ARC").map(|v| ts_f(v, "asterix.062_500_ARC_VALUE")),
                });
                assert!(ts_str(i080, "asterix.062_080_MON").is_some());
            }
        }
    }
    decoded
}

// ---------------------------------------------------------------------------

fn config(simulated: bool) -> Cat062Config {
    Cat062Config {
        site: SITE,
        simulated,
    }
}

/// Writes the looks through the file sink; returns the file's bytes.
fn write_file(path: &Path, looks: &[Vec<Case>], simulated: bool) -> Vec<u8> {
    let mut sink = Cat062FileSink::create(path, config(simulated)).unwrap();
    for look in looks {
        let reports: Vec<TrackReport> = look.iter().map(|c| c.report.clone()).collect();
        sink.write_tracks(&reports).unwrap();
    }
    sink.flush().unwrap();
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    assert!(!path.exists(), "not in place before commit");
    assert!(Path::new(&partial).exists());
    sink.commit().unwrap();
    assert!(!Path::new(&partial).exists());
    let s = sink.stats();
    assert_eq!(s.records, 15);
    assert_eq!(s.track_number_too_large, 1);
    assert_eq!((s.velocity_omitted, s.altitude_omitted), (1, 2));
    assert_eq!(s.rate_of_climb_omitted, 1, "track 6: -1200 m/s");
    assert_eq!(s.apw_omitted, 1, "track 9 near the pole");
    std::fs::read(path).unwrap()
}

/// The data blocks of a file, by their LEN.
fn blocks(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        assert_eq!(bytes[pos], 62);
        let len = usize::from(u16::from_be_bytes([bytes[pos + 1], bytes[pos + 2]]));
        out.push(&bytes[pos..pos + len]);
        pos += len;
    }
    assert_eq!(pos, bytes.len());
    out
}

fn all_cases() -> Vec<Case> {
    looks().into_iter().flatten().collect()
}

#[test]
fn libasterix_decodes_every_field() {
    let Some(py) = common::python_with(&["asterix.generated"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for simulated in [true, false] {
        let path = dir.path().join(format!("tracks-{simulated}.ast"));
        let bytes = write_file(&path, &looks(), simulated);
        assert_eq!(blocks(&bytes).len(), 2, "one data block per look");
        let decoded = decode_with_libasterix(&py, &path);
        check("libasterix", &decoded, &all_cases(), simulated);
    }
}

#[test]
fn tshark_decodes_every_field() {
    if common::require(tshark_available(), "tshark").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for simulated in [true, false] {
        let path = dir.path().join(format!("tracks-{simulated}.ast"));
        let bytes = write_file(&path, &looks(), simulated);
        let decoded = decode_with_tshark(dir.path(), &blocks(&bytes));
        check("tshark", &decoded, &all_cases(), simulated);
    }
}

#[test]
fn a_failed_run_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tracks.ast");
    std::fs::write(&path, b"earlier").unwrap();
    {
        let mut sink = Cat062FileSink::create(&path, config(true)).unwrap();
        let reports: Vec<TrackReport> = all_cases().into_iter().map(|c| c.report).collect();
        sink.write_tracks(&reports).unwrap();
        sink.flush().unwrap();
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"earlier");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// Every datagram waiting on `socket`.
fn receive_all(socket: &UdpSocket) -> Vec<Vec<u8>> {
    socket
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while let Ok(n) = socket.recv(&mut buf) {
        got.push(buf[..n].to_vec());
    }
    got
}

#[test]
fn udp_datagrams_hold_the_files_records_and_decode() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = receiver.local_addr().unwrap().port();
    let target =
        UdpTarget::parse(&format!("asterix+udp://127.0.0.1:{port}?max_datagram=200")).unwrap();
    let mut sink = Cat062UdpSink::open(&target, config(true)).unwrap();
    assert_eq!(sink.name(), target.spec);
    for look in looks() {
        let reports: Vec<TrackReport> = look.into_iter().map(|c| c.report).collect();
        sink.write_tracks(&reports).unwrap();
    }
    sink.flush().unwrap();
    let datagrams = receive_all(&receiver);
    assert_eq!(sink.send_errors(), 0, "a listener was there");
    assert_eq!(sink.datagrams_sent(), datagrams.len() as u64);
    assert!(datagrams.len() > 2, "split below 200 octets");
    for d in &datagrams {
        assert!(d.len() <= 200);
        assert_eq!(blocks(d).len(), 1, "one data block per datagram");
    }
    // The same records as the file, in the same order.
    let file = write_file(&dir.path().join("t.ast"), &looks(), true);
    let records =
        |blocks: Vec<&[u8]>| -> Vec<u8> { blocks.iter().flat_map(|b| b[3..].to_vec()).collect() };
    let udp_records = records(datagrams.iter().map(|d| d.as_slice()).collect());
    assert_eq!(udp_records, records(blocks(&file)));

    if common::require(tshark_available(), "tshark").is_some() {
        let payloads: Vec<&[u8]> = datagrams.iter().map(|d| d.as_slice()).collect();
        check(
            "tshark (UDP)",
            &decode_with_tshark(dir.path(), &payloads),
            &all_cases(),
            true,
        );
    }
    if let Some(py) = common::python_with(&["asterix.generated"]) {
        let path = dir.path().join("datagrams.ast");
        std::fs::write(&path, datagrams.concat()).unwrap();
        check(
            "libasterix (UDP)",
            &decode_with_libasterix(&py, &path),
            &all_cases(),
            true,
        );
    }
}

#[test]
fn udp_refusals_are_counted_not_fatal() {
    // A port with no listener: loopback answers ICMP port unreachable, which
    // a connected socket reports as ECONNREFUSED on a later send.
    let port = {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let target =
        UdpTarget::parse(&format!("asterix+udp://127.0.0.1:{port}?max_datagram=200")).unwrap();
    let mut sink = Cat062UdpSink::open(&target, config(false)).unwrap();
    let looks = looks();
    for _ in 0..5 {
        for look in &looks {
            let reports: Vec<TrackReport> = look.iter().map(|c| c.report.clone()).collect();
            sink.write_tracks(&reports).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    sink.flush().unwrap();
    assert!(sink.send_errors() > 0, "no refusal seen");
    assert!(sink.datagrams_sent() > 0);
    assert_eq!(sink.stats().records, 5 * 15);
    let (sent, refused) = (sink.datagrams_sent(), sink.send_errors());
    // Every block was tried once.
    let per_run = {
        let recv = UdpSocket::bind("127.0.0.1:0").unwrap();
        let t = UdpTarget::parse(&format!(
            "asterix+udp://127.0.0.1:{}?max_datagram=200",
            recv.local_addr().unwrap().port()
        ))
        .unwrap();
        let mut s = Cat062UdpSink::open(&t, config(false)).unwrap();
        for look in &looks {
            let reports: Vec<TrackReport> = look.iter().map(|c| c.report.clone()).collect();
            s.write_tracks(&reports).unwrap();
        }
        s.datagrams_sent()
    };
    assert_eq!(sent + refused, 5 * per_run);
}
