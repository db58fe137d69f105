//! The detector never waits for the network: a simulated recording runs
//! through the CPU chain into an `asterix+udp` output aimed at a port nobody
//! listens on, an output that stalls in its first write until the last CPI
//! was processed, an `asterix-file` and a `jsonl` file. Asserted on counts
//! and completion, not timing:
//!
//! - the run completes: the stalled output is released only from the
//!   detector's callback for the last CPI, so a detector that waited for it
//!   would never get there (a fallback release after a minute turns that
//!   deadlock into a failure);
//! - every CPI is processed, and for every output sent + dropped + queued is
//!   the number of plots, with the absent listener's refusals counted;
//! - the file outputs are complete: every plot is a JSON line, and
//!   libasterix finds every plot as a CAT048 record and the north marker and
//!   sector crossings the beam passed as CAT034 records.

#[path = "common/asterix.rs"]
mod asterix_check;
mod common;

use asterix_check::*;
use std::sync::mpsc;
use std::time::Duration;
use tews::ingest::sigmf::Recording;
use tews::output::asterix::cat048::Cat048Config;
use tews::output::{OutputError, OutputSpec, Overflow, PlotSink};
use tews::pipeline;
use tews::plots::Plot;
use tews::process::cpu::CpuChain;
use tews::process::{ChainPlan, ProcessConfig};
use tews::sim::Scenario;

const CPIS: u64 = 40;
const QUEUE_CPIS: usize = 4;
const AZ_START_DEG: f64 = 200.0;
const AZ_STEP_DEG: f64 = 7.5;

const SCENARIO: &str = r#"
num_cpis = 40
start_time = "2025-06-01T12:00:00Z"
noise_power = 1.0
[radar]
sample_rate_hz = 10e6
carrier_hz = 1.3e9
pulses_per_cpi = 16
samples_per_pulse = 512
pri_s = 250e-6
window_delay_s = 40e-6
waveform = { type = "lfm", bandwidth_hz = 8e6, pulse_width_s = 10e-6 }
[beam]
azimuth_start_deg = 200.0
azimuth_step_deg = 7.5
[[targets]]
range_m = 9000.0
range_rate_mps = 50.0
snr_db = 0.0
phase_deg = 0.0
[[targets]]
range_m = 11000.0
range_rate_mps = -120.0
snr_db = 3.0
phase_deg = 0.0
"#;

/// A network-like output (drop oldest) whose first write waits until the
/// test releases it.
struct StalledSink {
    release: mpsc::Receiver<()>,
    stalled: bool,
    released_in_time: mpsc::Sender<bool>,
}

impl PlotSink for StalledSink {
    fn name(&self) -> &str {
        "stalled"
    }
    fn overflow(&self) -> Overflow {
        Overflow::DropOldest
    }
    fn write(&mut self, _plots: &[Plot]) -> Result<(), OutputError> {
        if !self.stalled {
            self.stalled = true;
            let ok = self.release.recv_timeout(Duration::from_secs(60)).is_ok();
            let _ = self.released_in_time.send(ok);
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}

#[test]
fn absent_and_stalled_outputs_leave_the_detector_at_full_rate() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::from_toml_str(SCENARIO, "test scenario").unwrap();
    tews::sim::simulate(&scenario, 7, &dir.path().join("rec")).unwrap();
    let recording = Recording::open(&dir.path().join("rec.sigmf-meta")).unwrap();
    assert_eq!(recording.num_cpis, CPIS);

    // A port that was free a moment ago: nobody listens there.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = Cat048Config {
        site: SITE,
        simulated: true,
    };
    let ast = dir.path().join("plots.ast");
    let jsonl = dir.path().join("plots.jsonl");
    let mut sinks: Vec<Box<dyn PlotSink>> = [
        format!("asterix+udp://127.0.0.1:{port}"),
        format!("asterix-file:{}", ast.display()),
        format!("jsonl:{}", jsonl.display()),
    ]
    .iter()
    .map(|s| {
        s.parse::<OutputSpec>()
            .unwrap()
            .with_asterix(config)
            .open()
            .unwrap()
    })
    .collect();
    let (release, release_rx) = mpsc::channel();
    let (in_time_tx, in_time) = mpsc::channel();
    sinks.push(Box::new(StalledSink {
        release: release_rx,
        stalled: false,
        released_in_time: in_time_tx,
    }));
    let outputs = tews::output::Outputs::start(sinks, QUEUE_CPIS);
    let monitor = outputs.monitor();

