//! benches/compare_cupy.py, run with NumPy as its array module (no GPU
//! needed), gives the same CFAR detection count as `tews run --backend gpu`
//! (lavapipe in CI) on a small simulated recording, handed tews's CFAR
//! multiplier: the script's chain is an independent vectorised
//! implementation, so this checks both it and the GPU chain. Skips without
//! Python + NumPy + sigmf or without a wgpu adapter, unless
//! `TEWS_REQUIRE_EXTERNAL=1`.

mod common;

#[test]
fn cupy_script_with_numpy_matches_tews_gpu_detections() {
    let Some(py) = common::python_with(&["numpy", "sigmf"]) else {
        return;
    };
    if common::gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for cfar in ["os", "ca"] {
        let out = std::process::Command::new(&py)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/benches/compare_cupy.py"
            ))
            .args(["--xp", "numpy", "--tews"])
            .arg(common::tews_bin())
            .args([
                "--pulses",
                "32",
                "--samples-per-pulse",
                "600",
                "--cpis",
                "2",
            ])
            .args(["--cfar", cfar, "--pfa", "1e-4", "--no-bench", "--workdir"])
            .arg(dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{cfar}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        assert_eq!(last["match"], true, "{stdout}");
        assert!(last["detections"].as_u64().unwrap() > 0, "{stdout}");
    }
}
