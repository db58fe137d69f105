//! Live ingest end to end over loopback: a simulated ci16 recording is
//! replayed (`tews replay`) into `tews run --input vrt+udp://127.0.0.1:0`,
//! and the plots must be those of processing the file directly (the
//! independent reference: the file path never touches VRT). With deliberate
//! loss, the CPIs the replay reports damaged must be exactly the ones
//! dropped, and no plot may come from them. Metrics are scraped mid-run and
//! parsed by the Python prometheus_client OpenMetrics parser.
//!
//! Timing: the receiver binds port 0 and logs the port; replays that must
//! be lossless are paced at half the recording's rate (about 40 ms, a few
//! KiB per pulse), so even the default 416 KiB socket buffer rides out the
//! receiver thread being descheduled for tens of ms on a loaded machine.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::tews_bin;

const SCENARIO: &str = r#"
num_cpis = 6
start_time = "2025-06-01T12:00:00.123456789Z"
noise_power = 1.0
datatype = "ci16_le"

[radar]
sample_rate_hz = 10e6
carrier_hz = 1.3e9
pulses_per_cpi = 32
samples_per_pulse = 500
pri_s = 100e-6
window_delay_s = 10e-6
waveform = { type = "lfm", bandwidth_hz = 5e6, pulse_width_s = 10e-6 }

[beam]
azimuth_start_deg = 40.0
azimuth_step_deg = 0.25
elevation_deg = 2.0
beamwidth_deg = 3.0

[[targets]]
range_m = 3000.0
range_rate_mps = -100.0
snr_db = 0.0

[[targets]]
range_m = 9000.0
range_rate_mps = 250.0
snr_db = -3.0
"#;

/// The site file matching SCENARIO's radar.
const SITE: &str = r#"
[site]
name = "test"
sac = 1
sic = 2
[radar]
sample_rate_hz = 10e6
carrier_hz = 1.3e9
pulses_per_cpi = 32
samples_per_pulse = 500
pri_s = 100e-6
window_delay_s = 10e-6
[radar.waveform]
type = "lfm"
bandwidth_hz = 5e6
pulse_width_s = 10e-6
"#;

struct Fixture {
    dir: tempfile::TempDir,
    rec: PathBuf,
    site: PathBuf,
    /// Plots of processing the recording directly, one JSON line each.
    file_plots: Vec<String>,
}

fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().expect("run tews");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn fixture() -> Fixture {
    fixture_of(SCENARIO, SITE)
}

/// SCENARIO as a monopulse receiver: three channels, targets off the beam
/// axis, the site position known.
fn monopulse_scenario() -> String {
    SCENARIO
        .replace(
            "datatype = \"ci16_le\"\n",
            "datatype = \"ci16_le\"\nchannels = [\"delta_el\", \"sum\", \"delta_az\"]\n\
         [site]\nlatitude_deg = 60.0\nlongitude_deg = 25.0\nheight_m = 50.0\n",
        )
        .replace(
            "snr_db = 0.0\n",
            "snr_db = 0.0\nbeam_offset_az_deg = 0.8\nbeam_offset_el_deg = -0.5\n",
        )
        .replace(
            "snr_db = -3.0\n",
            "snr_db = -3.0\nbeam_offset_az_deg = -0.4\n",
        )
}

/// SITE for the monopulse scenario: a stream per channel (in the
/// recording's channel order, as `tews replay` numbers them from
/// --stream-id), the calibration and the site position.
const MONOPULSE_SITE: &str = r#"
[site]
name = "test"
sac = 1
sic = 2
latitude_deg = 60.0
longitude_deg = 25.0
height_m = 50.0
[radar]
sample_rate_hz = 10e6
carrier_hz = 1.3e9
pulses_per_cpi = 32
samples_per_pulse = 500
pri_s = 100e-6
window_delay_s = 10e-6
channels = ["delta_el", "sum", "delta_az"]
stream_ids = [7, 8, 9]
[radar.waveform]
type = "lfm"
bandwidth_hz = 5e6
pulse_width_s = 10e-6
[radar.monopulse]
beamwidth_az_deg = 3.0
beamwidth_el_deg = 3.0
slope_az = 1.6
slope_el = 1.6
"#;

/// A fixture of `scenario` with the single-channel SITE.
fn fixture_with(scenario: &str) -> Fixture {
    fixture_of(scenario, SITE)
}

