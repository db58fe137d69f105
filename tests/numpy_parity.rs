//! Parity of `tews run` with the independent NumPy/SciPy reference chain
//! (`benches/numpy_chain.py`) on recordings from the independent NumPy
//! simulator (`tests/py/make_recording.py`).
//!
//! For every CFAR variant, on the same recording, both must give the same
//! number of plots per CPI; matched plots agree to 0.02 bin in range and in
//! Doppler (circularly) and to 0.05 dB in SNR; the summaries agree on
//! `cells_tested` exactly and on `detections` to 0.5 %.
//!
//! Needs Python with numpy, scipy and sigmf (`$TEWS_PYTHON`, else `python3`):
//! skipped locally without it, a failure under `TEWS_REQUIRE_EXTERNAL=1` (CI).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN_TOL: f64 = 0.02;
const SNR_TOL_DB: f64 = 0.05;
const DETECTIONS_REL_TOL: f64 = 0.005;
const PFA: &str = "1e-6";

const TARGETS: &[&str] = &[
    "4000,25,0",
    "6123.4,-60,-3",
    "6170,-58,-8",
    "9000,0,5",
    "12345.6,140,-6",
    "15000,-300,2",
    "16500,370,-10",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Simulates a recording with `tests/py/make_recording.py`; returns the `.sigmf-meta` path.
fn make_recording(py: &Path, dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let base = dir.join(name);
    let mut cmd = Command::new(py);
    cmd.arg(repo().join("tests/py/make_recording.py"))
        .arg(&base)
        .args(args);
    for t in TARGETS {
        cmd.arg("--target").arg(t);
    }
    run_ok(&mut cmd, "make_recording.py");
    base.with_extension("sigmf-meta")
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: bad JSON line {l:?}: {e}", path.display()))
        })
        .collect()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct ChainOutput {
    plots: Vec<Value>,
    summary: Value,
}

fn run_tews(meta: &Path, cfar: &str, dir: &Path) -> ChainOutput {
    let plots = dir.join(format!("tews-{cfar}.jsonl"));
    let summary = dir.join(format!("tews-{cfar}.summary.json"));
    run_ok(
        Command::new(common::tews_bin())
            .arg("run")
            .arg("--input")
            .arg(meta)
            .arg("--output")
            .arg(format!("jsonl:{}", plots.display()))
            .arg("--summary")
            .arg(&summary)
            .args(["--cfar", cfar, "--pfa", PFA]),
        &format!("tews run --cfar {cfar}"),
    );
    ChainOutput {
        plots: read_jsonl(&plots),
        summary: read_json(&summary),
    }
}

/// Runs the NumPy chain with the CFAR multiplier and noise scale tews used
/// (tews calibrates alpha for its tapers' cell correlation; that calibration
/// is tested against simulated noise in tests/cfar_correlated.rs, so here both
/// chains apply the same threshold and everything else is compared).
fn run_numpy(py: &Path, meta: &Path, cfar: &str, dir: &Path, tews_summary: &Value) -> ChainOutput {
    let plots = dir.join(format!("numpy-{cfar}.jsonl"));
    let summary = dir.join(format!("numpy-{cfar}.summary.json"));
    run_ok(
        Command::new(py)
            .arg(repo().join("benches/numpy_chain.py"))
            .arg(meta)
            .args(["--cfar", cfar, "--pfa", PFA])
            .arg("--alpha")
            .arg(num(tews_summary, "cfar_alpha").to_string())
            .arg("--noise-scale")
            .arg(num(tews_summary, "cfar_noise_scale").to_string())
            .arg("--out")
            .arg(&plots)
            .arg("--summary")
            .arg(&summary),
        &format!("numpy_chain.py --cfar {cfar}"),
    );
    ChainOutput {
        plots: read_jsonl(&plots),
        summary: read_json(&summary),
    }
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("missing numeric field {key:?} in {v}"))
}

fn circular_diff(a: f64, b: f64, period: f64) -> f64 {
    let d = (a - b).rem_euclid(period);
    d.min(period - d)
}

fn by_cpi(plots: &[Value]) -> BTreeMap<u64, Vec<&Value>> {
    let mut m: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for p in plots {
        let cpi = p
            .get("cpi")
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("plot without cpi: {p}"));
        m.entry(cpi).or_default().push(p);
    }
    m
}

