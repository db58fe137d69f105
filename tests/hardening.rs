//! Issue 12's inputs that panicked the release binary, through the `tews`
//! binary: each is now a one-line error naming the input and the problem, a
//! non-zero exit, and nothing left behind (no `.partial`, earlier output
//! untouched). Also the physical-plausibility bounds added with them.

mod common;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const P: usize = 16;
const N: usize = 64;

/// A valid cf32_le recording of `cpis` CPIs (PRI 1 ms, 16 pulses: 16 ms a
/// CPI) starting at `datetime`, with the meta edited by `edit`.
fn write_recording(dir: &Path, name: &str, cpis: usize, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut meta = json!({
        "global": {
            "core:datatype": "cf32_le",
            "core:sample_rate": 1e6,
            "core:version": "1.2.0",
            "core:extensions": [{"name": "radar", "version": "0.1.0", "optional": false}],
            "radar:pulses_per_cpi": P,
            "radar:samples_per_pulse": N,
            "radar:pri_s": 1e-3,
            "radar:window_delay_s": 0.0,
            "radar:waveform": {"type": "rect", "pulse_width_s": 1e-6}
        },
        "captures": [{
            "core:sample_start": 0,
            "core:frequency": 1e9,
            "core:datetime": "2026-01-01T00:00:00Z",
            "radar:azimuth_deg": 10.0,
            "radar:elevation_deg": 1.0
        }],
        "annotations": []
    });
    edit(&mut meta);
    let meta_path = dir.join(format!("{name}.sigmf-meta"));
    std::fs::write(&meta_path, serde_json::to_string_pretty(&meta).unwrap()).unwrap();
    let mut data = Vec::with_capacity(cpis * P * N * 8);
    for k in 0..cpis * P * N {
        let re = if k % N == 30 {
            20.0f32
        } else {
            0.01 * (k % 7) as f32
        };
        data.extend_from_slice(&re.to_le_bytes());
        data.extend_from_slice(&0.0f32.to_le_bytes());
    }
    std::fs::write(dir.join(format!("{name}.sigmf-data")), data).unwrap();
    meta_path
}

fn tews(args: &[&str]) -> Output {
    Command::new(common::tews_bin())
        .args(args)
        .output()
        .expect("run tews")
}

/// Asserts a failed run with exactly one stderr line, `tews: error: ...`,
/// containing every needle; returns the line.
fn assert_one_line_error(out: &Output, needles: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure for {needles:?}; stderr: {stderr}"
    );
    assert_ne!(out.status.code(), Some(101), "a panic: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {stderr}");
    assert!(lines[0].starts_with("tews: error: "), "{stderr}");
    for needle in needles {
        assert!(lines[0].contains(needle), "{needle:?} not in: {stderr}");
    }
    lines[0].to_string()
}

/// Every file name in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `tews run` of `input` with `extra`, into a JSON lines file that already
/// holds earlier plots: a one-line error, the earlier plots untouched and
/// no `.partial` left.
fn assert_run_rejected(dir: &Path, input: &Path, extra: &[&str], needles: &[&str]) {
    let out_path = dir.join("plots.jsonl");
    std::fs::write(&out_path, "earlier plots\n").unwrap();
    let output_arg = format!("jsonl:{}", out_path.display());
    let mut args = vec![
        "run",
        "--input",
        input.to_str().unwrap(),
        "--output",
        &output_arg,
        "--backend",
        "cpu",
    ];
    args.extend_from_slice(extra);
    let out = tews(&args);
    assert_one_line_error(&out, needles);
    assert_eq!(
        std::fs::read_to_string(&out_path).unwrap(),
        "earlier plots\n"
    );
    assert!(!dir.join("plots.jsonl.partial").exists(), "a .partial left");
}

fn scenario_with(replace: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/scenario_example.toml"),
    )
    .unwrap();
    for (from, to) in replace {
        assert!(text.contains(from), "{from:?} not in the example scenario");
        text = text.replace(from, to);
    }
    text
}

/// `tews simulate` of `scenario` fails with one line naming `needles`, and
/// writes nothing (no recording, no `.partial`).
fn assert_simulate_rejected(scenario: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, scenario).unwrap();
    let prefix = dir.path().join("out");
    let out = tews(&[
        "simulate",
        "--scenario",
        file.to_str().unwrap(),
        "--out",
        prefix.to_str().unwrap(),
    ]);
    assert_one_line_error(&out, needles);
    assert_eq!(files_in(dir.path()), vec!["s.toml".to_string()]);
}

