//! The replay's packet encoder against two decoders: the host parser and
//! assembler (round trip to the same CPI), and Wireshark's `vrt` dissector
//! (tshark reading a pcap of the encoded datagrams on UDP 4991), which knows
//! nothing of tews. Expected values come from the profile as documented
//! (formats.md §3, hw/README.md §1), computed here from the inputs.

mod common;

use tews::ingest::vrt::encoder::{ContextFields, Timestamp, VrtEncoder};
use tews::ingest::vrt::{AssemblerConfig, Ci16, CpiAssembler, Packet, SampleFrame, parse};

const P: usize = 3;
const N: usize = 7;
const SPP: usize = 3;
const STREAM: u32 = 0x0102_0304;
const PRI_PS: u64 = 123_456_789;
const FS: f64 = 10e6;

/// Deterministic samples covering the whole ci16 range.
fn samples() -> Vec<Vec<Ci16>> {
    let mut x: u64 = 12345;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 48) as u16 as i16
    };
    (0..P)
        .map(|_| {
            (0..N)
                .map(|_| Ci16 {
                    i: next(),
                    q: next(),
                })
                .collect()
        })
        .collect()
}

fn t0() -> Timestamp {
    Timestamp {
        seconds: 1_750_000_000,
        picoseconds: 999_999_900_000,
    }
}

fn context() -> ContextFields {
    ContextFields {
        time: t0(),
        rf_frequency_hz: 9_410_000_000.5,
        sample_rate_hz: FS,
        azimuth_deg: 45.25,
        elevation_deg: 1.5,
    }
}

/// One CPI's datagrams: context, then P pulses of ceil(N / SPP) packets.
fn datagrams() -> Vec<Vec<u8>> {
    let mut enc = VrtEncoder::new(STREAM, SPP);
    let mut out = vec![enc.context(&context()).to_vec()];
    for (m, pulse) in samples().iter().enumerate() {
        let t = t0().plus_picoseconds(m as u64 * PRI_PS);
        enc.pulse(t, FS, pulse, m == 0, |d| out.push(d.to_vec()));
    }
    out
}

/// (pulse, first sample, samples) of each data packet, in order.
fn layout() -> Vec<(usize, usize, usize)> {
    (0..P)
        .flat_map(|m| (0..N).step_by(SPP).map(move |s| (m, s, SPP.min(N - s))))
        .collect()
}

/// The timestamp of sample `s` of pulse `m`, in (seconds, picoseconds).
fn sample_time(m: usize, s: usize) -> (u32, u64) {
    let ps = t0().picoseconds + m as u64 * PRI_PS + (s as u64 * 1_000_000_000_000) / FS as u64;
    (
        t0().seconds + (ps / 1_000_000_000_000) as u32,
        ps % 1_000_000_000_000,
    )
}

#[test]
fn host_parser_reads_every_field_and_the_assembler_rebuilds_the_cpi() {
    let d = datagrams();
    assert_eq!(d.len(), 1 + layout().len());
    let Packet::Context(c) = parse(&d[0]).unwrap() else {
        panic!("first packet is the context")
    };
    assert_eq!((c.stream_id, c.count), (STREAM, 0));
    assert_eq!((c.seconds, c.picoseconds), (t0().seconds, t0().picoseconds));
    assert_eq!(c.rf_frequency_hz, 9_410_000_000.5);
    assert_eq!(c.sample_rate_hz, FS);
    assert_eq!((c.azimuth_deg, c.elevation_deg), (45.25, 1.5));
    assert!(c.change_indicator);
    let pulses = samples();
    for (k, ((m, s, len), raw)) in layout().iter().zip(&d[1..]).enumerate() {
        let Packet::Data(p) = parse(raw).unwrap() else {
            panic!("data packet")
        };
        assert_eq!(p.count as usize, k % 16);
        assert_eq!((p.seconds, p.picoseconds), sample_time(*m, *s));
        assert_eq!(p.samples, pulses[*m][*s..*s + *len]);
        let frame = match (s, s + len == N) {
            (0, true) => SampleFrame::Whole,
            (0, false) => SampleFrame::First,
            (_, true) => SampleFrame::Final,
            _ => SampleFrame::Middle,
        };
        assert_eq!(p.trailer.sample_frame, frame);
        assert_eq!(p.trailer.cpi_start, *m == 0);
        assert!(p.trailer.valid_data && !p.trailer.sample_loss);
    }
    let mut asm = CpiAssembler::new(AssemblerConfig {
        pulses_per_cpi: P,
        samples_per_pulse: N,
        stream_id: Some(STREAM),
    });
    let cpis: Vec<_> = d.iter().filter_map(|x| asm.push_datagram(x)).collect();
    assert_eq!(cpis.len(), 1);
    let cpi = &cpis[0];
    for (m, pulse) in pulses.iter().enumerate() {
        for (n, x) in pulse.iter().enumerate() {
            assert_eq!(cpi.samples()[[0, m, n]], x.to_complex32());
        }
    }
    assert_eq!(cpi.meta.carrier_hz, 9_410_000_000.5);
    assert_eq!(cpi.meta.time_utc.unix_timestamp(), i64::from(t0().seconds));
    assert_eq!(
        cpi.meta.time_utc.nanosecond() as u64,
        t0().picoseconds / 1000
    );
}

