//! Seed determinism of `tews::sim`, and CPI-by-CPI generation agreeing with
//! the written recording.

use std::path::Path;

use rustfft::num_complex::Complex32;
use tews::sim::{SampleFormat, Scenario, Simulator, simulate};

/// The built-in scenario cut to 3 CPIs (the full one is exercised by the demo).
fn small_builtin() -> Scenario {
    let mut s = Scenario::builtin();
    s.num_cpis = 3;
    s
}

fn files(prefix: &Path) -> [Vec<u8>; 3] {
    ["sigmf-meta", "sigmf-data", "truth.json"]
        .map(|ext| std::fs::read(prefix.with_extension(ext)).unwrap())
}

#[test]
fn same_seed_same_bytes_different_seed_different_data() {
    let dir = tempfile::tempdir().unwrap();
    let s = small_builtin();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    simulate(&s, 7, &a).unwrap();
    simulate(&s, 7, &b).unwrap();
    simulate(&s, 8, &c).unwrap();
    let (fa, fb, fc) = (files(&a), files(&b), files(&c));
    assert_eq!(fa, fb, "same seed gave different files");
    assert_eq!(fa[1].len(), 3 * 64 * 2000 * 8);
    assert_ne!(fa[1], fc[1], "different seeds gave the same samples");
    // No partial files are left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 9, "{names:?}");
}

#[test]
fn ci16_is_deterministic_and_scaled_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = small_builtin();
    s.num_cpis = 1;
    s.datatype = SampleFormat::Ci16Le;
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let truth = simulate(&s, 11, &a).unwrap();
    simulate(&s, 11, &b).unwrap();
    assert_eq!(files(&a), files(&b));
    assert_eq!(truth.clipped_values, 0);
    assert_eq!(truth.sample_scale, 256.0 / 32768.0);
    // Counts are round(value * 256) for noise_power 1 (the documented default).
    let model = Simulator::new(&s, 11).unwrap().cpi_samples(0);
    let data = std::fs::read(a.with_extension("sigmf-data")).unwrap();
    for (i, z) in model.iter().take(5000).enumerate() {
        let re = i16::from_le_bytes([data[4 * i], data[4 * i + 1]]);
        let im = i16::from_le_bytes([data[4 * i + 2], data[4 * i + 3]]);
        assert_eq!(
            (re, im),
            (
                (z.re as f64 * 256.0).round() as i16,
                (z.im as f64 * 256.0).round() as i16
            )
        );
    }
}

#[test]
fn cpis_generated_alone_match_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = small_builtin();
    s.channels = vec!["delta_az".into(), "sum".into()];
    let prefix = dir.path().join("rec.sigmf-meta"); // the extension is dropped
    simulate(&s, 5, &prefix).unwrap();
    let data = std::fs::read(dir.path().join("rec.sigmf-data")).unwrap();
    let values: Vec<f32> = data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let sim = Simulator::new(&s, 5).unwrap();
    let (channels, pulses, samples) = (2, 64, 2000);
    // Generate out of order: CPI 2 first.
    for k in [2usize, 0, 1] {
        let cpi = sim.cpi_samples(k as u64);
        assert_eq!(cpi.dim(), (channels, pulses, samples));
        for m in [0, 17, 63] {
            for n in [0, 999, 1999] {
                for c in 0..channels {
                    let i = 2 * ((((k * pulses + m) * samples) + n) * channels + c);
                    assert_eq!(
                        Complex32::new(values[i], values[i + 1]),
                        cpi[[c, m, n]],
                        "k {k} m {m} n {n} c {c}"
                    );
                }
            }
        }
    }
}

#[test]
fn bad_output_directory_is_an_error_not_a_panic() {
    let e = simulate(&small_builtin(), 1, Path::new("/nonexistent-dir/rec"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent-dir/rec.sigmf-data"), "{e}");
}

#[test]
fn example_scenario_file_simulates_without_clipping() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/scenario_example.toml");
    let s = Scenario::from_toml_file(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("example");
    let truth = simulate(&s, 1, &prefix).unwrap();
    assert_eq!(truth.clipped_values, 0);
    assert_eq!(truth.targets.len(), 4 * 2);
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(prefix.with_extension("sigmf-meta")).unwrap())
            .unwrap();
    assert_eq!(meta["global"]["core:num_channels"], 3);
    assert_eq!(meta["global"]["core:datatype"], "ci16_le");
    assert_eq!(meta["global"]["core:geolocation"]["coordinates"][0], 10.0);
    assert_eq!(meta["captures"].as_array().unwrap().len(), 4);
    let data_len = std::fs::metadata(prefix.with_extension("sigmf-data"))
        .unwrap()
        .len();
    assert_eq!(data_len, 4 * 32 * 1000 * 3 * 4);
}

#[test]
fn builtin_scenario_full_run() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = std::time::Instant::now();
    let truth = simulate(&Scenario::builtin(), 0, &dir.path().join("demo")).unwrap();
    eprintln!("builtin: {:?}", t0.elapsed());
    assert_eq!(truth.cpis.len(), 8);
    for t in &truth.targets {
        let snr = t.expected_snr_db.unwrap();
        assert!(
            (17.0..40.0).contains(&snr),
            "target {} cpi {}: expected SNR {snr} dB",
            t.target,
            t.cpi
        );
        assert!(t.fully_in_window);
    }
}
