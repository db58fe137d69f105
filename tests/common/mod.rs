//! Helpers shared by integration tests.
//!
//! Tests that need an external tool (Python with NumPy/sigmf, iverilog,
//! tshark, nats-server) call [`require`]: where the tool is missing they skip
//! with a message, unless `TEWS_REQUIRE_EXTERNAL=1` is set (as `.ci/run` does),
//! in which case the skip becomes a failure, so CI can never go green by
//! silently skipping.
#![allow(dead_code)]

pub mod nats;

use std::path::PathBuf;
use std::process::Command;

/// True when skips of external-tool tests must fail (CI).
pub fn external_required() -> bool {
    std::env::var("TEWS_REQUIRE_EXTERNAL").is_ok_and(|v| v == "1")
}

/// Returns `Some(())` when `available`, else skips (prints why, returns
/// `None`) or, under `TEWS_REQUIRE_EXTERNAL=1`, panics with `what`.
pub fn require(available: bool, what: &str) -> Option<()> {
    if available {
        return Some(());
    }
    if external_required() {
        panic!("TEWS_REQUIRE_EXTERNAL=1 but {what} is not available");
    }
    eprintln!(
        "SKIPPED: {what} is not available (set TEWS_REQUIRE_EXTERNAL=1 to make this a failure)"
    );
    None
}

/// The Python interpreter for test peers: `$TEWS_PYTHON`, else `python3`.
pub fn python() -> PathBuf {
    std::env::var_os("TEWS_PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from)
}

/// The Python interpreter if it can import every module in `modules`;
/// otherwise skips (or fails in CI) as [`require`] does.
pub fn python_with(modules: &[&str]) -> Option<PathBuf> {
    let py = python();
    let ok = Command::new(&py)
        .arg("-c")
        .arg(format!("import {}", modules.join(", ")))
        .output()
        .is_ok_and(|o| o.status.success());
    require(
        ok,
        &format!("{} with Python modules {modules:?}", py.display()),
    )?;
    Some(py)
}

/// Path of the release/debug `tews` binary built for this test run.
pub fn tews_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tews"))
}

/// The shared GPU context for a test binary (one device, opened once), or
/// a skip (failure under `TEWS_REQUIRE_EXTERNAL=1`) when no wgpu adapter
/// exists. `TEWS_GPU_ADAPTER` picks an adapter by name (e.g. `llvmpipe`).
pub fn gpu() -> Option<&'static tews::process::gpu::GpuContext> {
    use std::sync::OnceLock;
    use tews::process::gpu::{GpuContext, GpuOptions};
    static CTX: OnceLock<Result<GpuContext, String>> = OnceLock::new();
    let ctx = CTX.get_or_init(|| {
        GpuContext::new(&GpuOptions {
            adapter_filter: std::env::var("TEWS_GPU_ADAPTER").ok(),
        })
        .map_err(|e| e.to_string())
    });
    if let Err(e) = ctx {
        eprintln!("GPU context: {e}");
    }
    require(
        ctx.is_ok(),
        "a wgpu adapter (install mesa-vulkan-drivers for lavapipe)",
    )?;
    ctx.as_ref().ok()
}

/// Simulates the scenario `scenario_toml` with `seed`, reads the recording
/// back and runs it through the CPU chain with `config`: the plan, the plots
/// and the simulator's truth.
pub fn simulate_and_detect(
    scenario_toml: &str,
    seed: u64,
    config: &tews::process::ProcessConfig,
) -> (
    tews::process::ChainPlan,
    Vec<tews::plots::Plot>,
    Vec<tews::sim::TargetTruth>,
) {
    let scenario = tews::sim::Scenario::from_toml_str(scenario_toml, "test scenario").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let truth = tews::sim::simulate(&scenario, seed, &dir.path().join("rec")).unwrap();
    let recording =
        tews::ingest::sigmf::Recording::open(&dir.path().join("rec.sigmf-meta")).unwrap();
    let plan = tews::process::ChainPlan::new(&recording.params, config).unwrap();
    let mut chain = tews::process::cpu::CpuChain::new(plan.clone());
    let mut plots = Vec::new();
    tews::pipeline::run(
        recording.cpis().unwrap(),
        &tews::plots::PlotMaker::new(&recording.params, &plan, recording.site()),
        &mut chain,
        tews::output::Outputs::start(vec![], 1),
        |_, _, p| plots.extend_from_slice(p),
    )
    .unwrap();
    (plan, plots, truth.targets)
}