#[test]
fn item_1_scenario_start_time_past_year_9999_in_utc() {
    // 23:30 at -01:00 is 00:30 on 10000-01-01 in UTC.
    assert_simulate_rejected(
        &scenario_with(&[(
            "start_time = \"2025-06-01T12:00:00Z\"",
            "start_time = \"9999-12-31T23:30:00-01:00\"",
        )]),
        &[
            "s.toml",
            "start_time",
            "9999-12-31T23:30:00-01:00",
            "0000-9999",
        ],
    );
}

#[test]
fn item_2_scenario_whose_last_cpi_is_past_year_9999() {
    // Two CPIs of 32 x 250 us: the second starts 8 ms after 23:59:59.9999.
    assert_simulate_rejected(
        &scenario_with(&[
            (
                "start_time = \"2025-06-01T12:00:00Z\"",
                "start_time = \"9999-12-31T23:59:59.9999Z\"",
            ),
            ("num_cpis = 4", "num_cpis = 2"),
        ]),
        &["s.toml", "start_time", "9999-12-31T23:59:59Z"],
    );
}

#[test]
fn a_scenario_ending_just_inside_year_9999_is_simulated() {
    // One CPI of 8 ms ending before the calendar does: accepted (the bound
    // is the calendar, not a margin).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(
        &file,
        scenario_with(&[
            (
                "start_time = \"2025-06-01T12:00:00Z\"",
                "start_time = \"9999-12-31T23:59:59.9Z\"",
            ),
            ("num_cpis = 4", "num_cpis = 1"),
        ]),
    )
    .unwrap();
    let prefix = dir.path().join("out");
    let out = tews(&[
        "simulate",
        "--scenario",
        file.to_str().unwrap(),
        "--out",
        prefix.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta = std::fs::read_to_string(dir.path().join("out.sigmf-meta")).unwrap();
    assert!(meta.contains("9999-12-31T23:59:59.9Z"), "{meta}");
}

#[test]
fn simulator_clutter_work_per_cpi_is_bounded() {
    // 1e5 range cells x a 200-sample pulse = 2e7 echo samples: accepted by
    // the old 1e6-cell limit, but over the per-CPI bound once the band is
    // wider. 15 m cells at 10 MHz: 60 km = 4000 cells x 203 < 2^26, fine;
    // 1500 km = 1e5 cells x 203 = 2e7 < 6.7e7 fine; 6000 km = 4e5 cells x
    // 203 = 8.1e7 > 2^26: refused.
    assert_simulate_rejected(
        &scenario_with(&[(
            "[clutter]\nrange_start_m = 9300.0\nrange_stop_m = 9900.0",
            "[clutter]\nrange_start_m = 9300.0\nrange_stop_m = 6009300.0",
        )]),
        &["s.toml", "clutter.range_stop_m", "per CPI"],
    );
}

const SITE_RADAR: &str = r#"
[site]
name = "north-1"
sac = 1
sic = 2

[radar]
sample_rate_hz = 1e6
carrier_hz = 1e9
pulses_per_cpi = 16
samples_per_pulse = 64
pri_s = 1e-3
window_delay_s = 0.0
[radar.waveform]
type = "rect"
pulse_width_s = 1e-6
"#;

#[test]
fn item_3_live_radar_window_delay_out_of_bounds_is_refused_before_listening() {
    for (delay, needle) in [("1e30", "1e30"), ("5e11", "500000000000")] {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site.toml");
        std::fs::write(
            &site,
            SITE_RADAR.replace("window_delay_s = 0.0", &format!("window_delay_s = {delay}")),
        )
        .unwrap();
        let plots = dir.path().join("plots.jsonl");
        let out = tews(&[
            "run",
            "--input",
            "vrt+udp://127.0.0.1:0",
            "--site",
            site.to_str().unwrap(),
            "--output",
            &format!("jsonl:{}", plots.display()),
            "--backend",
            "cpu",
        ]);
        assert_one_line_error(&out, &["site.toml", "radar.window_delay_s", needle]);
        assert_eq!(files_in(dir.path()), vec!["site.toml".to_string()]);
    }
}

#[test]
fn live_radar_receive_window_must_fit_in_the_pri_and_the_pri_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site.toml");
    for (from, to, key) in [
        // 64 samples at 1 MHz = 64 us, opening 950 us after the pulse: ends after 1 ms.
        (
            "window_delay_s = 0.0",
            "window_delay_s = 950e-6",
            "radar.samples_per_pulse",
        ),
        ("pri_s = 1e-3", "pri_s = 5.0", "radar.pri_s"),
    ] {
        std::fs::write(&site, SITE_RADAR.replace(from, to)).unwrap();
        let out = tews(&[
            "run",
            "--input",
            "vrt+udp://127.0.0.1:0",
            "--site",
            site.to_str().unwrap(),
            "--backend",
            "cpu",
        ]);
        assert_one_line_error(&out, &["site.toml", key]);
    }
}

