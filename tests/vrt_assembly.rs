//! CPI assembly from synthetic packet sequences (P = 4 pulses, N = 37 samples,
//! 16 samples per packet unless a test says otherwise). Packets are built word
//! by word from formats.md §3, like a digitizer would send them.

use tews::cpi::Cpi;
use tews::ingest::vrt::{AssemblerConfig, CpiAssembler, CpiDrops, VrtCounters};

const SID: u32 = 0x7E5A_0001;
const P: usize = 4;
const N: usize = 37;
const T0_SEC: u64 = 1_700_000_000;
const PRI_PS: u64 = 100_000_000;
const SAMPLE_PS: u64 = 100_000;
const RF_HZ: u64 = 9_410_000_000;

/// Beam of one CPI: elevation and azimuth as the pointing word's halves.
#[derive(Clone, Copy)]
struct Beam {
    el_q7: i16,
    az_q7: u16,
}

const BEAM_A: Beam = Beam {
    el_q7: 192,    // 1.5 deg
    az_q7: 0x16A0, // 45.25 deg
};
const BEAM_B: Beam = Beam {
    el_q7: -257,   // -2.0078125 deg
    az_q7: 0xB3FF, // 359.9921875 deg
};

/// A digitizer model: keeps the two packet counts, cuts pulses into packets.
struct Digitizer {
    stream_id: u32,
    data_count: u32,
    context_count: u32,
    spp: usize,
}

/// Sample n of pulse m of CPI k: unique per (k, m, n), Q = -1 - I.
fn sample(k: usize, m: usize, n: usize) -> (i16, i16) {
    let i = ((k * 4096 + m * 64 + n) & 0x7FFF) as i16;
    (i, -1 - i)
}

/// Time of sample n of pulse m of CPI k as (seconds, picoseconds); starts
/// 0.2 ms before a second boundary so timestamps roll over.
fn time(k: usize, m: usize, n: usize) -> (u32, u64) {
    let ps = 999_800_000_000 + ((k * P + m) as u64) * PRI_PS + n as u64 * SAMPLE_PS;
    (
        (T0_SEC + ps / 1_000_000_000_000) as u32,
        ps % 1_000_000_000_000,
    )
}

fn bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

impl Digitizer {
    fn new(spp: usize) -> Self {
        Digitizer {
            stream_id: SID,
            data_count: 0,
            context_count: 0,
            spp,
        }
    }

    /// The context packet for CPI k with `beam`.
    fn context(&mut self, k: usize, beam: Beam) -> Vec<u8> {
        let (s, ps) = time(k, 0, 0);
        let rf = (RF_HZ << 20) | (1 << 19); // + 0.5 Hz
        let sr = 10_000_000u64 << 20;
        let w = [
            0x4260_0000 | (self.context_count << 16) | 12,
            self.stream_id,
            s,
            (ps >> 32) as u32,
            ps as u32,
            0x8820_0002,
            0x2000_0000,
            (rf >> 32) as u32,
            rf as u32,
            (sr >> 32) as u32,
            sr as u32,
            ((beam.el_q7 as u16 as u32) << 16) | u32::from(beam.az_q7),
        ];
        self.context_count = (self.context_count + 1) % 16;
        bytes(&w)
    }

    /// The data packets of pulse m of CPI k, `n_samples` long.
    fn pulse(&mut self, k: usize, m: usize, n_samples: usize) -> Vec<Vec<u8>> {
        let starts: Vec<usize> = (0..n_samples).step_by(self.spp).collect();
        let mut out = Vec::new();
        for (j, &n0) in starts.iter().enumerate() {
            let n1 = (n0 + self.spp).min(n_samples);
            let frame = match (j == 0, j == starts.len() - 1) {
                (true, true) => 0,
                (true, false) => 1,
                (false, false) => 2,
                (false, true) => 3,
            };
            let (s, ps) = time(k, m, n0);
            let mut w = vec![
                0x1660_0000 | (self.data_count << 16) | (n1 - n0 + 6) as u32,
                self.stream_id,
                s,
                (ps >> 32) as u32,
                ps as u32,
            ];
            for n in n0..n1 {
                let (i, q) = sample(k, m, n);
                w.push(((i as u16 as u32) << 16) | q as u16 as u32);
            }
            w.push(0x41D4_0000 | (frame << 10) | (u32::from(m == 0) << 8));
            self.data_count = (self.data_count + 1) % 16;
            out.push(bytes(&w));
        }
        out
    }

