//! ASTERIX output checked by two independent decoders, field by field:
//! Wireshark's dissector (tshark, on UDP port 8600) and libasterix (Python,
//! generated from the asterix-specs definitions; tests/py/decode_asterix.py).
//!
//! Every expected value comes from the source plot and the unit conversion
//! (1 NM = 1852 m, degrees, UTC seconds since midnight), never from the
//! encoder; each decoded value must lie within half an LSB of it, since the
//! encoder rounds to the nearest LSB (tests/common/asterix.rs).

#[path = "common/asterix.rs"]
mod asterix_check;
mod common;

use asterix_check::*;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use tews::output::asterix::AsterixFileSink;
use tews::output::asterix::cat034::{self, ServiceMessage};
use tews::output::asterix::cat048::{self, Cat048Config, EncodeStats};
use tews::output::{OutputSpec, PlotSink};
use tews::plots::Plot;
use time::Duration;
use time::macros::datetime;

const CONFIG: Cat048Config = Cat048Config {
    site: SITE,
    simulated: true,
};

/// Edge cases (LSB boundaries, 256 NM, speed limits, midnight, a non-UTC
/// offset, one plot that cannot be encoded) and a seeded random batch, in
/// CPIs of a few plots each.
fn test_cpis() -> Vec<Vec<Plot>> {
    let t0 = datetime!(2025-06-30 23:59:58 UTC);
    let edge = vec![
        plot(0, t0, 0.0, 0.0, 0.0),
        plot(0, t0, 18_520.0, 90.0, -3.4),
        plot(0, t0, 255.9 * NM_M, 359.999, 511.4),
        plot(0, t0, 256.0 * NM_M, 45.0, -512.4),
        plot(0, t0, 300.0 * NM_M, 180.0, 600.0),
        plot(0, t0, 4000.0 * NM_M, 270.0, -1500.0),
        plot(0, t0, f64::NAN, 10.0, 1.0),
        plot(0, t0, 1000.0, -30.0, f64::NAN),
    ];
    let midnight = vec![
        plot(
            1,
            datetime!(2025-06-30 23:59:59.9921875 UTC),
            5000.0,
            1.0,
            2.0,
        ),
        plot(1, datetime!(2025-06-30 23:59:59.999 UTC), 5000.0, 1.0, 2.0),
        plot(1, datetime!(2025-07-01 00:00:00.004 UTC), 5000.0, 1.0, 2.0),
        plot(
            1,
            datetime!(2025-07-01 02:30:00.25 +02:00),
            5000.0,
            1.0,
            2.0,
        ),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(48);
    let mut cpis = vec![edge, midnight];
    for k in 2..12u64 {
        let t = t0 + Duration::milliseconds(rng.random_range(0..200_000_000));
        let n = rng.random_range(0..20);
        cpis.push(
            (0..n)
                .map(|i| {
                    let mut p = plot(
                        k,
                        t,
                        rng.random_range(0.0..600.0 * NM_M),
                        rng.random_range(0.0..360.0),
                        rng.random_range(-700.0..700.0),
                    );
                    // Some plots have a geolocated height; every other of
                    // those a measured (monopulse) elevation, so I048/110
                    // is sent for those alone, and omitted above its range.
                    if i % 3 != 0 {
                        p.height_m = Some(rng.random_range(-2_000.0..90_000.0));
                        if i % 3 == 1 {
                            p.angle_source = tews::plots::AngleSource::Monopulse;
                            p.elevation_sigma_deg = Some(0.05);
                        }
                    }
                    p
                })
                .collect(),
        );
    }
    cpis
}

/// Writes the test CPIs through `asterix-file:PATH` as the CLI would.
fn write_file(path: &Path, cpis: &[Vec<Plot>], simulated: bool) {
    let spec: OutputSpec = format!("asterix-file:{}", path.display()).parse().unwrap();
    let spec = spec.with_asterix(Cat048Config {
        site: SITE,
        simulated,
    });
    let mut sink = spec.open().unwrap();
    for plots in cpis {
        sink.write(plots).unwrap();
    }
    sink.finish().unwrap();
}

/// What the decoders must find for [`service_messages`]: I034/000, time of
/// day (s), sector start (deg).
const SERVICE_EXPECTED: [(u64, f64, Option<f64>); 3] =
    [(1, 1.5, None), (2, 2.0, Some(45.0)), (2, 3.0, Some(358.0))];

/// The service messages the tests add after the plots.
fn service_messages() -> Vec<ServiceMessage> {
    vec![
        ServiceMessage::NorthMarker {
            time_utc: datetime!(2025-07-01 00:00:01.5 UTC),
        },
        ServiceMessage::SectorCrossing {
            time_utc: datetime!(2025-07-01 00:00:02 UTC),
            sector_start_deg: 45.0,
        },
        ServiceMessage::SectorCrossing {
            time_utc: datetime!(2025-07-01 00:00:03 UTC),
            sector_start_deg: 358.0,
        },
    ]
}

#[test]
fn libasterix_decodes_every_field() {
    let Some(py) = common::python_with(&["asterix.generated"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cpis = test_cpis();
    for simulated in [true, false] {
        let path = dir.path().join(format!("plots-{simulated}.ast"));
        write_file(&path, &cpis, simulated);
        assert!(
            !dir.path()
                .join(format!("plots-{simulated}.ast.partial"))
                .exists()
        );
        let mut bytes = std::fs::read(&path).unwrap();
        cat034::encode_data_block(&service_messages(), SITE, &mut bytes);
        std::fs::write(&path, &bytes).unwrap();

        let records = decode_with_libasterix(&py, &path);
        let decoded = libasterix_records(&records);
        // libasterix decodes the REF: every extended record has its range.
        for d in &decoded {
            assert_eq!(d.err == Some(1), d.ref_err_nm.is_some(), "{d:?}");
        }
        check_records("libasterix", &decoded, &expected(&cpis), simulated);
        let service = libasterix_service(&records);
        check_service("libasterix", &service, &SERVICE_EXPECTED);
    }
}

#[test]
fn libasterix_decodes_blocks_split_at_65535_octets() {
    let Some(py) = common::python_with(&["asterix.generated"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.ast");
    let t = datetime!(2025-07-01 12:00:00 UTC);
    // 9000 records of 16 octets: three data blocks from one CPI.
    let cpi: Vec<Plot> = (0..9000)
        .map(|i| plot(0, t, 100.0 * f64::from(i), f64::from(i) * 0.04, 5.0))
        .collect();
    let mut sink = AsterixFileSink::create(&path, CONFIG).unwrap();
    sink.write(&cpi).unwrap();
    sink.finish().unwrap();
    assert_eq!(sink.stats().data_blocks, 3);
    let bytes = std::fs::read(&path).unwrap();
    let mut pos = 0;
    while pos < bytes.len() {
        let len = usize::from(u16::from_be_bytes([bytes[pos + 1], bytes[pos + 2]]));
        assert!(len <= 65535);
        pos += len;
    }
    assert_eq!(pos, bytes.len());
    let records = decode_with_libasterix(&py, &path);
    let blocks: std::collections::BTreeSet<u64> = records.iter().map(|r| u(r, "block")).collect();
    assert_eq!(blocks.len(), 3);
    check_records(
        "libasterix",
        &libasterix_records(&records),
        &expected(&[cpi]),
        true,
    );
}

// ---------------------------------------------------------------------------
// tshark

#[test]
fn tshark_decodes_every_field() {
    if common::require(tshark_available(), "tshark").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cpis = test_cpis();
    for simulated in [true, false] {
        let config = Cat048Config {
            site: SITE,
            simulated,
        };
        // One data block per datagram, under 1400 octets (as a UDP feed would).
        let mut bytes = Vec::new();
        let mut starts = Vec::new();
        let mut stats = EncodeStats::default();
        for plots in &cpis {
            starts.extend(cat048::encode_data_blocks(
                plots, &config, 1400, &mut stats, &mut bytes,
            ));
        }
        starts.push(bytes.len());
        cat034::encode_data_block(&service_messages(), SITE, &mut bytes);
        starts.push(bytes.len());
        let payloads: Vec<&[u8]> = starts.windows(2).map(|w| &bytes[w[0]..w[1]]).collect();
        let pcap = dir.path().join("asterix.pcap");
        std::fs::write(&pcap, pcap_udp_8600(&payloads)).unwrap();

        let (packets, decoded, service) = tshark_decode(&pcap);
        assert_eq!(packets, payloads.len());
        check_records("tshark", &decoded, &expected(&cpis), simulated);
        check_service("tshark", &service, &SERVICE_EXPECTED);
    }
}

/// `asterix-pcap:`: the file output as a capture tshark opens directly
/// (issue: hardening, item 12): every CPI's CAT048 records decode field by
/// field, one data block per UDP datagram under 1400 octets.
#[test]
fn tshark_opens_the_pcap_output_directly() {
    if common::require(tshark_available(), "tshark").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cpis = test_cpis();
    let pcap = dir.path().join("out.pcap");
    let config = Cat048Config {
        site: SITE,
        simulated: false,
    };
    let mut sink = AsterixFileSink::create_pcap(&pcap, config).unwrap();
    for plots in &cpis {
        sink.write(plots).unwrap();
    }
    sink.finish().unwrap();
    let (packets, decoded, _) = tshark_decode(&pcap);
    assert!(packets >= cpis.len(), "{packets} datagrams");
    check_records("tshark (asterix-pcap)", &decoded, &expected(&cpis), false);
}
