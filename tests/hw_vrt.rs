//! The FPGA packetizer's simulated output, read by the host parser: runs
//! `make -C hw sim` (Icarus Verilog), parses `hw/build/packets.bin` with
//! `tews::ingest::vrt` and checks every packet bit-exactly against the pattern
//! `hw/tb/pattern.json` documents (hw/README.md §3), then assembles CPIs from
//! it with the pattern's P and N.
//!
//! Needs `make` and iverilog; skips without them locally, fails under
//! `TEWS_REQUIRE_EXTERNAL=1`.

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use tews::ingest::vrt::{
    AssemblerConfig, CpiAssembler, CpiDrops, Packet, SampleFrame, VrtCounters, packets, parse,
};

const PS_PER_S: u64 = 1_000_000_000_000;

fn tool_runs(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The pattern's numbers, read from pattern.json.
struct Pattern {
    stream_id: u32,
    p: usize,
    n: usize,
    i_cpi_step: u64,
    i_pulse_step: u64,
    q_xor: u32,
    t0_sec: u64,
    t0_psec: u64,
    pri_ps: u64,
    sample_period_ps: u64,
    rf_fx20: u64,
    sr_fx20: u64,
    rf_hz: f64,
    sr_hz: f64,
    /// (cpi, samples per packet, pointing word, elevation, azimuth, change).
    cpis: Vec<(u64, usize, u32, f64, f64, bool)>,
    /// (cpi, pulse, before_sample).
    loss: Vec<(u64, usize, usize)>,
    data_packets: usize,
    context_packets: usize,
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("pattern.json: {key} is not an unsigned integer"))
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("pattern.json: {key} is not a number"))
}

impl Pattern {
    fn load(path: &Path) -> Self {
        let text = std::fs::read_to_string(path).expect("read pattern.json");
        let v: Value = serde_json::from_str(&text).expect("pattern.json is JSON");
        let cpis = v["cpis"]
            .as_array()
            .expect("cpis")
            .iter()
            .map(|c| {
                (
                    u(c, "cpi"),
                    u(c, "samples_per_packet") as usize,
                    u(c, "pointing_word") as u32,
                    f(c, "elevation_deg"),
                    f(c, "azimuth_deg"),
                    c["context_field_change"].as_bool().expect("change"),
                )
            })
            .collect();
        let loss = v["sample_loss"]
            .as_array()
            .expect("sample_loss")
            .iter()
            .map(|e| {
                (
                    u(e, "cpi"),
                    u(e, "pulse") as usize,
                    u(e, "before_sample") as usize,
                )
            })
            .collect();
        Pattern {
            stream_id: u(&v, "stream_id") as u32,
            p: u(&v, "pulses_per_cpi") as usize,
            n: u(&v, "samples_per_pulse") as usize,
            i_cpi_step: u(&v, "i_cpi_step"),
            i_pulse_step: u(&v, "i_pulse_step"),
            q_xor: u(&v, "q_xor") as u32,
            t0_sec: u(&v, "t0_sec"),
            t0_psec: u(&v, "t0_psec"),
            pri_ps: u(&v, "pri_ps"),
            sample_period_ps: u(&v, "sample_period_ps"),
            rf_fx20: u(&v, "rf_freq_fx20"),
            sr_fx20: u(&v, "sample_rate_fx20"),
            rf_hz: f(&v, "rf_freq_hz"),
            sr_hz: f(&v, "sample_rate_hz"),
            cpis,
            loss,
            data_packets: u(&v, "data_packets") as usize,
            context_packets: u(&v, "context_packets") as usize,
        }
    }

    /// (seconds, picoseconds) of sample n of pulse m of CPI k.
    fn time(&self, k: u64, m: usize, n: usize) -> (u32, u64) {
        let ps = self.t0_psec
            + (k * self.p as u64 + m as u64) * self.pri_ps
            + n as u64 * self.sample_period_ps;
        ((self.t0_sec + ps / PS_PER_S) as u32, ps % PS_PER_S)
    }