    /// Context packet and all data packets of CPI k.
    fn cpi(&mut self, k: usize, beam: Beam) -> Vec<Vec<u8>> {
        let mut out = vec![self.context(k, beam)];
        for m in 0..P {
            out.extend(self.pulse(k, m, N));
        }
        out
    }
}

fn assembler() -> CpiAssembler {
    CpiAssembler::new(AssemblerConfig {
        pulses_per_cpi: P,
        samples_per_pulse: N,
        stream_id: None,
    })
}

fn run(asm: &mut CpiAssembler, datagrams: &[Vec<u8>]) -> Vec<Cpi> {
    datagrams
        .iter()
        .filter_map(|d| asm.push_datagram(d))
        .collect()
}

/// Checks every sample and the metadata of an emitted CPI k.
fn assert_cpi(cpi: &Cpi, k: usize, index: u64, beam: Beam) {
    // The packets' counts, kept as ci16 for the GPU upload.
    assert!(cpi.decoded().is_none(), "converted before use");
    let (iq, scale) = cpi.ci16().expect("a live CPI keeps its ci16 counts");
    assert_eq!(scale, 1.0 / 32768.0);
    let want: Vec<i16> = (0..P)
        .flat_map(|m| (0..N).flat_map(move |n| <[i16; 2]>::from(sample(k, m, n))))
        .collect();
    assert_eq!(iq, want.as_slice(), "CPI {k} counts");
    assert_eq!(cpi.samples().dim(), (1, P, N));
    for m in 0..P {
        for n in 0..N {
            let (i, q) = sample(k, m, n);
            let z = cpi.samples()[[0, m, n]];
            assert_eq!(
                (z.re, z.im),
                (f32::from(i) / 32768.0, f32::from(q) / 32768.0),
                "CPI {k} pulse {m} sample {n}"
            );
        }
    }
    let meta = &cpi.meta;
    assert_eq!(meta.index, index);
    let (s, ps) = time(k, 0, 0);
    assert_eq!(
        meta.time_utc.unix_timestamp_nanos(),
        i128::from(s) * 1_000_000_000 + i128::from(ps / 1000)
    );
    assert_eq!(meta.carrier_hz, 9_410_000_000.5);
    assert_eq!(meta.elevation_deg, f64::from(beam.el_q7) / 128.0);
    assert_eq!(meta.azimuth_deg, f64::from(beam.az_q7) / 128.0);
    assert!(!meta.simulated);
}

fn drops(f: impl FnOnce(&mut CpiDrops)) -> CpiDrops {
    let mut d = CpiDrops::default();
    f(&mut d);
    d
}

#[test]
fn clean_stream_gives_every_cpi_with_every_sample() {
    for spp in [16, 5, 36, 37, 362] {
        let mut dig = Digitizer::new(spp);
        let beams = [BEAM_A, BEAM_B, BEAM_B, BEAM_A];
        let stream: Vec<Vec<u8>> = (0..4).flat_map(|k| dig.cpi(k, beams[k])).collect();
        let mut asm = assembler();
        let cpis = run(&mut asm, &stream);
        assert_eq!(cpis.len(), 4, "spp {spp}");
        for (k, cpi) in cpis.iter().enumerate() {
            assert_cpi(cpi, k, k as u64, beams[k]);
        }
        assert_eq!(
            *asm.counters(),
            VrtCounters {
                packets_received: stream.len() as u64,
                cpis_emitted: 4,
                ..Default::default()
            }
        );
        assert_eq!(asm.stream_id(), Some(SID));
    }
}

#[test]
fn lost_packet_drops_its_cpi() {
    // 13 packets per CPI at 16 samples per packet: context + 4 x (16, 16, 5).
    for lost in [1usize, 2, 3, 7, 12] {
        let mut dig = Digitizer::new(16);
        let mut stream: Vec<Vec<u8>> = (0..3).flat_map(|k| dig.cpi(k, BEAM_A)).collect();
        stream.remove(13 + lost); // a data packet of CPI 1
        let mut asm = assembler();
        let cpis = run(&mut asm, &stream);
        assert_eq!(cpis.len(), 2, "lost packet {lost} of CPI 1");
        assert_cpi(&cpis[0], 0, 0, BEAM_A);
        assert_cpi(&cpis[1], 2, 2, BEAM_A);
        let c = asm.counters();
        assert_eq!(c.packets_lost, 1);
        assert_eq!(c.cpis_dropped, drops(|d| d.packet_lost = 1));
        assert_eq!(c.cpis_incomplete, 0);
        assert_eq!(c.packets_outside_cpi, 0);
    }
}

