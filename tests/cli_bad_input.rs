//! Bad input through the `tews` binary: a one-line error naming the input and
//! the problem, a non-zero exit, no plots written and nothing already on disk
//! touched. A CPI with NaN samples is rejected, counted, and the run goes on.

mod common;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const P: usize = 16;
const N: usize = 64;

/// A valid recording: cf32_le, rect pulse of one sample, `cpis` CPIs, a
/// strong zero-Doppler point target at range bin 30 in every CPI.
fn write_recording(dir: &Path, name: &str, cpis: usize) -> PathBuf {
    let meta = json!({
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
    let meta_path = dir.join(format!("{name}.sigmf-meta"));
    std::fs::write(&meta_path, serde_json::to_string_pretty(&meta).unwrap()).unwrap();
    let mut data = Vec::with_capacity(cpis * P * N * 8);
    let mut s: u32 = 99;
    for _ in 0..cpis {
        for _ in 0..P {
            for n in 0..N {
                let mut noise = || {
                    s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
                };
                let (mut re, im) = (noise(), noise());
                if n == 30 {
                    re += 20.0;
                }
                data.extend_from_slice(&re.to_le_bytes());
                data.extend_from_slice(&im.to_le_bytes());
            }
        }
    }
    std::fs::write(dir.join(format!("{name}.sigmf-data")), data).unwrap();
    meta_path
}

fn edit_meta(meta_path: &Path, edit: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(meta_path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(meta_path, serde_json::to_string(&v).unwrap()).unwrap();
}

fn tews(args: &[&str]) -> Output {
    Command::new(common::tews_bin())
        .args(args)
        .output()
        .expect("run tews")
}

/// Runs `tews run` on `input` writing to an output file that already holds
/// earlier plots; asserts failure with one stderr line containing `needles`
/// and that the earlier plots are untouched.
fn assert_rejected(dir: &Path, input: &Path, extra: &[&str], needles: &[&str]) {
    let out_path = dir.join("plots.jsonl");
    std::fs::write(&out_path, "earlier plots\n").unwrap();
    let output_arg = format!("jsonl:{}", out_path.display());
    let mut args = vec![
        "run",
        "--input",
        input.to_str().unwrap(),
        "--output",
        &output_arg,
    ];
    args.extend_from_slice(extra);
    let out = tews(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure for {needles:?}; stderr: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {stderr}");
    assert!(lines[0].starts_with("tews: error: "), "{stderr}");
    for needle in needles {
        assert!(lines[0].contains(needle), "{needle:?} not in: {stderr}");
    }
    assert_eq!(
        std::fs::read_to_string(&out_path).unwrap(),
        "earlier plots\n"
    );
    assert!(
        !dir.join("plots.jsonl.partial").exists(),
        "no partial output for a rejected input"
    );
    assert!(out.stdout.is_empty(), "no plots on stdout");
}

#[test]
fn each_bad_input_gets_a_one_line_error_naming_file_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // A path that does not exist.
    let missing = d.join("nothing-here.sigmf-meta");
    assert_rejected(d, &missing, &[], &["nothing-here"]);

    // A missing data file.
    let m = write_recording(d, "nodata", 2);
    std::fs::remove_file(d.join("nodata.sigmf-data")).unwrap();
    assert_rejected(d, &m, &[], &["nodata.sigmf-data"]);

    // A truncated data file: not a whole number of CPIs; the byte count is named.
    let m = write_recording(d, "short", 2);
    let data = d.join("short.sigmf-data");
    let bytes = std::fs::read(&data).unwrap();
    std::fs::write(&data, &bytes[..bytes.len() - 1000]).unwrap();
    let count = (bytes.len() - 1000).to_string();
    assert_rejected(d, &m, &[], &["short.sigmf-data", &count]);

    // Meta that is not JSON.
    let m = write_recording(d, "notjson", 1);
    std::fs::write(&m, "{ this is not json").unwrap();
    assert_rejected(d, &m, &[], &["notjson.sigmf-meta"]);

    // An unknown datatype.
    let m = write_recording(d, "dtype", 1);
    edit_meta(&m, |v| v["global"]["core:datatype"] = json!("cu4_le"));
    assert_rejected(d, &m, &[], &["dtype.sigmf-meta", "cu4_le"]);

    // A missing radar key.
    let m = write_recording(d, "nokey", 1);
    edit_meta(&m, |v| {
        v["global"].as_object_mut().unwrap().remove("radar:pri_s");
    });
    assert_rejected(d, &m, &[], &["nokey.sigmf-meta", "radar:pri_s"]);

    // A zero radar key.
    let m = write_recording(d, "zero", 1);
    edit_meta(&m, |v| v["global"]["radar:pulses_per_cpi"] = json!(0));
    assert_rejected(d, &m, &[], &["zero.sigmf-meta", "radar:pulses_per_cpi"]);

    // An absurd radar key.
    let m = write_recording(d, "absurd", 1);
    edit_meta(&m, |v| {
        v["global"]["radar:samples_per_pulse"] = json!(1_000_000_000u64)
    });
    assert_rejected(
        d,
        &m,
        &[],
        &["absurd.sigmf-meta", "radar:samples_per_pulse"],
    );

    // Bad options are named too.
    let m = write_recording(d, "good", 1);
    assert_rejected(d, &m, &["--pfa", "2"], &["2"]);
    let out = tews(&[
        "run",
        "--input",
        m.to_str().unwrap(),
        "--output",
        "carrier-pigeon:x",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.lines().count() == 1 && stderr.contains("carrier-pigeon:x"),
        "{stderr}"
    );
    // A CFAR window that does not fit this CPI's 16 pulses.
    assert_rejected(d, &m, &["--train-doppler", "8"], &["Doppler", "16 pulses"]);

    // The site configuration: missing, unparsable, invalid; and an ASTERIX
    // output without one (no guessed SAC/SIC is ever sent).
    let site = d.join("site.toml");
    let site_arg = site.to_str().unwrap();
    assert_rejected(d, &m, &["--site", site_arg], &["site.toml", "cannot read"]);
    std::fs::write(&site, "[site]\nname = \"x\"\nsac = 1\n").unwrap();
    assert_rejected(
        d,
        &m,
        &["--site", site_arg],
        &["site.toml", "missing field `sic`"],
    );
    std::fs::write(&site, "[site]\nname = \"a b\"\nsac = 1\nsic = 2\n").unwrap();
    assert_rejected(d, &m, &["--site", site_arg], &["site.toml", "site.name"]);
    let ast = format!("asterix-file:{}", d.join("p.ast").display());
    assert_rejected(d, &m, &["--output", &ast], &["asterix-file", "--site"]);
    assert!(!d.join("p.ast").exists() && !d.join("p.ast.partial").exists());
}

#[test]
fn a_cpi_with_nan_samples_is_rejected_counted_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = write_recording(d, "nan", 3);
    // Put a NaN in CPI 1, pulse 5, sample 7 (real part).
    let data = d.join("nan.sigmf-data");
    let mut bytes = std::fs::read(&data).unwrap();
    let at = ((P + 5) * N + 7) * 8;
    bytes[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&data, bytes).unwrap();
    let plots = d.join("plots.jsonl");
    let summary = d.join("summary.json");
    let out = tews(&[
        "run",
        "--input",
        m.to_str().unwrap(),
        "--output",
        &format!("jsonl:{}", plots.display()),
        "--summary",
        summary.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("CPI 1") && stderr.contains("NaN"),
        "the rejection is logged with its index: {stderr}"
    );
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["cpis"], 3);
    assert_eq!(s["cpis_rejected"], 1);
    assert_eq!(s["rejected_cpi_indices"], json!([1]));
    let cpis: Vec<u64> = std::fs::read_to_string(&plots)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["cpi"]
                .as_u64()
                .unwrap()
        })
        .collect();
    // The strong target is reported in CPIs 0 and 2, nothing from CPI 1.
    assert!(cpis.contains(&0) && cpis.contains(&2), "{cpis:?}");
    assert!(!cpis.contains(&1), "{cpis:?}");
}