/// Asserts the parity contract between the NumPy reference and tews.
fn assert_parity(label: &str, reference: &ChainOutput, tews: &ChainOutput, pulses: f64) {
    let (r, t) = (by_cpi(&reference.plots), by_cpi(&tews.plots));
    let cpis: Vec<u64> = r
        .keys()
        .chain(t.keys())
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(
        !reference.plots.is_empty(),
        "{label}: the reference found no plots at all"
    );
    for cpi in cpis {
        let (rp, tp) = (
            r.get(&cpi).cloned().unwrap_or_default(),
            t.get(&cpi).cloned().unwrap_or_default(),
        );
        assert_eq!(
            rp.len(),
            tp.len(),
            "{label}: CPI {cpi}: NumPy has {} plots, tews {}\nnumpy: {rp:#?}\ntews: {tp:#?}",
            rp.len(),
            tp.len()
        );
        // Greedy matching on cell distance (range + circular Doppler).
        let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
        for (i, a) in rp.iter().enumerate() {
            for (j, b) in tp.iter().enumerate() {
                let d = (num(a, "range_bin") - num(b, "range_bin")).abs()
                    + circular_diff(num(a, "doppler_bin"), num(b, "doppler_bin"), pulses);
                pairs.push((d, i, j));
            }
        }
        pairs.sort_by(|x, y| x.0.total_cmp(&y.0));
        let (mut used_r, mut used_t) = (vec![false; rp.len()], vec![false; tp.len()]);
        for (_, i, j) in pairs {
            if used_r[i] || used_t[j] {
                continue;
            }
            used_r[i] = true;
            used_t[j] = true;
            let (a, b) = (rp[i], tp[j]);
            let dr = (num(a, "range_bin") - num(b, "range_bin")).abs();
            let dd = circular_diff(num(a, "doppler_bin"), num(b, "doppler_bin"), pulses);
            let ds = (num(a, "snr_db") - num(b, "snr_db")).abs();
            assert!(
                dr <= BIN_TOL && dd <= BIN_TOL && ds <= SNR_TOL_DB,
                "{label}: CPI {cpi}: plots differ (range {dr:.4} bin, Doppler {dd:.4} bin, SNR {ds:.4} dB; \
                 tolerances {BIN_TOL} bin, {SNR_TOL_DB} dB)\nnumpy: {a}\ntews:  {b}"
            );
        }
    }
    let (rs, ts) = (&reference.summary, &tews.summary);
    assert_eq!(
        num(rs, "cells_tested"),
        num(ts, "cells_tested"),
        "{label}: cells_tested differ\nnumpy: {rs}\ntews: {ts}"
    );
    let (dn, dt) = (num(rs, "detections"), num(ts, "detections"));
    assert!(
        (dn - dt).abs() <= DETECTIONS_REL_TOL * dn.max(dt),
        "{label}: detections differ by more than {}%: numpy {dn}, tews {dt}",
        DETECTIONS_REL_TOL * 100.0
    );
}

fn pulses_of(meta: &Path) -> f64 {
    num(&read_json(meta)["global"], "radar:pulses_per_cpi")
}

fn parity_on(recording_args: &[&str], name: &str) {
    let Some(py) = common::python_with(&["numpy", "scipy", "sigmf"]) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let meta = make_recording(&py, dir.path(), name, recording_args);
    let pulses = pulses_of(&meta);
    for cfar in ["ca", "go", "so", "os"] {
        let tews = run_tews(&meta, cfar, dir.path());
        let reference = run_numpy(&py, &meta, cfar, dir.path(), &tews.summary);
        assert_parity(&format!("{name} --cfar {cfar}"), &reference, &tews, pulses);
    }
}

/// cf32, 1000 samples per pulse (the matched filter pads to 2048), 64 pulses, 3 CPIs.
#[test]
fn parity_cf32_non_power_of_two_window() {
    parity_on(
        &[
            "--datatype",
            "cf32_le",
            "--samples-per-pulse",
            "1000",
            "--pulses",
            "64",
            "--cpis",
            "3",
            "--seed",
            "21",
        ],
        "cf32",
    );
}

/// ci16 (scaled by 1/2^15), three channels with `sum` second, 32 pulses, 2 CPIs.
#[test]
fn parity_ci16_multichannel() {
    parity_on(
        &[
            "--datatype",
            "ci16_le",
            "--channels",
            "delta_az,sum,delta_el",
            "--samples-per-pulse",
            "1024",
            "--pulses",
            "32",
            "--cpis",
            "2",
            "--seed",
            "22",
        ],
        "ci16",
    );
}