#[test]
fn lost_cpi_start_packet_drops_that_cpi() {
    let mut dig = Digitizer::new(16);
    let mut stream: Vec<Vec<u8>> = (0..3).flat_map(|k| dig.cpi(k, BEAM_A)).collect();
    stream.remove(14); // CPI 1, pulse 0, samples 0..15: the CPI-start packet
    let mut asm = assembler();
    let cpis = run(&mut asm, &stream);
    assert_eq!(cpis.len(), 2);
    assert_cpi(&cpis[1], 2, 2, BEAM_A); // the dropped CPI keeps its index
    let c = asm.counters();
    assert_eq!(c.packets_lost, 1);
    assert_eq!(c.cpis_dropped, drops(|d| d.packet_lost = 1));
}

#[test]
fn lost_context_packet_drops_the_cpi_it_describes() {
    let mut dig = Digitizer::new(16);
    let mut stream: Vec<Vec<u8>> = (0..3).flat_map(|k| dig.cpi(k, BEAM_A)).collect();
    stream.remove(13); // context of CPI 1
    let mut asm = assembler();
    let cpis = run(&mut asm, &stream);
    assert_eq!(cpis.len(), 2);
    assert_cpi(&cpis[1], 2, 2, BEAM_A);
    let c = asm.counters();
    assert_eq!(c.packets_lost, 1); // seen in the context count at CPI 2's context
    assert_eq!(c.cpis_dropped, drops(|d| d.no_context = 1));
}

#[test]
fn context_with_another_cpis_timestamp_is_not_used() {
    let mut dig = Digitizer::new(16);
    let mut stream = dig.cpi(0, BEAM_A);
    let mut cpi1 = dig.cpi(1, BEAM_B);
    cpi1[0] = Digitizer {
        context_count: 1,
        ..Digitizer::new(16)
    }
    .context(7, BEAM_B); // right count, wrong time
    stream.extend(cpi1);
    let mut asm = assembler();
    let cpis = run(&mut asm, &stream);
    assert_eq!(cpis.len(), 1);
    assert_eq!(asm.counters().cpis_dropped, drops(|d| d.no_context = 1));
}

#[test]
fn context_change_applies_to_the_next_cpi() {
    let mut dig = Digitizer::new(16);
    let mut stream = dig.cpi(0, BEAM_A);
    // The beam-B context arrives while CPI 0 is still being collected: it must
    // not relabel CPI 0, and it labels CPI 1.
    let ctx_b = dig.context(1, BEAM_B);
    stream.insert(5, ctx_b);
    for m in 0..P {
        stream.extend(dig.pulse(1, m, N));
    }
    stream.extend(dig.cpi(2, BEAM_A));
    let mut asm = assembler();
    let cpis = run(&mut asm, &stream);
    assert_eq!(cpis.len(), 3);
    assert_cpi(&cpis[0], 0, 0, BEAM_A);
    assert_cpi(&cpis[1], 1, 1, BEAM_B);
    assert_cpi(&cpis[2], 2, 2, BEAM_A);
}

#[test]
fn duplicates_are_ignored() {
    let mut dig = Digitizer::new(16);
    let mut stream: Vec<Vec<u8>> = (0..2).flat_map(|k| dig.cpi(k, BEAM_A)).collect();
    let dup_data = stream[5].clone();
    let dup_ctx = stream[13].clone();
    stream.insert(6, dup_data);
    stream.insert(15, dup_ctx); // after the insert above, index 14 is CPI 1's context
    let mut asm = assembler();
    let cpis = run(&mut asm, &stream);
    assert_eq!(cpis.len(), 2);
    assert_cpi(&cpis[0], 0, 0, BEAM_A);
    assert_cpi(&cpis[1], 1, 1, BEAM_A);
    let c = asm.counters();
    assert_eq!(c.packets_duplicate, 2);
    assert_eq!(c.packets_lost, 0);
    assert_eq!(c.cpis_dropped.total(), 0);
}

#[test]
fn reordered_packets_count_as_late_and_drop_the_cpi() {
    let mut dig = Digitizer::new(16);
    let mut stream: Vec<Vec<u8>> = (0..3).flat_map(|k| dig.cpi(k, BEAM_A)).collect();
    stream.swap(17, 18); // two data packets of CPI 1
    let mut asm = assembler();
    let cpis = run(&mut asm, &stream);
    assert_eq!(cpis.len(), 2);
    assert_cpi(&cpis[1], 2, 2, BEAM_A);
    let c = asm.counters();
    assert_eq!(c.packets_late, 1);
    assert_eq!(c.packets_lost, 0, "the late packet is not lost");
    assert_eq!(c.cpis_dropped, drops(|d| d.packet_lost = 1));
}