#[test]
fn item_4_sharing_stream_max_age_out_of_bounds_is_a_site_error() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write_recording(dir.path(), "r", 1, |_| {});
    let site = dir.path().join("site.toml");
    std::fs::write(
        &site,
        format!("{SITE_RADAR}\n[sharing]\njetstream = true\nstream_max_age_s = 1e300\n"),
    )
    .unwrap();
    assert_run_rejected(
        dir.path(),
        &rec,
        &[
            "--site",
            site.to_str().unwrap(),
            "--output",
            "nats://127.0.0.1:1",
        ],
        &["site.toml", "sharing.stream_max_age_s", "10 years"],
    );
}

#[test]
fn item_5_recording_window_delay_out_of_bounds_is_refused_by_run_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write_recording(dir.path(), "far", 2, |m| {
        m["global"]["radar:window_delay_s"] = json!(1e30);
    });
    assert_run_rejected(
        dir.path(),
        &rec,
        &[],
        &["far.sigmf-meta", "radar:window_delay_s"],
    );
    let out = tews(&["replay", rec.to_str().unwrap(), "--to", "udp://127.0.0.1:9"]);
    assert_one_line_error(&out, &["far.sigmf-meta", "radar:window_delay_s"]);
    // Inside the PRI, but the window (64 us) then ends after the next pulse.
    let rec = write_recording(dir.path(), "late", 2, |m| {
        m["global"]["radar:window_delay_s"] = json!(950e-6);
    });
    assert_run_rejected(
        dir.path(),
        &rec,
        &[],
        &["late.sigmf-meta", "receive window", "radar:pri_s"],
    );
}

