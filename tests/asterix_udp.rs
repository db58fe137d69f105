//! `--output asterix+udp://...` on loopback: what arrives at a unicast
//! receiver and at a multicast group member (239.x, TTL 0/1, interface
//! 127.0.0.1, IP_MULTICAST_LOOP) is decoded by tshark and libasterix and
//! checked field by field against the plots (tests/common/asterix.rs), with
//! the CAT034 north markers and sector crossings checked against a brute
//! count of the sector boundaries the beam passed. Also: the CLI's one-line
//! errors for bad `asterix+udp` specs.

#[path = "common/asterix.rs"]
mod asterix_check;
mod common;

use asterix_check::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::net::{Ipv4Addr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tews::output::asterix::cat048::Cat048Config;
use tews::output::{BeamPosition, OutputSpec};
use tews::plots::Plot;
use time::macros::datetime;

/// Sector width of the output's default 32 sectors, degrees.
const SECTOR_DEG: f64 = 360.0 / 32.0;

/// 24 CPIs, one second apart, the beam turning 37 deg per CPI from 300 deg
/// (so it passes north three times), each with 0..60 plots: edge cases in
/// the first (256 NM, speeds beyond CAL, a plot that cannot be encoded),
/// random ones after. Returns the beams (unwrapped azimuth) and the plots.
fn scan_cpis() -> (Vec<(BeamPosition, f64)>, Vec<Vec<Plot>>) {
    let t0 = datetime!(2025-06-30 23:59:50 UTC);
    let mut rng = ChaCha8Rng::seed_from_u64(86);
    let mut beams = Vec::new();
    let mut cpis = Vec::new();
    for k in 0..24u64 {
        let t = t0 + time::Duration::seconds(k as i64);
        let unwrapped = 300.0 + 37.0 * k as f64;
        let az = unwrapped.rem_euclid(360.0);
        beams.push((
            BeamPosition {
                cpi: k,
                time_utc: t,
                azimuth_deg: az,
            },
            unwrapped,
        ));
        let mut plots: Vec<Plot> = (0..rng.random_range(0..60))
            .map(|_| {
                plot(
                    k,
                    t,
                    rng.random_range(0.0..300.0 * NM_M),
                    az + rng.random_range(-1.5..1.5),
                    rng.random_range(-600.0..600.0),
                )
            })
            .collect();
        if k == 0 {
            plots.extend([
                plot(k, t, 256.0 * NM_M, az, -512.4),
                plot(k, t, 255.9 * NM_M, az, 511.4),
                plot(k, t, f64::NAN, az, 1.0),
                plot(k, t, 1000.0, az, f64::NAN),
            ]);
        }
        cpis.push(plots);
    }
    (beams, cpis)
}

/// The CAT034 messages a receiver must see, from the unwrapped azimuths
/// alone: for each step, every multiple of the sector width passed, a north
/// marker (type 1) at multiples of 360 deg, a sector crossing (type 2) with
/// its start otherwise; at the time of the CPI past it.
fn expected_service(beams: &[(BeamPosition, f64)]) -> Vec<(u64, f64, Option<f64>)> {
    let mut out = Vec::new();
    for w in beams.windows(2) {
        let (a, b) = (w[0].1, w[1].1);
        let t = w[1].0.time_utc;
        let tod = (t - t.replace_time(time::Time::MIDNIGHT)).as_seconds_f64();
        let first = (a / SECTOR_DEG).floor() as i64 + 1;
        let last = (b / SECTOR_DEG).floor() as i64;
        for j in first..=last {
            let start = (j as f64 * SECTOR_DEG).rem_euclid(360.0);
            if start == 0.0 {
                out.push((1, tod, None));
            } else {
                out.push((2, tod, Some(start)));
            }
        }
    }
    out
}

/// Collects every datagram arriving at `socket` until told to stop.
struct Receiver {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Vec<u8>>>,
}

impl Receiver {
    fn start(socket: UdpSocket) -> Receiver {
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 65536];
            loop {
                match socket.recv(&mut buf) {
                    Ok(n) => got.push(buf[..n].to_vec()),
                    // Loopback delivers at send time: once the sender is
                    // done, one empty wait means nothing more is coming.
                    Err(_) if flag.load(Ordering::SeqCst) => return got,
                    Err(_) => {}
                }
            }
        });
        Receiver { stop, thread }
    }

    fn finish(self) -> Vec<Vec<u8>> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

/// Sends the scan through `spec` (as the CLI opens it) and returns what the
/// receiver got.
fn send_scan(spec: &str, receiver: Receiver, simulated: bool) -> Vec<Vec<u8>> {
    let (beams, cpis) = scan_cpis();
    let spec: OutputSpec = spec.parse().unwrap();
    let mut sink = spec
        .with_asterix(Cat048Config {
            site: SITE,
            simulated,
        })
        .open()
        .unwrap();
    for ((beam, _), plots) in beams.iter().zip(&cpis) {
        sink.write_cpi(beam, plots).unwrap();
    }
    sink.finish().unwrap();
    let undelivered = sink.take_undelivered();
    assert_eq!(undelivered.send_errors, 0, "a listener was there");
    assert_eq!(undelivered.plots, 1, "only the NaN-range plot");
    receiver.finish()
}