#[test]
fn truncated_or_corrupt_datagram_drops_its_cpi() {
    let mut dig = Digitizer::new(16);
    let clean: Vec<Vec<u8>> = (0..3).flat_map(|k| dig.cpi(k, BEAM_A)).collect();
    // Truncated in the payload; trailer word zeroed; size field off by one.
    let mut zero_trailer = clean[20].clone();
    let len = zero_trailer.len();
    zero_trailer[len - 4..].fill(0);
    let mut bad_size = clean[20].clone();
    bad_size[3] += 1;
    for bad in [clean[20][..30].to_vec(), zero_trailer, bad_size, vec![]] {
        let mut stream = clean.clone();
        stream[20] = bad;
        let mut asm = assembler();
        let cpis = run(&mut asm, &stream);
        assert_eq!(cpis.len(), 2);
        assert_cpi(&cpis[0], 0, 0, BEAM_A);
        assert_cpi(&cpis[1], 2, 2, BEAM_A);
        let c = asm.counters();
        assert_eq!(c.packets_malformed, 1);
        assert_eq!(c.packets_received, clean.len() as u64);
        assert_eq!(c.packets_lost, 1, "its count gap");
        assert_eq!(c.cpis_dropped, drops(|d| d.packet_lost = 1));
    }
}

#[test]
fn sample_loss_flag_drops_the_cpi() {
    let mut dig = Digitizer::new(16);
    let mut stream: Vec<Vec<u8>> = (0..3).flat_map(|k| dig.cpi(k, BEAM_A)).collect();
    let len = stream[21].len();
    stream[21][len - 2] |= 1 << 4; // trailer bit 12
    let mut asm = assembler();
    let cpis = run(&mut asm, &stream);
    assert_eq!(cpis.len(), 2);
    assert_cpi(&cpis[1], 2, 2, BEAM_A);
    let c = asm.counters();
    assert_eq!(c.cpis_dropped, drops(|d| d.sample_loss = 1));
    assert_eq!(c.packets_lost, 0);
}

#[test]
fn invalid_data_flag_drops_the_cpi() {
    let mut dig = Digitizer::new(16);
    let mut stream: Vec<Vec<u8>> = (0..2).flat_map(|k| dig.cpi(k, BEAM_A)).collect();
    let len = stream[3].len();
    stream[3][len - 3] &= !(1 << 2); // trailer bit 18
    let mut asm = assembler();
    let cpis = run(&mut asm, &stream);
    assert_eq!(cpis.len(), 1);
    assert_cpi(&cpis[0], 1, 1, BEAM_A);
    assert_eq!(asm.counters().cpis_dropped, drops(|d| d.invalid_data = 1));
}

#[test]
fn unknown_stream_ids_are_counted_and_ignored() {
    let mut dig = Digitizer::new(16);
    let mut other = Digitizer::new(7);
    other.stream_id = 0x0BAD_0002;
    let mut stream = Vec::new();
    for k in 0..2 {
        // Interleave another channel's packets (its own counts) with ours.
        let ours = dig.cpi(k, BEAM_A);
        let theirs = other.cpi(k, BEAM_B);
        let n_theirs = theirs.len();
        let mut theirs = theirs.into_iter();
        for p in ours {
            stream.push(p);
            stream.extend(theirs.next());
        }
        stream.extend(theirs);
        assert!(n_theirs > 13);
    }
    let mut asm = CpiAssembler::new(AssemblerConfig {
        pulses_per_cpi: P,
        samples_per_pulse: N,
        stream_id: Some(SID),
    });
    let cpis = run(&mut asm, &stream);
    assert_eq!(cpis.len(), 2);
    assert_cpi(&cpis[0], 0, 0, BEAM_A);
    assert_cpi(&cpis[1], 1, 1, BEAM_A);
    let c = asm.counters();
    assert_eq!(c.packets_unknown_stream, 2 * (1 + 4 * 6));
    assert_eq!(c.packets_lost, 0);
    // Configured for a stream that never comes: nothing is assembled.
    let mut asm = CpiAssembler::new(AssemblerConfig {
        pulses_per_cpi: P,
        samples_per_pulse: N,
        stream_id: Some(42),
    });
    assert!(run(&mut asm, &stream).is_empty());
    assert_eq!(asm.counters().packets_unknown_stream, stream.len() as u64);
}