#[test]
fn item_6_repeat_past_year_9999_and_a_tiny_cpi_rate_are_refused_before_processing() {
    let dir = tempfile::tempdir().unwrap();
    // Four CPIs of 16 ms from 23:59:59.95: the last starts at 23:59:59.998.
    let rec = write_recording(dir.path(), "late", 4, |m| {
        m["captures"][0]["core:datetime"] = json!("9999-12-31T23:59:59.95Z");
    });
    let ok = tews(&["run", "--input", rec.to_str().unwrap(), "--backend", "cpu"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_run_rejected(
        dir.path(),
        &rec,
        &["--repeat", "2"],
        &["--repeat 2", "9999-12-31"],
    );
    let rec = write_recording(dir.path(), "r", 1, |_| {});
    assert_run_rejected(
        dir.path(),
        &rec,
        &["--cpi-rate", "1e-300"],
        &["--cpi-rate", "1e-300"],
    );
}

#[test]
fn a_cf64_recording_whose_cpi_is_over_1_gib_is_refused_from_its_meta() {
    let dir = tempfile::tempdir().unwrap();
    // 2^14 pulses x 2^13 samples = 2^27 values <= 2^28, but 2 GiB as cf64.
    let rec = write_recording(dir.path(), "big", 1, |m| {
        let g = &mut m["global"];
        g["core:datatype"] = json!("cf64_le");
        g["radar:pulses_per_cpi"] = json!(16384);
        g["radar:samples_per_pulse"] = json!(8192);
        g["core:sample_rate"] = json!(1e9);
    });
    assert_run_rejected(
        dir.path(),
        &rec,
        &[],
        &["big.sigmf-meta", "cf64_le", "1 GiB"],
    );
}

#[test]
fn item_11_an_unwritable_summary_path_fails_before_processing() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write_recording(dir.path(), "r", 2, |_| {});
    let bad = dir.path().join("no-such-dir/summary.json");
    // One line and nothing processed: no "N CPIs ... plots" line, the
    // earlier plots untouched, no .partial.
    assert_run_rejected(
        dir.path(),
        &rec,
        &["--summary", bad.to_str().unwrap()],
        &["no-such-dir/summary.json", "cannot write the summary"],
    );
    // Live input: refused before the first packet is read (it would
    // otherwise wait for the digitizer, and put the plots in place although
    // the summary is then lost).
    let site = dir.path().join("site.toml");
    std::fs::write(&site, SITE_RADAR).unwrap();
    let plots = dir.path().join("live.jsonl");
    let out = tews(&[
        "-q",
        "run",
        "--input",
        "vrt+udp://127.0.0.1:0",
        "--site",
        site.to_str().unwrap(),
        "--backend",
        "cpu",
        "--output",
        &format!("jsonl:{}", plots.display()),
        "--summary",
        bad.to_str().unwrap(),
        "--idle-timeout-s",
        "0.2",
    ]);
    assert_one_line_error(&out, &["no-such-dir/summary.json"]);
    assert!(!plots.exists() && !dir.path().join("live.jsonl.partial").exists());
    // Replay: before anything is sent.
    let out = tews(&[
        "replay",
        rec.to_str().unwrap(),
        "--to",
        "udp://127.0.0.1:9",
        "--summary",
        bad.to_str().unwrap(),
    ]);
    assert_one_line_error(&out, &["no-such-dir/summary.json"]);
}

#[test]
fn item_11_a_file_output_goes_in_place_only_when_committed() {
    use tews::output::{OutputSpec, Outputs};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plots.jsonl");
    let partial = dir.path().join("plots.jsonl.partial");
    let run = || {
        std::fs::write(&path, "earlier plots\n").unwrap();
        let spec: OutputSpec = format!("jsonl:{}", path.display()).parse().unwrap();
        let outputs = Outputs::start(vec![spec.open().unwrap()], 2);
        assert!(partial.exists());
        outputs.finish_uncommitted().unwrap()
    };
    // A run that fails after its outputs finished: discarded.
    drop(run());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "earlier plots\n");
    assert!(!partial.exists());
    // A run that succeeded: the new (empty) file replaces the earlier one.
    run().commit().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    assert!(!partial.exists());
}

/// `tews run` of a recording into JSON lines, a summary and NATS at
/// `nats_addr`, with `site`: (output, summary JSON, JSON lines text).
fn run_into_nats(dir: &Path, site_text: &str, nats_addr: &str) -> (Output, Value, String) {
    let rec = write_recording(dir, "r", 3, |_| {});
    let site = dir.join("site.toml");
    std::fs::write(&site, site_text).unwrap();
    let jsonl = dir.join("plots.jsonl");
    let summary = dir.join("summary.json");
    let out = tews(&[
        "run",
        "--input",
        rec.to_str().unwrap(),
        "--site",
        site.to_str().unwrap(),
        "--backend",
        "cpu",
        "--output",
        &format!("jsonl:{}", jsonl.display()),
        "--output",
        &format!("nats://{nats_addr}"),
        "--summary",
        summary.to_str().unwrap(),
        "--drain-timeout-s",
        "1",
    ]);
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap_or_default())
            .unwrap_or(Value::Null);
    let plots = std::fs::read_to_string(&jsonl).unwrap_or_default();
    (out, summary, plots)
}

/// Item 9's checks of a run whose NATS output can deliver nothing: the
/// failure said once (a line containing `cause`), exit status 3 after
/// everything else was written (JSON lines in place, summary with the
/// output's plots counted dropped), the last line naming the output.
fn assert_nothing_delivered(out: &Output, summary: &Value, plots: &str, nats: &str, cause: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let said: Vec<&str> = stderr.lines().filter(|l| l.contains(cause)).collect();
    assert_eq!(said.len(), 1, "{cause:?} said once: {stderr}");
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with("tews: error: ") && last.contains(nats) && last.contains("none"),
        "{stderr}"
    );
    // The other output and the summary were written; the plots are counted.
    let n = plots.lines().count() as u64;
    assert!(n > 0, "the recording gives plots");
    let outputs = summary["outputs"].as_array().expect("summary written");
    let o = outputs
        .iter()
        .find(|o| o["name"].as_str().unwrap().starts_with("nats://"))
        .unwrap();
    assert_eq!(o["sent"], 0);
    assert_eq!(o["dropped"].as_u64(), Some(n));
}

const SITE_NATS: &str = "[site]\nname = \"north-1\"\nnation = \"alpha\"\nsac = 1\nsic = 2\n";