/// A pcap (LINKTYPE_ETHERNET) holding each datagram as IPv4/UDP to port 4991.
fn pcap(datagrams: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for w in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        match w {
            0x0004_0002 => {
                out.extend_from_slice(&2u16.to_le_bytes());
                out.extend_from_slice(&4u16.to_le_bytes());
            }
            _ => out.extend_from_slice(&w.to_le_bytes()),
        }
    }
    for (i, d) in datagrams.iter().enumerate() {
        let udp_len = 8 + d.len();
        let ip_len = 20 + udp_len;
        let mut frame = Vec::new();
        frame.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0x08, 0x00]);
        frame.extend_from_slice(&[
            0x45,
            0,
            (ip_len >> 8) as u8,
            ip_len as u8,
            0,
            0,
            0x40,
            0,
            64,
            17,
            0,
            0,
        ]);
        frame.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
        frame.extend_from_slice(&40000u16.to_be_bytes());
        frame.extend_from_slice(&4991u16.to_be_bytes());
        frame.extend_from_slice(&(udp_len as u16).to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(d);
        for v in [i as u32, 0, frame.len() as u32, frame.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&frame);
    }
    out
}

#[test]
fn wireshark_vrt_dissector_decodes_the_encoder_output() {
    let have = std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if common::require(have, "tshark (Debian package tshark)").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vrt.pcap");
    let d = datagrams();
    std::fs::write(&path, pcap(&d)).unwrap();
    let fields = [
        "vrt.type",
        "vrt.sid",
        "vrt.seq",
        "vrt.len",
        "vrt.tsi",
        "vrt.tsf",
        "vrt.ts_int",
        "vrt.ts_frac_picosecond",
        "vrt.tflag",
        "vrt.trailer",
        "vrt.valid",
        "vrt.sampleloss",
        "vrt.data",
    ];
    let mut cmd = std::process::Command::new("tshark");
    cmd.arg("-r").arg(&path).args([
        "-d",
        "udp.port==4991,vrt",
        "-T",
        "fields",
        "-E",
        "separator=;",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(';').collect()).collect();
    assert_eq!(rows.len(), d.len(), "{text}");
    let num = |s: &str| -> u64 {
        let s = s.trim();
        s.strip_prefix("0x").map_or_else(
            || s.parse().unwrap(),
            |h| u64::from_str_radix(h, 16).unwrap(),
        )
    };
    // Context packet: type 4, 12 words, count 0, UTC / picoseconds.
    let c = &rows[0];
    assert_eq!(
        [num(c[0]), num(c[1]), num(c[2]), num(c[3])],
        [4, u64::from(STREAM), 0, 12]
    );
    assert_eq!([num(c[4]), num(c[5])], [1, 2]);
    assert_eq!(
        [num(c[6]), num(c[7])],
        [u64::from(t0().seconds), t0().picoseconds]
    );
    let pulses = samples();
    for (k, ((m, s, len), r)) in layout().iter().zip(&rows[1..]).enumerate() {
        assert_eq!(num(r[0]), 1, "type");
        assert_eq!(num(r[1]), u64::from(STREAM));
        assert_eq!(num(r[2]), (k % 16) as u64, "count");
        assert_eq!(num(r[3]), (len + 6) as u64, "size in words");
        assert_eq!([num(r[4]), num(r[5])], [1, 2]);
        let (sec, ps) = sample_time(*m, *s);
        assert_eq!([num(r[6]), num(r[7])], [u64::from(sec), ps]);
        assert!(matches!(r[8], "1" | "True"), "trailer present: {}", r[8]);
        // Trailer per hw/README.md: enables, valid data, frame, CPI start.
        let frame = match (s, s + len == N) {
            (0, true) => 0,
            (0, false) => 1,
            (_, true) => 3,
            _ => 2,
        };
        let trailer = 0x41D4_0000u64 | frame << 10 | u64::from(*m == 0) << 8;
        assert_eq!(num(r[9]), trailer, "trailer of packet {k}");
        assert!(matches!(r[10], "1" | "True") && matches!(r[11], "0" | "False"));
        let hex: String = pulses[*m][*s..*s + *len]
            .iter()
            .map(|x| format!("{:04x}{:04x}", x.i as u16, x.q as u16))
            .collect();
        assert_eq!(r[12].replace(':', ""), hex, "payload of packet {k}");
    }
}