#[test]
fn pulse_length_other_than_n_drops_the_cpi() {
    // The site configuration says N = 37; the digitizer sends 36 or 38.
    for n_sent in [36usize, 38, 1] {
        let mut dig = Digitizer::new(16);
        let mut stream = dig.cpi(0, BEAM_A);
        stream.push(dig.context(1, BEAM_A));
        for m in 0..P {
            let len = if m == 2 { n_sent } else { N };
            stream.extend(dig.pulse(1, m, len));
        }
        stream.extend(dig.cpi(2, BEAM_A));
        let mut asm = assembler();
        let cpis = run(&mut asm, &stream);
        assert_eq!(cpis.len(), 2, "pulse of {n_sent}");
        assert_cpi(&cpis[1], 2, 2, BEAM_A);
        assert_eq!(asm.counters().cpis_dropped, drops(|d| d.bad_frame = 1));
    }
}

#[test]
fn sample_frame_out_of_sequence_drops_the_cpi() {
    // A frame with no final packet (hw/README.md: missing tlast at an SPP
    // boundary): pulse 1 of CPI 1 loses its final packet at the sender, so the
    // counts stay continuous and only the frame structure shows it.
    let mut dig = Digitizer::new(16);
    let mut stream = dig.cpi(0, BEAM_A);
    stream.push(dig.context(1, BEAM_A));
    for m in 0..P {
        let mut pkts = dig.pulse(1, m, N);
        if m == 1 {
            pkts.pop();
            dig.data_count = (dig.data_count + 15) % 16;
        }
        stream.extend(pkts);
    }
    stream.extend(dig.cpi(2, BEAM_A));
    let mut asm = assembler();
    let cpis = run(&mut asm, &stream);
    assert_eq!(cpis.len(), 2);
    assert_eq!(asm.counters().packets_lost, 0);
    assert_eq!(asm.counters().cpis_dropped, drops(|d| d.bad_frame = 1));
}

#[test]
fn short_cpi_is_incomplete_and_extra_pulses_are_outside() {
    let mut dig = Digitizer::new(16);
    let mut stream = Vec::new();
    // Pulses of a CPI whose start was before the capture began.
    for m in 2..P {
        stream.extend(dig.pulse(99, m, N));
    }
    // CPI 0 with only 3 pulses, then CPI 1 with 5, then CPI 2 cut off.
    stream.push(dig.context(0, BEAM_A));
    for m in 0..3 {
        stream.extend(dig.pulse(0, m, N));
    }
    stream.push(dig.context(1, BEAM_B));
    for m in 0..5 {
        stream.extend(dig.pulse(1, m, N));
    }
    stream.push(dig.context(2, BEAM_A));
    stream.extend(dig.pulse(2, 0, N));
    let mut asm = assembler();
    let cpis = run(&mut asm, &stream);
    assert_eq!(cpis.len(), 1);
    assert_cpi(&cpis[0], 1, 1, BEAM_B);
    let c = *asm.counters();
    assert_eq!(c.cpis_incomplete, 1);
    assert_eq!(c.packets_outside_cpi, 2 * 3 + 3);
    asm.finish();
    assert_eq!(asm.counters().cpis_incomplete, 2);
    assert_eq!(asm.counters().cpis_dropped.total(), 0);
}

#[test]
fn counts_wrap_modulo_16_without_false_gaps() {
    let mut dig = Digitizer::new(1); // 37 packets per pulse
    let stream: Vec<Vec<u8>> = (0..2).flat_map(|k| dig.cpi(k, BEAM_A)).collect();
    let mut asm = assembler();
    assert_eq!(run(&mut asm, &stream).len(), 2);
    assert_eq!(asm.counters().packets_lost, 0);
}

#[test]
fn cpi_start_bit_out_of_place_drops_the_cpi() {
    // Trailer bit 8 (CPI start) is in the second-to-last byte, bit 0.
    // Index 15: CPI 1 pulse 0 middle packet (bit cleared); index 21: CPI 1
    // pulse 2 middle packet (bit set).
    for (idx, set) in [(15usize, false), (21, true)] {
        let mut dig = Digitizer::new(16);
        let mut stream: Vec<Vec<u8>> = (0..3).flat_map(|k| dig.cpi(k, BEAM_A)).collect();
        let len = stream[idx].len();
        if set {
            stream[idx][len - 2] |= 1;
        } else {
            stream[idx][len - 2] &= !1;
        }
        let mut asm = assembler();
        let cpis = run(&mut asm, &stream);
        assert_eq!(cpis.len(), 2, "packet {idx}");
        assert_cpi(&cpis[1], 2, 2, BEAM_A);
        assert_eq!(asm.counters().cpis_dropped, drops(|d| d.bad_frame = 1));
    }
}
