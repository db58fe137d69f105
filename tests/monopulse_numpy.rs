//! Monopulse angles of `tews run` against an independent NumPy estimator
//! (tests/py/monopulse_numpy.py: every channel processed whole, its own peak
//! cell, its own beam frame from pymap3d) on a recording from the
//! independent NumPy simulator (tests/py/make_recording.py) in a 35 deg
//! beam: the same angle source for every plot and the same angles within
//! 1e-3 deg; and both near the simulator's truth.
//!
//! Needs Python with numpy, scipy, sigmf and pymap3d (`$TEWS_PYTHON`):
//! skipped locally without them, a failure under `TEWS_REQUIRE_EXTERNAL=1`.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command, what: &str) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn tews_angles_match_an_independent_numpy_estimator() {
    let Some(py) = common::python_with(&["numpy", "scipy", "sigmf", "pymap3d"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("rec");
    // Targets: range, velocity, element SNR, beam-frame offsets (deg); the
    // last is outside the +-0.6 beamwidth span in azimuth.
    let targets = [
        "4000,25,0,0.3,-0.5",
        "6000,-60,-3,-0.8,0.2",
        "7500,110,2,0.0,0.0",
        "9000,-20,-1,0.9,0.9",
        "11000,0,6,1.6,0",
    ];
    let mut cmd = Command::new(&py);
    cmd.arg(repo().join("tests/py/make_recording.py"))
        .arg(&base)
        .args(["--channels", "sum,delta_az,delta_el"])
        .args(["--monopulse", "2.0,2.5,1.6,1.4"])
        .args([
            "--elevation",
            "35",
            "--azimuth",
            "80",
            "--azimuth-step",
            "0.5",
        ])
        .args([
            "--cpis",
            "6",
            "--pulses",
            "32",
            "--samples-per-pulse",
            "900",
        ])
        .args(["--noise-power", "1e-4", "--seed", "7"]);
    for t in targets {
        cmd.arg("--target").arg(t);
    }
    run(&mut cmd, "make_recording.py");
    let meta = base.with_extension("sigmf-meta");
    let plots_path = dir.path().join("plots.jsonl");
    run(
        Command::new(common::tews_bin())
            .args(["run", "--backend", "cpu", "--input"])
            .arg(&meta)
            .arg("--output")
            .arg(format!("jsonl:{}", plots_path.display())),
        "tews run",
    );
    let plots = jsonl(&plots_path);
    let peer: Value = serde_json::from_slice(&run(
        Command::new(&py)
            .arg(repo().join("tests/py/monopulse_numpy.py"))
            .arg(&meta)
            .arg(&plots_path),
        "monopulse_numpy.py",
    ))
    .unwrap();
    let peer = peer["plots"].as_array().unwrap();
    assert_eq!(peer.len(), plots.len());
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(base.with_extension("truth.json")).unwrap())
            .unwrap();
    let truth = truth["truth"].as_array().unwrap();
    let (mut measured, mut beam, mut near_truth) = (0, 0, 0);
    for (p, q) in plots.iter().zip(peer) {
        assert_eq!(p["cpi"], q["cpi"]);
        assert_eq!(p["angle_source"], q["angle_source"], "plot {p} vs {q}");
        for key in ["azimuth_deg", "elevation_deg"] {
            let (a, b) = (p[key].as_f64().unwrap(), q[key].as_f64().unwrap());
            let d = (a - b + 180.0).rem_euclid(360.0) - 180.0;
            assert!(d.abs() < 1e-3, "{key}: tews {a} numpy {b} ({p})");
        }
        if p["angle_source"] == "monopulse" {
            measured += 1;
            // The truth of the same target (nearest range in this CPI).
            let range = p["range_m"].as_f64().unwrap();
            if let Some(t) = truth
                .iter()
                .filter(|t| t["cpi"] == p["cpi"])
                .find(|t| (t["range_m"].as_f64().unwrap() - range).abs() < 50.0)
            {
                let e_az = (p["azimuth_deg"].as_f64().unwrap()
                    - t["azimuth_deg"].as_f64().unwrap()
                    + 180.0)
                    .rem_euclid(360.0)
                    - 180.0;
                let e_el =
                    p["elevation_deg"].as_f64().unwrap() - t["elevation_deg"].as_f64().unwrap();
                let (sa, se) = (
                    p["azimuth_sigma_deg"].as_f64().unwrap(),
                    p["elevation_sigma_deg"].as_f64().unwrap(),
                );
                assert!(
                    e_az.abs() < 5.0 * sa && e_el.abs() < 5.0 * se,
                    "{p} vs truth {t}"
                );
                near_truth += 1;
            }
        } else {
            beam += 1;
        }
    }
    assert!(measured >= 20, "{measured} monopulse plots");
    assert!(near_truth >= 20, "{near_truth} plots matched to truth");
    assert!(beam >= 6, "the target outside the span: {beam} beam plots");
}