/// Checks the datagrams: each one data block within `max_datagram` octets,
/// then every field with both decoders.
fn check_datagrams(datagrams: &[Vec<u8>], max_datagram: usize, simulated: bool) {
    assert!(!datagrams.is_empty(), "nothing arrived");
    for d in datagrams {
        assert!(d.len() <= max_datagram, "datagram of {} octets", d.len());
        assert!(d[0] == 48 || d[0] == 34, "category {}", d[0]);
        let len = usize::from(u16::from_be_bytes([d[1], d[2]]));
        assert_eq!(len, d.len(), "one data block per datagram");
    }
    let (beams, cpis) = scan_cpis();
    let want_service = expected_service(&beams);
    assert!(
        want_service.iter().filter(|s| s.0 == 1).count() == 3 && want_service.len() > 50,
        "the scan passes north 3 times: {want_service:?}"
    );
    let want = expected(&cpis);
    let dir = tempfile::tempdir().unwrap();

    if common::require(tshark_available(), "tshark").is_some() {
        let pcap = dir.path().join("received.pcap");
        let payloads: Vec<&[u8]> = datagrams.iter().map(Vec::as_slice).collect();
        std::fs::write(&pcap, pcap_udp_8600(&payloads)).unwrap();
        let (packets, decoded, service) = tshark_decode(&pcap);
        assert_eq!(packets, datagrams.len());
        check_records("tshark", &decoded, &want, simulated);
        check_service("tshark", &service, &want_service);
    }
    if let Some(py) = common::python_with(&["asterix.generated"]) {
        let file = dir.path().join("received.ast");
        std::fs::write(&file, datagrams.concat()).unwrap();
        let records = decode_with_libasterix(&py, &file);
        check_records(
            "libasterix",
            &libasterix_records(&records),
            &want,
            simulated,
        );
        check_service("libasterix", &libasterix_service(&records), &want_service);
    }
}

#[test]
fn unicast_datagrams_decode_field_by_field() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let receiver = Receiver::start(socket);
    // A small datagram limit, so CPIs split into several blocks.
    let got = send_scan(
        &format!("asterix+udp://127.0.0.1:{port}?ttl=1&iface=127.0.0.1&max_datagram=512"),
        receiver,
        true,
    );
    assert!(got.len() > 24, "CPIs split into several datagrams");
    check_datagrams(&got, 512, true);
}

#[test]
fn multicast_on_loopback_decodes_field_by_field() {
    let group = Ipv4Addr::new(239, 255, 48, 34);
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    let port = socket.local_addr().unwrap().port();
    let joined = socket.join_multicast_v4(&group, &Ipv4Addr::LOCALHOST);
    if let Err(e) = &joined {
        eprintln!("cannot join {group} on 127.0.0.1: {e}");
    }
    if common::require(joined.is_ok(), "multicast on the loopback interface").is_none() {
        return;
    }
    let receiver = Receiver::start(socket);
    let got = send_scan(
        &format!("asterix+udp://{group}:{port}?ttl=0&iface=127.0.0.1&loop=1"),
        receiver,
        false,
    );
    check_datagrams(&got, 1400, false);
}

#[test]
fn ipv6_unicast_arrives() {
    let Ok(socket) = UdpSocket::bind("[::1]:0") else {
        eprintln!("SKIPPED: no IPv6 loopback here");
        return;
    };
    let port = socket.local_addr().unwrap().port();
    let receiver = Receiver::start(socket);
    let got = send_scan(&format!("asterix+udp://[::1]:{port}"), receiver, true);
    check_datagrams(&got, 1400, true);
}

#[test]
fn cli_bad_udp_specs_get_one_line_errors_naming_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(&site, "[site]\nname = \"test\"\nsac = 25\nsic = 201\n").unwrap();
    let rec = dir.path().join("rec");
    let scenario = tews::sim::Scenario::builtin();
    tews::sim::simulate(&scenario, 1, &rec).unwrap();
    for (spec, words) in [
        ("asterix+udp://127.0.0.1", "missing port"),
        ("asterix+udp://127.0.0.1:8600?ttl=256", "ttl"),
        ("asterix+udp://127.0.0.1:8600?ttl=x", "ttl"),
        // Empty labels: refused by the resolver without a DNS query.
        ("asterix+udp://no..such..host:8600", "cannot resolve host"),
        ("asterix+udp://127.0.0.1:8600?colour=red", "unknown option"),
    ] {
        let out = std::process::Command::new(common::tews_bin())
            .args(["-q", "run", "--backend", "cpu", "--input"])
            .arg(rec.with_extension("sigmf-meta"))
            .arg("--site")
            .arg(&site)
            .args(["--output", spec])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{spec}");
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err.trim_end();
        assert!(!line.contains('\n'), "{spec}: {err}");
        assert!(line.contains(spec) && line.contains(words), "{spec}: {err}");
    }
}
