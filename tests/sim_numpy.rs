//! The simulator's output checked by an independent NumPy implementation of
//! formats.md §1 (tests/py/check_sim.py), reading through the `sigmf` package.
//! Skips without Python + numpy + sigmf locally; fails under CI
//! (`TEWS_REQUIRE_EXTERNAL=1`).

mod common;

use std::path::Path;
use std::process::Command;

use tews::sim::{Scenario, simulate};

/// Writes `toml` as a scenario, simulates it, runs check_sim.py in `mode`.
fn run_check(mode: &str, toml: &str, seed: u64) {
    let Some(py) = common::python_with(&["numpy", "sigmf", "tomllib", "pymap3d"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scenario_path = dir.path().join("scenario.toml");
    std::fs::write(&scenario_path, toml).unwrap();
    let scenario = Scenario::from_toml_file(&scenario_path).unwrap();
    let prefix = dir.path().join("rec");
    simulate(&scenario, seed, &prefix).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/check_sim.py");
    let out = Command::new(py)
        .arg(script)
        .arg(mode)
        .arg(&prefix)
        .arg(&scenario_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "check_sim.py {mode} failed:\n{stdout}{stderr}"
    );
    assert!(stdout.contains("check_sim: OK"));
}

/// Two LFM targets, noise-free, a beam stepping 0.7 deg per CPI (three
/// capture segments); one target off axis in azimuth and elevation, one whose
/// echo runs off the end of the receive window, one approaching fast.
const MODEL_LFM: &str = r#"
num_cpis = 3
start_time = "2025-06-01T12:00:00.5Z"
noise_power = 0.0
[radar]
sample_rate_hz = 5e6
carrier_hz = 3e9
pulses_per_cpi = 8
samples_per_pulse = 300
pri_s = 100e-6
window_delay_s = 10e-6
waveform = { type = "lfm", bandwidth_hz = 4e6, pulse_width_s = 8e-6 }
[beam]
azimuth_start_deg = 359.0
azimuth_step_deg = 0.7
elevation_deg = 1.0
beamwidth_deg = 2.0
[[targets]]
range_m = 3001.3
range_rate_mps = -230.0
amplitude = 0.8
phase_deg = 33.0
[[targets]]
range_m = 9512.7
range_rate_mps = 90.0
amplitude = 1.3
phase_deg = -120.0
azimuth_deg = 0.6
elevation_deg = 1.5
"#;

#[test]
fn noise_free_lfm_matches_numpy_model() {
    run_check("model", MODEL_LFM, 1);
}

/// Monopulse: three channels, a rect pulse, a fixed beam (one capture segment).
const MODEL_MONOPULSE: &str = r#"
num_cpis = 2
start_time = "2025-06-01T00:00:00Z"
noise_power = 0.0
channels = ["sum", "delta_az", "delta_el"]
[radar]
sample_rate_hz = 2e6
carrier_hz = 1.3e9
pulses_per_cpi = 4
samples_per_pulse = 200
pri_s = 200e-6
window_delay_s = 20e-6
waveform = { type = "rect", pulse_width_s = 5.3e-6 }
[beam]
azimuth_start_deg = 120.0
elevation_deg = 4.0
beamwidth_deg = 3.0
[[targets]]
range_m = 12345.6
range_rate_mps = 50.0
amplitude = 2.0
phase_deg = 10.0
azimuth_deg = 120.9
elevation_deg = 3.2
"#;

#[test]
fn noise_free_monopulse_channels_match_numpy_model() {
    run_check("model", MODEL_MONOPULSE, 2);
}

const NOISE_CF32: &str = r#"
num_cpis = 2
start_time = "2025-06-01T00:00:00Z"
noise_power = 2.5
channels = ["sum", "delta_az"]
[radar]
sample_rate_hz = 10e6
carrier_hz = 1.3e9
pulses_per_cpi = 64
samples_per_pulse = 1000
pri_s = 250e-6
window_delay_s = 60e-6
waveform = { type = "lfm", bandwidth_hz = 8e6, pulse_width_s = 20e-6 }
"#;

#[test]
fn noise_only_cf32_has_the_stated_variance() {
    run_check("noise", NOISE_CF32, 3);
}

#[test]
fn noise_only_ci16_has_the_documented_scale() {
    let toml = NOISE_CF32.replace(
        "noise_power = 2.5",
        "noise_power = 2.5\ndatatype = \"ci16_le\"",
    );
    run_check("noise", &toml, 4);
}
