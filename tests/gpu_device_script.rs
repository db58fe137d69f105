//! benches/gpu_device.sh, the one-command GPU device check, end to end in
//! its dry-run form (`--quick --xp numpy`) on the CI's Vulkan adapter
//! (lavapipe): it must exit 0, print its table with every step's row, write
//! JSON under $OUT holding each step's result (the bench lines of both
//! backends and both datatypes, compare_cupy's ratio, the parity runs), show
//! the 48-pulse shape through the GPU (no refusal), and
//! mark lavapipe's timings "NOT GPU figures". Skips without Python + NumPy +
//! sigmf or without a wgpu adapter, unless `TEWS_REQUIRE_EXTERNAL=1`.

mod common;

use serde_json::Value;

#[test]
fn gpu_device_script_dry_run_on_lavapipe() {
    let Some(py) = common::python_with(&["numpy", "scipy", "sigmf"]) else {
        return;
    };
    let Some(ctx) = common::gpu() else {
        return;
    };
    let adapter = ctx.adapter_info().name.clone();
    let out_dir = tempfile::tempdir().unwrap();
    let run = std::process::Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/gpu_device.sh"
        ))
        .args(["--quick", "--xp", "numpy", "--tews"])
        .arg(common::tews_bin())
        .arg("--python")
        .arg(&py)
        .env("OUT", out_dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");

    // The table: a row per step, figures labelled with what they ran on.
    // A row is found by its first words (the columns are padded).
    let row = |first: &str| {
        let want: Vec<&str> = first.split_whitespace().collect();
        stdout
            .lines()
            .find(|l| {
                l.split_whitespace()
                    .take(want.len())
                    .eq(want.iter().copied())
            })
            .unwrap_or_else(|| panic!("no row '{first}' in:\n{stdout}"))
            .to_string()
    };
    // On a software adapter (lavapipe in CI) its figures are marked as not
    // GPU figures; on a hardware one they must not be.
    let software = ctx.adapter_info().device_type == "Cpu";
    let gpu_label = if software {
        format!("NOT GPU: {adapter}")
    } else {
        adapter.clone()
    };
    assert!(row("info ").contains(&adapter), "{stdout}");
    for dt in ["cf32", "ci16"] {
        let cpu = row(&format!("bench 32x1024 {dt} cpu"));
        assert!(cpu.contains("host CPU") && cpu.contains("us/CPI"), "{cpu}");
        let gpu = row(&format!("bench 32x1024 {dt} gpu"));
        assert!(gpu.contains("us/CPI"), "{gpu}");
        assert!(gpu.contains(&gpu_label), "{gpu}");
    }
    assert!(row("bench 48x1024 cf32 cpu").contains("us/CPI"));
    // 48 pulses: mixed-radix Doppler FFT on the GPU, no refusal.
    let b48 = row("bench 48x1024 cf32 gpu");
    assert!(b48.contains("us/CPI") && b48.contains(&gpu_label), "{b48}");
    let compare = row("compare_cupy");
    assert!(
        compare.contains("numpy: host CPU")
            && compare.contains(&format!("tews: {gpu_label}"))
            && compare.contains("chain's speed"),
        "{compare}"
    );
    for (shape, dt) in [
        ("32x1024", "ci16"),
        ("32x1024", "cf32"),
        ("48x1024", "cf32"),
    ] {
        let parity = row(&format!("parity cpu/gpu {shape} {dt}"));
        assert!(parity.contains(": match;"), "{parity}");
    }
    let label = format!("NOT GPU figures (software adapter {adapter})");
    assert_eq!(stdout.contains(&label), software, "{stdout}");
    assert!(stdout.contains("host CPU: "), "{stdout}");
    assert!(row("result: OK: 0 failed, 0 refused").contains("exit 0"));

    // The JSON: each step's parsed result.
    let text = std::fs::read_to_string(out_dir.path().join("gpu_device.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["exit_status"], 0);
    assert_eq!(doc["software_adapter"], software);
    if software {
        assert_eq!(doc["label"], label.as_str());
    }
    assert!(
        doc["host"]["cpu_model"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(doc["adapters"].as_array().is_some_and(|a| !a.is_empty()));
    let steps = doc["steps"].as_array().unwrap();
    let benches: Vec<&Value> = steps.iter().filter(|s| s["kind"] == "bench").collect();
    assert_eq!(benches.len(), 8);
    for dt in ["cf32", "ci16"] {
        for be in ["cpu", "gpu"] {
            let s = benches
                .iter()
                .find(|s| s["datatype"] == dt && s["backend"] == be && s["shape"] == "32x1024")
                .unwrap();
            assert_eq!(s["status"], "ok", "{s}");
            let r = &s["result"];
            assert_eq!(r["backend"], be);
            assert_eq!(r["datatype"], dt);
            assert_eq!(
                (r["pulses"].as_u64(), r["samples_per_pulse"].as_u64()),
                (Some(32), Some(1024))
            );
            assert!(r["us_per_cpi"].as_f64().unwrap() > 0.0);
            if be == "gpu" {
                assert_eq!(r["adapter"], adapter.as_str());
            }
        }
    }
    let b48 = benches
        .iter()
        .find(|s| s["backend"] == "gpu" && s["shape"] == "48x1024")
        .unwrap();
    assert_eq!(b48["status"], "ok");
    // The range convolution's schedules on the same shape: registers by
    // default (2048 f32 fit any adapter tews accepts), the others when
    // asked.
    let schedule = |shape: &str| {
        let s = benches
            .iter()
            .find(|s| s["backend"] == "gpu" && s["shape"] == shape && s["datatype"] == "cf32")
            .unwrap();
        assert_eq!(s["status"], "ok", "{s}");
        s["result"]["range_convolution"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(schedule("32x1024"), "registers");
    assert_ne!(schedule("32x1024-4step"), "registers");
    assert_eq!(schedule("32x1024-turned"), "registers-turned");
    assert!(row("bench 32x1024-4step cf32 gpu").contains("us/CPI"));

    let cmp = steps.iter().find(|s| s["kind"] == "compare").unwrap();
    assert_eq!(cmp["status"], "ok");
    assert_eq!(cmp["result"]["match"], true);
    assert!(cmp["result"]["tews_over_xp"].as_f64().unwrap() > 0.0);
    assert_eq!(cmp["result"]["tews_gpu"]["adapter"], adapter.as_str());

    let rows = doc["rows"].as_array().unwrap();
    let parity: Vec<&Value> = rows.iter().filter(|r| r["group"].is_string()).collect();
    assert_eq!(parity.len(), 3);
    for dt in ["ci16", "cf32"] {
        let p = parity
            .iter()
            .find(|r| r["type"] == dt && r["shape"] == "32x1024")
            .unwrap();
        assert_eq!(p["status"], "ok");
        assert_eq!(p["parity"]["verdict"], "match");
        assert_eq!(p["parity"]["gpu_upload"], dt);
        let n = p["parity"]["plots_cpu"].as_u64().unwrap();
        assert!(n >= 3, "three targets, {n} plots");
        assert_eq!(p["parity"]["matched"].as_u64(), Some(n));
    }
    let p48 = parity.iter().find(|r| r["shape"] == "48x1024").unwrap();
    assert_eq!(p48["status"], "ok");
    assert_eq!(p48["parity"]["verdict"], "match");

    // What comes back from a device machine: a few files, no folders.
    let mut names: Vec<String> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["gpu_device.json", "gpu_device.log", "gpu_device.txt"]
    );
}
