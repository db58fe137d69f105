//! The live receiver's documented policies, through the library with a
//! caller-bound 127.0.0.1:0 socket: a CPI that finds the ingest queue full is
//! dropped and counted (the reader never blocks), a context packet whose
//! sample rate disagrees with the site drops the CPI it announces, the beam
//! and carrier of each context reach the CPI that follows, and received_at
//! is stamped. Packets come from the encoder (tested against tshark in
//! tests/vrt_encoder.rs); expected values are the inputs.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tews::ingest::udp::{LiveConfig, LiveSource, RecvBuffer};
use tews::ingest::vrt::encoder::{ContextFields, Timestamp, VrtEncoder};
use tews::ingest::vrt::{AssemblerConfig, Ci16};

const P: usize = 4;
const N: usize = 50;
const FS: f64 = 1e6;
/// Transmit to first sample: the CPI's time is its first timestamp minus this.
const WINDOW_DELAY_S: f64 = 0.25;

fn start(queue_cpis: usize, max_cpis: u64) -> (LiveSource, UdpSocket) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    let source = LiveSource::start(
        rx,
        RecvBuffer::default(),
        LiveConfig {
            assembler: AssemblerConfig {
                pulses_per_cpi: P,
                samples_per_pulse: N,
                stream_id: None,
            },
            stream_ids: Vec::new(),
            sum_channel: 0,
            sample_rate_hz: FS,
            window_delay_s: WINDOW_DELAY_S,
            queue_cpis,
            max_cpis: Some(max_cpis),
            idle_timeout: Some(Duration::from_secs(30)),
        },
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap();
    (source, tx)
}

/// Sends CPI `k` with sample rate `fs` and azimuth `10 k` degrees.
fn send_cpi(enc: &mut VrtEncoder, tx: &UdpSocket, k: u64, fs: f64) {
    let t = Timestamp {
        seconds: 1_700_000_000 + k as u32,
        picoseconds: 0,
    };
    let ctx = ContextFields {
        time: t,
        rf_frequency_hz: 3e9 + k as f64,
        sample_rate_hz: fs,
        azimuth_deg: 10.0 * k as f64,
        elevation_deg: 1.0,
    };
    tx.send(enc.context(&ctx)).unwrap();
    let samples: Vec<Ci16> = (0..N)
        .map(|n| Ci16 {
            i: (k * 100 + n as u64) as i16,
            q: -1,
        })
        .collect();
    for m in 0..P {
        let t = t.plus_picoseconds(m as u64 * 1_000_000_000);
        enc.pulse(t, fs, &samples, m == 0, |d| {
            tx.send(d).unwrap();
        });
        // Stay well inside the socket buffer on a loaded machine.
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn full_queue_drops_and_counts_and_wrong_sample_rate_drops_its_cpi() {
    // Queue of 1 and nobody consuming until all 4 CPIs are sent: CPI 0 is
    // queued, CPI 1 has the wrong rate, CPIs 2 and 3 find the queue full.
    let (source, tx) = start(1, 4);
    let mut enc = VrtEncoder::new(9, 16);
    for k in 0..4 {
        send_cpi(&mut enc, &tx, k, if k == 1 { FS * 1.01 } else { FS });
    }
    let stats = source.join_after(|cpis| cpis.collect::<Vec<_>>());
    let (stats, cpis) = stats;
    assert_eq!(stats.stop_reason, "max-cpis");
    assert_eq!(stats.cpis_assembled, 4);
    assert_eq!(stats.cpis_dropped_sample_rate, 1);
    assert_eq!(stats.cpis_dropped_queue_full, 2);
    assert_eq!(stats.cpis_dropped, 3);
    assert_eq!(stats.packets_lost, 0);
    assert_eq!(cpis.len(), 1);
    let cpi = cpis.into_iter().next().unwrap().unwrap();
    assert_eq!(cpi.meta.index, 0);
    assert!(cpi.meta.received_at.is_some());
}

#[test]
fn context_sets_carrier_and_beam_of_the_cpi_that_follows() {
    let (source, tx) = start(8, 3);
    let mut enc = VrtEncoder::new(9, 7);
    for k in 0..3 {
        send_cpi(&mut enc, &tx, k, FS);
    }
    let (stats, cpis) = source.join_after(|cpis| cpis.collect::<Vec<_>>());
    assert_eq!(stats.cpis_dropped, 0);
    assert_eq!(cpis.len(), 3);
    for (k, cpi) in cpis.into_iter().enumerate() {
        let cpi = cpi.unwrap();
        assert_eq!(cpi.meta.index, k as u64);
        assert_eq!(cpi.meta.carrier_hz, 3e9 + k as f64);
        assert_eq!(cpi.meta.azimuth_deg, 10.0 * k as f64);
        let first_sample =
            time::OffsetDateTime::from_unix_timestamp(1_700_000_000 + k as i64).unwrap();
        assert_eq!(
            first_sample - cpi.meta.time_utc,
            time::Duration::milliseconds(250)
        );
        assert_eq!(
            cpi.samples()[[0, P - 1, N - 1]].re,
            (k * 100 + N - 1) as f32 / 32768.0
        );
    }
}

#[test]
fn a_cpi_time_the_reader_cannot_compute_stops_it_with_a_receive_error() {
    // A window delay no site file passes (bounded there by pri_s): the
    // reader's checked time arithmetic must stop it with "receive error"
    // (which `tews run` turns into a failed run), never panic or emit the CPI.
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    let source = LiveSource::start(
        rx,
        RecvBuffer::default(),
        LiveConfig {
            assembler: AssemblerConfig {
                pulses_per_cpi: P,
                samples_per_pulse: N,
                stream_id: None,
            },
            stream_ids: Vec::new(),
            sum_channel: 0,
            sample_rate_hz: FS,
            window_delay_s: 1e30,
            queue_cpis: 4,
            max_cpis: Some(2),
            idle_timeout: Some(Duration::from_secs(30)),
        },
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap();
    let mut enc = VrtEncoder::new(9, 16);
    // Its last pulse completes CPI 0; the reader then stops (and closes the
    // socket), so nothing more is sent.
    send_cpi(&mut enc, &tx, 0, FS);
    let (stats, cpis) = source.join_after(|cpis| cpis.collect::<Vec<_>>());
    assert!(
        stats.stop_reason.starts_with("receive error: CPI 0"),
        "{}",
        stats.stop_reason
    );
    assert!(
        stats.stop_reason.contains("window_delay_s"),
        "{}",
        stats.stop_reason
    );
    assert!(cpis.is_empty());
}