    let plan = ChainPlan::new(&recording.params, &ProcessConfig::default()).unwrap();
    let mut chain = CpuChain::new(plan.clone());
    let mut plots = Vec::new();
    let summary = pipeline::run(
        recording.cpis().unwrap(),
        &tews::plots::PlotMaker::new(&recording.params, &plan, recording.site()),
        &mut chain,
        outputs,
        |k, _, p| {
            plots.extend_from_slice(p);
            if k == CPIS - 1 {
                let _ = release.send(());
            }
        },
    )
    .unwrap();
    assert!(
        in_time.recv().unwrap(),
        "the detector waited for the stalled output"
    );

    assert_eq!(summary.cpis, CPIS);
    assert_eq!(summary.cpis_rejected, 0);
    assert_eq!(summary.plots, plots.len() as u64);
    assert!(
        summary.plots >= CPIS,
        "both targets give plots: {}",
        summary.plots
    );
    assert_eq!(
        summary.outputs,
        monitor.snapshot(),
        "the monitor sees the same"
    );
    let by_name = |name: &str| {
        summary
            .outputs
            .iter()
            .find(|o| o.name.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {:?}", summary.outputs))
    };
    for o in &summary.outputs {
        assert_eq!(o.sent + o.dropped + o.queued, summary.plots, "{o:?}");
        assert_eq!(o.queued, 0, "{o:?}");
    }
    let udp = by_name("asterix+udp");
    assert!(udp.send_errors > 0, "ECONNREFUSED counted: {udp:?}");
    assert!(udp.dropped > 0, "{udp:?}");
    let stalled = by_name("stalled");
    assert!(stalled.dropped > 0, "{stalled:?}");
    // The batch it stalled in and at most a queue's worth after release.
    let largest_cpi = plots
        .chunk_by(|a, b| a.cpi == b.cpi)
        .map(<[Plot]>::len)
        .max()
        .unwrap() as u64;
    assert!(
        stalled.sent <= (1 + QUEUE_CPIS as u64) * largest_cpi,
        "{stalled:?}"
    );
    for file in ["asterix-file", "jsonl"] {
        let o = by_name(file);
        assert_eq!((o.sent, o.dropped), (summary.plots, 0), "{o:?}");
        assert!(o.latency_us_p99 >= o.latency_us_p50 && o.output_us_p99 >= o.output_us_p50);
        assert!(o.latency_us_p50 >= o.output_us_p50, "{o:?}");
    }

    let lines = std::fs::read_to_string(&jsonl).unwrap().lines().count();
    assert_eq!(lines as u64, summary.plots);
    let Some(py) = common::python_with(&["asterix.generated"]) else {
        return;
    };
    let records = decode_with_libasterix(&py, &ast);
    let cpis: Vec<Vec<Plot>> = plots
        .chunk_by(|a, b| a.cpi == b.cpi)
        .map(<[Plot]>::to_vec)
        .collect();
    check_records(
        "libasterix",
        &libasterix_records(&records),
        &expected(&cpis),
        true,
    );
    // The beam turns from 200 deg by 7.5 deg per CPI: sector boundaries
    // (every 11.25 deg) passed between CPI k-1 and k, at CPI k's time.
    let t0 = time::macros::datetime!(2025-06-01 12:00:00 UTC);
    let cpi_s = 16.0 * 250e-6;
    let mut want = Vec::new();
    for k in 1..CPIS {
        let a = AZ_START_DEG + AZ_STEP_DEG * (k - 1) as f64;
        let b = a + AZ_STEP_DEG;
        let t = t0 + time::Duration::seconds_f64(cpi_s * k as f64);
        let tod = (t - t.replace_time(time::Time::MIDNIGHT)).as_seconds_f64();
        for j in (a / 11.25).floor() as i64 + 1..=(b / 11.25).floor() as i64 {
            let start = (j as f64 * 11.25).rem_euclid(360.0);
            want.push(if start == 0.0 {
                (1, tod, None)
            } else {
                (2, tod, Some(start))
            });
        }
    }
    assert_eq!(want.iter().filter(|w| w.0 == 1).count(), 1, "north once");
    check_service("libasterix", &libasterix_service(&records), &want);
}