fn fixture_of(scenario: &str, site_toml: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let scen = dir.path().join("scenario.toml");
    std::fs::write(&scen, scenario).unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(&site, site_toml).unwrap();
    let prefix = dir.path().join("rec");
    run_ok(
        Command::new(tews_bin())
            .args(["-q", "simulate", "--scenario"])
            .arg(&scen)
            .arg("--out")
            .arg(&prefix),
    );
    let rec = dir.path().join("rec.sigmf-meta");
    let plots = dir.path().join("file.jsonl");
    run_ok(
        Command::new(tews_bin())
            .args(["-q", "run", "--input"])
            .arg(&rec)
            .arg("--output")
            .arg(format!("jsonl:{}", plots.display())),
    );
    let file_plots = lines(&plots);
    assert!(
        file_plots.len() >= 6,
        "the scenario should give plots in every CPI"
    );
    Fixture {
        dir,
        rec,
        site,
        file_plots,
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// A `tews run` on live input, with the addresses it logged.
struct LiveRun {
    child: Child,
    udp_port: u16,
    metrics_port: Option<u16>,
    stderr: mpsc::Receiver<String>,
}

/// Starts `tews run --input vrt+udp://127.0.0.1:0` with `extra` arguments
/// and waits for it to log its port(s).
fn start_live(f: &Fixture, name: &str, extra: &[&str]) -> LiveRun {
    let mut child = Command::new(tews_bin())
        .args(["run", "--input", "vrt+udp://127.0.0.1:0", "--site"])
        .arg(&f.site)
        .arg("--output")
        .arg(format!(
            "jsonl:{}",
            f.dir.path().join(format!("{name}.jsonl")).display()
        ))
        .arg("--summary")
        .arg(f.dir.path().join(format!("{name}.summary.json")))
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tews run");
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[tews run] {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let want_metrics = extra.contains(&"--metrics");
    let (mut udp_port, mut metrics_port) = (None, None);
    let port_after = |line: &str, marker: &str| -> Option<u16> {
        let rest = &line[line.find(marker)? + marker.len()..];
        let addr: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '/')
            .collect();
        addr.trim_end_matches(':').rsplit(':').next()?.parse().ok()
    };
    while udp_port.is_none() || (want_metrics && metrics_port.is_none()) {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("tews run logs its listening address");
        udp_port = udp_port.or_else(|| port_after(&line, "listening on udp "));
        metrics_port = metrics_port.or_else(|| port_after(&line, "metrics on http://"));
    }
    LiveRun {
        child,
        udp_port: udp_port.unwrap(),
        metrics_port,
        stderr: rx,
    }
}

fn wait(run: &mut LiveRun) {
    for _ in 0..1200 {
        if let Some(status) = run.child.try_wait().unwrap() {
            assert!(status.success(), "tews run failed");
            while run.stderr.try_recv().is_ok() {}
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = run.child.kill();
    panic!("tews run did not stop within 120 s");
}

fn replay(f: &Fixture, port: u16, extra: &[&str]) -> serde_json::Value {
    let summary = f.dir.path().join("replay.json");
    run_ok(
        Command::new(tews_bin())
            .args(["-q", "replay"])
            .arg(&f.rec)
            .arg("--to")
            .arg(format!("udp://127.0.0.1:{port}"))
            .args(["--samples-per-packet", "100", "--summary"])
            .arg(&summary)
            .args(extra),
    );
    serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap()
}

fn summary(f: &Fixture, name: &str) -> serde_json::Value {
    let path = f.dir.path().join(format!("{name}.summary.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn replayed_recording_gives_the_files_plots() {
    let f = fixture();
    let mut run = start_live(&f, "clean", &["--max-cpis", "6", "--idle-timeout-s", "60"]);
    let sent = replay(&f, run.udp_port, &["--rate", "0.5"]);
    wait(&mut run);
    let live = lines(&f.dir.path().join("clean.jsonl"));
    assert_eq!(live, f.file_plots, "live plots differ from the file's");
    let s = summary(&f, "clean");
    assert_eq!(s["cpis"], 6);
    assert_eq!(s["stop_reason"], "max-cpis");
    assert_eq!(s["packets_received"], sent["packets_sent"]);
    // 6 CPIs x (1 context + 32 pulses x ceil(500 / 100) data packets).
    assert_eq!(sent["packets_sent"], 6 * (1 + 32 * 5));
    for k in [
        "packets_lost",
        "packets_malformed",
        "packets_duplicate",
        "cpis_dropped",
        "cpis_incomplete",
    ] {
        assert_eq!(s[k], 0, "{k}");
    }
}

#[test]
fn a_replayed_monopulse_recording_gives_the_files_measured_plots() {
    let f = fixture_of(&monopulse_scenario(), MONOPULSE_SITE);
    assert!(
        f.file_plots.iter().all(|l| l.contains("\"angle_source\":\"monopulse\"")
            && l.contains("\"latitude_deg\"")),
        "the file's plots are measured and geolocated: {:?}",
        f.file_plots
    );
    let mut run = start_live(&f, "mono", &["--max-cpis", "6", "--idle-timeout-s", "60"]);
    let sent = replay(&f, run.udp_port, &["--rate", "0.5", "--stream-id", "7"]);
    wait(&mut run);
    let live = lines(&f.dir.path().join("mono.jsonl"));
    assert_eq!(live, f.file_plots, "live plots differ from the file's");
    let s = summary(&f, "mono");
    assert_eq!(s["cpis"], 6);
    assert_eq!(s["monopulse_plots"], s["plots"]);
    assert_eq!(s["packets_received"], sent["packets_sent"]);
    // 3 channels x 6 CPIs x (1 context + 32 pulses x 5 data packets).
    assert_eq!(sent["packets_sent"], 3 * 6 * (1 + 32 * 5));
    for k in [
        "packets_lost",
        "cpis_dropped",
        "cpis_dropped_channel_missing",
        "packets_unknown_stream",
    ] {
        assert_eq!(s[k], 0, "{k}");
    }
}

#[test]
fn deliberately_lost_packets_drop_exactly_the_damaged_cpis() {
    lossy_replay(&fixture(), &["--loss", "0.01", "--seed", "3"]);
}

#[test]
fn a_monopulse_cpi_missing_any_channels_packets_is_dropped() {
    let f = fixture_of(&monopulse_scenario(), MONOPULSE_SITE);
    let s = lossy_replay(&f, &["--loss", "0.004", "--seed", "5", "--stream-id", "7"]);
    assert!(
        s["cpis_dropped_channel_missing"].as_u64().unwrap() > 0,
        "seed 5 damages a difference channel alone: {s}"
    );
}

/// Replays `f` with deliberate loss (`extra`), and checks that exactly the
/// CPIs the replay damaged are dropped and the others give the file's
/// plots. Returns the run's summary.
fn lossy_replay(f: &Fixture, extra: &[&str]) -> serde_json::Value {
    // Ends by idle timeout: a CPI whose tail is lost is only known
    // incomplete when the input ends.
    let mut run = start_live(f, "lossy", &["--idle-timeout-s", "2"]);
    let args: Vec<&str> = ["--rate", "0.5"].iter().chain(extra).copied().collect();
    let sent = replay(f, run.udp_port, &args);
    wait(&mut run);
    let damaged: Vec<u64> = sent["damaged_cpis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(
        !damaged.is_empty() && damaged.len() < 6,
        "the seed damages some CPIs, not all: {damaged:?}"
    );
    let s = summary(f, "lossy");
    let dropped = s["cpis_dropped"].as_u64().unwrap() + s["cpis_incomplete"].as_u64().unwrap();
    assert_eq!(dropped, damaged.len() as u64, "{s}");
    assert_eq!(s["cpis"].as_u64().unwrap(), 6 - damaged.len() as u64);
    assert_eq!(s["stop_reason"], "idle-timeout");
    let lost = s["packets_lost"].as_u64().unwrap();
    let deliberately = sent["packets_dropped"].as_u64().unwrap();
    if sent["last_packet_dropped"] == false {
        assert_eq!(lost, deliberately, "every gap is counted");
    } else {
        assert!(lost < deliberately);
    }
    // The undamaged CPIs' plots, exactly; none from a damaged CPI.
    let expected: Vec<String> = f
        .file_plots
        .iter()
        .filter(|l| {
            let p: serde_json::Value = serde_json::from_str(l).unwrap();
            !damaged.contains(&p["cpi"].as_u64().unwrap())
        })
        .cloned()
        .collect();
    assert_eq!(lines(&f.dir.path().join("lossy.jsonl")), expected);
    s
}

#[test]
fn metrics_scraped_mid_run_parse_with_prometheus_client() {
    let Some(py) = common::python_with(&["prometheus_client"]) else {
        return;
    };
    let f = fixture();
    let mut run = start_live(
        &f,
        "metrics",
        &["--idle-timeout-s", "4", "--metrics", "127.0.0.1:0"],
    );
    let sent = replay(&f, run.udp_port, &["--rate", "0.5"]);
    // The run is still up (idle timeout not reached); wait until it has
    // processed all 6 CPIs, then scrape.
    let script = r#"
import sys, time, urllib.request
from prometheus_client.openmetrics.parser import text_string_to_metric_families
url = sys.argv[1]
for _ in range(100):
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    done = [s.value for s in fams["tews_cpis_processed"].samples if s.name.endswith("_total")]
    if done and done[0] >= 6:
        break
    time.sleep(0.05)
for f in fams.values():
    for s in f.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        print(f"{f.type} {s.name} {labels} {s.value}")
"#;
    let url = format!("http://127.0.0.1:{}/metrics", run.metrics_port.unwrap());
    let out = Command::new(&py)
        .arg("-c")
        .arg(script)
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    wait(&mut run);
    let value = |name: &str, labels: &str| -> f64 {
        text.lines()
            .find_map(|l| {
                let mut p = l.split(' ');
                let (_, n, lab, v) = (p.next()?, p.next()?, p.next()?, p.next()?);
                (n == name && lab == labels).then(|| v.parse().unwrap())
            })
            .unwrap_or_else(|| panic!("{name}{{{labels}}} not in:\n{text}"))
    };
    let s = summary(&f, "metrics");
    let n = |k: &str| s[k].as_u64().unwrap() as f64;
    assert_eq!(
        value("tews_packets_received_total", ""),
        sent["packets_sent"].as_u64().unwrap() as f64
    );
    assert_eq!(
        value("tews_packets_received_total", ""),
        n("packets_received")
    );
    assert_eq!(value("tews_packets_lost_total", ""), 0.0);
    assert_eq!(value("tews_cpis_processed_total", ""), 6.0);
    assert_eq!(value("tews_cpis_dropped_total", "reason=queue_full"), 0.0);
    assert_eq!(value("tews_detections_total", ""), n("detections"));
    assert_eq!(value("tews_plots_total", ""), n("plots"));
    assert_eq!(value("tews_ingest_queue_depth", ""), 0.0);
    let jsonl = format!(
        "output=jsonl:{}",
        f.dir.path().join("metrics.jsonl").display()
    );
    assert!(value("tews_output_queued_plots", &jsonl) >= 0.0);
    assert_eq!(value("tews_processing_latency_seconds_count", ""), 6.0);
    let sum = value("tews_processing_latency_seconds_sum", "");
    assert!(sum > 0.0 && sum < 600.0, "latency sum {sum} s");
    assert_eq!(
        value("tews_processing_latency_seconds_bucket", "le=+Inf"),
        6.0
    );
}

#[test]
fn bad_live_inputs_are_one_line_errors_naming_the_input() {
    let f = fixture();
    let err = |args: &[&str]| -> String {
        let out = Command::new(tews_bin())
            .args(["-q", "run"])
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        let e = String::from_utf8_lossy(&out.stderr).trim().to_string();
        assert_eq!(e.lines().count(), 1, "one line: {e}");
        e
    };
    let site = f.site.to_str().unwrap();
    let e = err(&["--input", "vrt+udp://127.0.0.1", "--site", site]);
    assert!(
        e.contains("vrt+udp://127.0.0.1:") && e.contains("HOST:PORT"),
        "{e}"
    );
    let e = err(&["--input", "vrt+tcp://127.0.0.1:5", "--site", site]);
    assert!(e.contains("vrt+tcp://127.0.0.1:5"), "{e}");
    let e = err(&["--input", "vrt+udp://127.0.0.1:0"]);
    assert!(
        e.contains("vrt+udp://127.0.0.1:0") && e.contains("--site"),
        "{e}"
    );
    let no_radar = f.dir.path().join("noradar.toml");
    std::fs::write(&no_radar, SITE.split("[radar]").next().unwrap()).unwrap();
    let e = err(&[
        "--input",
        "vrt+udp://127.0.0.1:0",
        "--site",
        no_radar.to_str().unwrap(),
    ]);
    assert!(e.contains("noradar.toml") && e.contains("[radar]"), "{e}");
    // Port in use: hold it here.
    let held = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let url = format!("vrt+udp://{}", held.local_addr().unwrap());
    let out_file = f.dir.path().join("never.jsonl");
    let e = err(&[
        "--input",
        &url,
        "--site",
        site,
        "--output",
        &format!("jsonl:{}", out_file.display()),
    ]);
    assert!(e.contains(&url) && e.contains("bind"), "{e}");
    assert!(
        !out_file.exists(),
        "no output is created before the socket is bound"
    );
    let e = err(&["--input", f.rec.to_str().unwrap(), "--max-cpis", "3"]);
    assert!(e.contains("--max-cpis") && e.contains("live"), "{e}");
}

#[test]
fn sigterm_stops_cleanly_with_outputs_flushed_and_the_summary_written() {
    let f = fixture();
    let mut run = start_live(&f, "signal", &[]);
    replay(&f, run.udp_port, &["--rate", "max"]);
    // Wait until all 6 CPIs' plots are in the output, then signal.
    let summary_path = f.dir.path().join("signal.summary.json");
    std::thread::sleep(Duration::from_millis(500));
    let pid = run.child.id().to_string();
    let ok = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(ok.success());
    wait(&mut run);
    let s = summary(&f, "signal");
    assert_eq!(s["stop_reason"], "signal", "{}", summary_path.display());
    // Whatever was processed was flushed: the output is complete, not .partial.
    let live = lines(&f.dir.path().join("signal.jsonl"));
    assert_eq!(live.len() as u64, s["plots"].as_u64().unwrap());
    assert!(live.iter().all(|l| f.file_plots.contains(l)));
}

#[test]
fn a_float_recording_is_scaled_to_fit_and_gives_the_files_plots() {
    // Issue 12 item 8: a cf32 recording (noise rms 1) sent at full scale 1.0
    // saturated most samples and changed the plots. Replay scales it by its
    // peak, so nothing saturates and the live plots are the file's (the
    // CFAR is scale invariant; SNRs differ only by ci16 quantization).
    let f = fixture_with(&SCENARIO.replace("datatype = \"ci16_le\"", "datatype = \"cf32_le\""));
    let mut run = start_live(&f, "float", &["--max-cpis", "6", "--idle-timeout-s", "60"]);
    let sent = replay(&f, run.udp_port, &["--rate", "0.5"]);
    wait(&mut run);
    assert_eq!(sent["samples_clipped"], 0);
    let fs = sent["full_scale"].as_f64().unwrap();
    assert!(
        fs > 1.0 && fs < 20.0,
        "the peak of unit-power noise and targets: {fs}"
    );
    let parse = |l: &String| serde_json::from_str::<serde_json::Value>(l).unwrap();
    let live: Vec<serde_json::Value> = lines(&f.dir.path().join("float.jsonl"))
        .iter()
        .map(parse)
        .collect();
    let file: Vec<serde_json::Value> = f.file_plots.iter().map(parse).collect();
    assert_eq!(live.len(), file.len(), "plot count");
    for (l, r) in live.iter().zip(&file) {
        assert_eq!(l["cpi"], r["cpi"]);
        for (k, tol) in [("range_bin", 0.01), ("doppler_bin", 0.01), ("snr_db", 0.05)] {
            let d = (l[k].as_f64().unwrap() - r[k].as_f64().unwrap()).abs();
            assert!(d <= tol, "{k}: live {l} file {r}");
        }
    }
    // --full-scale 1.0 is the old behaviour: the same recording saturates.
    let mut run = start_live(
        &f,
        "clipped",
        &["--max-cpis", "6", "--idle-timeout-s", "60"],
    );
    let sent = replay(&f, run.udp_port, &["--rate", "0.5", "--full-scale", "1.0"]);
    wait(&mut run);
    assert!(sent["samples_clipped"].as_u64().unwrap() > 0);
    assert_eq!(sent["full_scale"], 1.0);
}

/// Runs live input with `site_text` as the site file while the fixture's
/// recording is replayed into it; returns (stderr lines, summary, plots).
fn live_with_site(
    f: &Fixture,
    name: &str,
    site_text: &str,
) -> (Vec<String>, serde_json::Value, Vec<String>) {
    let site = f.dir.path().join(format!("{name}.toml"));
    std::fs::write(&site, site_text).unwrap();
    let g = Fixture {
        dir: tempfile::tempdir().unwrap(),
        rec: f.rec.clone(),
        site,
        file_plots: vec![],
    };
    let mut run = start_live(&g, name, &["--idle-timeout-s", "2"]);
    replay(&g, run.udp_port, &["--rate", "0.5"]);
    let mut stderr = Vec::new();
    let status = loop {
        while let Ok(line) = run.stderr.try_recv() {
            stderr.push(line);
        }
        if let Some(status) = run.child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    while let Ok(line) = run.stderr.recv_timeout(Duration::from_millis(200)) {
        stderr.push(line);
    }
    assert!(status.success(), "{stderr:?}");
    let plots = lines(&g.dir.path().join(format!("{name}.jsonl")));
    (stderr, summary(&g, name), plots)
}

#[test]
fn a_site_radar_table_that_disagrees_with_the_stream_is_named_once_and_gives_no_plots() {
    // Issue 12 item 7: the stream has 32 pulses of 500 samples per CPI.
    let f = fixture();
    let (stderr, s, plots) = live_with_site(
        &f,
        "short_p",
        &SITE.replace("pulses_per_cpi = 32", "pulses_per_cpi = 16"),
    );
    let said: Vec<&String> = stderr
        .iter()
        .filter(|l| l.contains("radar.pulses_per_cpi"))
        .collect();
    assert_eq!(said.len(), 1, "{stderr:?}");
    assert!(
        said[0].contains("is 16") && said[0].contains("have 32 pulses"),
        "{said:?}"
    );
    assert!(
        plots.is_empty(),
        "no plot from a CPI cut at 16 of 32 pulses"
    );
    assert_eq!(s["cpis"], 0);
    assert_eq!(s["cpis_dropped_radar_mismatch"], 6, "{s}");

    let (stderr, s, plots) = live_with_site(
        &f,
        "short_n",
        &SITE.replace("samples_per_pulse = 500", "samples_per_pulse = 250"),
    );
    let said: Vec<&String> = stderr
        .iter()
        .filter(|l| l.contains("radar.samples_per_pulse"))
        .collect();
    assert_eq!(said.len(), 1, "{stderr:?}");
    assert!(
        said[0].contains("is 250") && said[0].contains("have 500 samples"),
        "{said:?}"
    );
    assert!(plots.is_empty());
    assert_eq!(s["cpis"], 0);
    assert_eq!(s["cpis_dropped_bad_frame"], 6, "{s}");
}

/// Live input tracks too: the first 80 looks of the built-in ballistic
/// scenario replayed (10x real time) into `tews run` with a warnings output
/// (site file from `tews site --from`) give a confirmed ballistic track and
/// warnings, marked exercise because the site file says so.
#[test]
fn live_input_is_tracked_and_warned_of() {
    let dir = tempfile::tempdir().unwrap();
    let mut scenario = tews::sim::trajectory::ballistic_scenario();
    scenario.num_cpis = 80;
    let prefix = dir.path().join("rec");
    tews::sim::simulate(&scenario, 2, &prefix).unwrap();
    let site_text = Command::new(tews_bin())
        .args(["site", "--from"])
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(site_text.status.success());
    let site = dir.path().join("site.toml");
    std::fs::write(&site, &site_text.stdout).unwrap();
    let f = Fixture {
        rec: dir.path().join("rec.sigmf-meta"),
        site,
        file_plots: Vec::new(),
        dir,
    };
    let warnings = f.dir.path().join("w.jsonl");
    let mut run = start_live(
        &f,
        "track",
        &[
            "--max-cpis",
            "80",
            "--idle-timeout-s",
            "60",
            "--output",
            &format!("warnings:{}", warnings.display()),
        ],
    );
    replay(&f, run.udp_port, &["--rate", "10"]);
    wait(&mut run);
    let s = summary(&f, "track");
    assert_eq!(s["cpis"], 80, "{s}");
    let t = &s["tracking"];
    assert_eq!(t["tracks_ballistic"], 1, "{t}");
    let w = lines(&warnings);
    assert!(!w.is_empty(), "no warning from live input");
    assert!(w.iter().all(|l| l.contains("\"exercise\":true")));
}