#[test]
fn item_9_a_port_nobody_serves_is_said_once_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::nats::free_port();
    let addr = format!("127.0.0.1:{port}");
    let (out, summary, plots) = run_into_nats(dir.path(), SITE_NATS, &addr);
    assert_nothing_delivered(&out, &summary, &plots, &addr, "refused");
}

#[test]
fn item_9_a_wrong_password_is_said_once_and_exits_3() {
    let Some(()) = common::nats::require_nats_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = common::nats::free_port();
    let conf = dir.path().join("nats.conf");
    std::fs::write(
        &conf,
        format!("listen: 127.0.0.1:{port}\nauthorization {{ user: u, password: right }}\n"),
    )
    .unwrap();
    let server = common::nats::NatsServer::start(&conf, port, &[], &dir.path().join("nats.log"));
    let site = format!("{SITE_NATS}[sharing]\nuser = \"u\"\npassword = \"wrong\"\n");
    let (out, summary, plots) = run_into_nats(dir.path(), &site, &server.addr());
    assert_nothing_delivered(
        &out,
        &summary,
        &plots,
        &server.addr(),
        "authorization violation",
    );
    // The right password delivers: exit 0, every plot sent.
    let site = format!("{SITE_NATS}[sharing]\nuser = \"u\"\npassword = \"right\"\n");
    let (out, summary, _) = run_into_nats(dir.path(), &site, &server.addr());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let o = &summary["outputs"][1];
    assert!(o["sent"].as_u64().unwrap() > 0 && o["dropped"] == 0, "{o}");
}

#[test]
fn drain_timeout_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write_recording(dir.path(), "r", 1, |_| {});
    let out = tews(&[
        "run",
        "--input",
        rec.to_str().unwrap(),
        "--drain-timeout-s",
        "1e9",
    ]);
    assert_one_line_error(&out, &["--drain-timeout-s"]);
}

/// Item 13: Mesa's "XDG_RUNTIME_DIR is invalid" lines stay off stderr when
/// the environment has no runtime directory (a service account), with and
/// without -q; the GPU probe still lists the adapters.
#[test]
fn no_mesa_runtime_dir_noise_on_stderr() {
    for args in [&["info"][..], &["-q", "info"][..]] {
        let out = Command::new(common::tews_bin())
            .args(args)
            .env_remove("XDG_RUNTIME_DIR")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{args:?}: {stderr}");
    }
}

/// Item 17: value names are case-insensitive (`--cfar OS`, `--backend CPU`,
/// `--range-window Hamming`).
#[test]
fn option_values_are_case_insensitive() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write_recording(dir.path(), "rec", 1, |_| {});
    let out = tews(&[
        "run",
        "-q",
        "--input",
        rec.to_str().unwrap(),
        "--cfar",
        "OS",
        "--backend",
        "CPU",
        "--range-window",
        "Hamming",
        "--doppler-window",
        "HANN",
        "--output",
        "jsonl:/dev/null",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Item 17: a partner's released JSON line keeps the plot's key order
/// (formats.md §2), less the withheld keys.
#[test]
fn released_lines_keep_the_plot_key_order() {
    use tews::output::nats::PartnerPolicy;
    let plot = tews::plots::Plot {
        range_m: 1000.0,
        ..Default::default()
    };
    let full = serde_json::to_string(&plot).unwrap();
    let policy: PartnerPolicy = toml::from_str("name = \"p\"\nwithhold = [\"snr_db\"]").unwrap();
    let released = policy.release_json(&plot);
    let keys = |s: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(s).unwrap();
        v.as_object().unwrap().keys().cloned().collect()
    };
    let mut expected = keys(&full);
    expected.retain(|k| k != "snr_db");
    assert_eq!(keys(&released), expected);
    assert!(
        released.starts_with("{\"cpi\":0,\"time_utc\""),
        "{released}"
    );
}

/// Item 17: `tews replay` to a port nobody listens on ends with exit
/// status 3 and one line saying so (it used to exit 0).
#[test]
fn replay_to_a_closed_port_is_not_success() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write_recording(dir.path(), "rec", 4, |_| {});
    // A port that was just free: bind, note it, close.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = tews(&[
        "replay",
        rec.to_str().unwrap(),
        "--to",
        &format!("udp://127.0.0.1:{port}"),
        "--rate",
        "max",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
}