    /// (I, Q) of sample n of pulse m of CPI k.
    fn sample(&self, k: u64, m: usize, n: usize) -> (i16, i16) {
        let i = ((k * self.i_cpi_step + m as u64 * self.i_pulse_step + n as u64) & 0xFFFF) as u32;
        let q = i ^ self.q_xor;
        (i as u16 as i16, q as u16 as i16)
    }
}

#[test]
fn fpga_packets_parse_and_assemble_bit_exactly() {
    let have =
        tool_runs("make", "--version") && tool_runs("iverilog", "-V") && tool_runs("vvp", "-V");
    if common::require(have, "make and iverilog (Debian package iverilog)").is_none() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("make")
        .args(["-C", "hw", "sim"])
        .current_dir(root)
        .output()
        .expect("run make -C hw sim");
    assert!(
        out.status.success(),
        "make -C hw sim failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let pat = Pattern::load(&root.join("hw/tb/pattern.json"));
    let bin = std::fs::read(root.join("hw/build/packets.bin")).expect("read packets.bin");

    // Split the byte stream by the size fields and parse every packet.
    let parsed: Vec<Packet> = packets(&bin)
        .enumerate()
        .map(|(i, p)| {
            let p = p.unwrap_or_else(|e| panic!("packet {i}: {e}"));
            parse(p).unwrap_or_else(|e| panic!("packet {i}: {e}"))
        })
        .collect();
    assert_eq!(
        parsed.len(),
        pat.data_packets + pat.context_packets,
        "packets in the file"
    );

    // Walk the expected sequence (hw/README.md §3) beside the parsed one.
    let mut it = parsed.iter().enumerate();
    let (mut data_count, mut ctx_count) = (0u8, 0u8);
    let (mut n_data, mut n_ctx, mut n_loss) = (0, 0, 0);
    for &(k, spp, pointing, el, az, change) in &pat.cpis {
        let (i, pkt) = it.next().expect("context packet");
        let Packet::Context(c) = pkt else {
            panic!("packet {i}: expected the context packet of CPI {k}, got {pkt:?}");
        };
        let w = format!("packet {i} (context before CPI {k})");
        assert_eq!(c.stream_id, pat.stream_id, "{w}: stream ID");
        assert_eq!(c.count, ctx_count, "{w}: context packet count");
        assert_eq!((c.seconds, c.picoseconds), pat.time(k, 0, 0), "{w}: time");
        assert_eq!(c.change_indicator, change, "{w}: change indicator");
        assert_eq!(c.rf_frequency_fx20, pat.rf_fx20, "{w}: RF field");
        assert_eq!(c.rf_frequency_hz, pat.rf_hz, "{w}: RF Hz");
        assert_eq!(c.sample_rate_fx20, pat.sr_fx20, "{w}: sample rate field");
        assert_eq!(c.sample_rate_hz, pat.sr_hz, "{w}: sample rate Hz");
        assert_eq!(c.pointing_word, pointing, "{w}: pointing word");
        assert_eq!((c.elevation_deg, c.azimuth_deg), (el, az), "{w}: beam");
        ctx_count = (ctx_count + 1) % 16;
        n_ctx += 1;
        for m in 0..pat.p {
            let starts: Vec<usize> = (0..pat.n).step_by(spp).collect();
            for (j, &n0) in starts.iter().enumerate() {
                let n1 = (n0 + spp).min(pat.n);
                let (i, pkt) = it.next().expect("data packet");
                let w = format!("packet {i} (CPI {k} pulse {m} samples {n0}..{})", n1 - 1);
                let Packet::Data(d) = pkt else {
                    panic!("{w}: expected a data packet, got {pkt:?}");
                };
                assert_eq!(d.stream_id, pat.stream_id, "{w}: stream ID");
                assert_eq!(d.count, data_count, "{w}: data packet count");
                assert_eq!((d.seconds, d.picoseconds), pat.time(k, m, n0), "{w}: time");
                let want: Vec<(i16, i16)> = (n0..n1).map(|n| pat.sample(k, m, n)).collect();
                let got: Vec<(i16, i16)> = d.samples.iter().map(|s| (s.i, s.q)).collect();
                assert_eq!(got, want, "{w}: samples");
                let t = &d.trailer;
                let frame = match (j == 0, j == starts.len() - 1) {
                    (true, true) => SampleFrame::Whole,
                    (true, false) => SampleFrame::First,
                    (false, false) => SampleFrame::Middle,
                    (false, true) => SampleFrame::Final,
                };
                assert_eq!(t.sample_frame, frame, "{w}: sample frame");
                assert_eq!(t.cpi_start, m == 0, "{w}: CPI start");
                let loss = pat
                    .loss
                    .iter()
                    .any(|&(lk, lm, ln)| lk == k && lm == m && (n0..n1).contains(&ln));
                assert_eq!(t.sample_loss, loss, "{w}: sample loss");
                assert!(t.valid_data, "{w}: valid data");
                assert_eq!(t.calibrated_time, None, "{w}: calibrated time");
                assert_eq!(t.associated_context_count, None, "{w}: E");
                data_count = (data_count + 1) % 16;
                n_data += 1;
                n_loss += usize::from(loss);
            }
        }
    }
    assert!(it.next().is_none());
    assert_eq!((n_data, n_ctx), (pat.data_packets, pat.context_packets));
    assert_eq!(n_loss, pat.loss.len(), "sample-loss packets");

    // Assembly with the pattern's P and N: CPIs 0, 2 and 4 come out whole
    // (CPI 3 was never sent), CPI 1 is dropped for its sample-loss packet.
    let mut asm = CpiAssembler::new(AssemblerConfig {
        pulses_per_cpi: pat.p,
        samples_per_pulse: pat.n,
        stream_id: Some(pat.stream_id),
    });
    let cpis: Vec<_> = packets(&bin)
        .filter_map(|p| asm.push_datagram(p.expect("framed above")))
        .collect();
    asm.finish();
    let lossy: Vec<u64> = pat.loss.iter().map(|l| l.0).collect();
    let whole: Vec<_> = pat
        .cpis
        .iter()
        .enumerate()
        .filter(|(_, c)| !lossy.contains(&c.0))
        .collect();
    assert_eq!(
        whole.iter().map(|(_, c)| c.0).collect::<Vec<_>>(),
        [0, 2, 4],
        "pattern as documented"
    );
    assert_eq!(cpis.len(), whole.len());
    for (cpi, &(seen, &(k, _, _, el, az, _))) in cpis.iter().zip(&whole) {
        assert_eq!(
            cpi.meta.index, seen as u64,
            "CPI {k}: index among CPIs received"
        );
        let (s, ps) = pat.time(k, 0, 0);
        assert_eq!(
            cpi.meta.time_utc.unix_timestamp_nanos(),
            i128::from(s) * 1_000_000_000 + i128::from(ps / 1000),
            "CPI {k}: time"
        );
        assert_eq!(cpi.meta.carrier_hz, pat.rf_hz);
        assert_eq!((cpi.meta.elevation_deg, cpi.meta.azimuth_deg), (el, az));
        assert_eq!(cpi.samples().dim(), (1, pat.p, pat.n));
        for m in 0..pat.p {
            for n in 0..pat.n {
                let (i, q) = pat.sample(k, m, n);
                let z = cpi.samples()[[0, m, n]];
                assert_eq!(
                    (z.re, z.im),
                    (f32::from(i) / 32768.0, f32::from(q) / 32768.0),
                    "CPI {k} pulse {m} sample {n}"
                );
            }
        }
    }
    assert_eq!(
        *asm.counters(),
        VrtCounters {
            packets_received: (pat.data_packets + pat.context_packets) as u64,
            cpis_emitted: 3,
            cpis_dropped: CpiDrops {
                sample_loss: 1,
                ..Default::default()
            },
            ..Default::default()
        }
    );
}
