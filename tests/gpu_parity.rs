//! The GPU chain against the CPU chain on the same seeded recordings:
//! float and ci16 input, power-of-two and other samples per pulse, every
//! CFAR variant. The CPU chain is the independent implementation here (its
//! stages are tested against naive DFTs and the CFAR definition in
//! src/process/cpu/); the GPU chain shares only the plan with it.
//!
//! Asserted per CPI: the same plots (count; range and Doppler bin within
//! 0.05 bin; snr within 0.1 dB), and the same detections up to
//! [`flip_tolerance`]: the two maps differ by FFT rounding (measured ~1e-6
//! relative), so a cell whose CFAR ratio lies within ~1e-5 of the threshold
//! may cross on one backend only. Every detection both report must agree
//! in power, noise and neighbours to 1e-4 relative.
//!
//! ci16 input: a ci16 recording's CPIs go up as ci16 counts (checked
//! through the chain's and the run summary's upload counters, in bytes too).
//!
//! Runs on any wgpu adapter (lavapipe in CI); skips without one, fails
//! under `TEWS_REQUIRE_EXTERNAL=1`. Sizes are small so lavapipe runs the
//! file in seconds on 2 cores.

mod common;

use std::sync::{Arc, OnceLock};
use tews::cpi::Cpi;
use tews::dsp::cfar::CfarKind;
use tews::ingest::sigmf::Recording;
use tews::pipeline;
use tews::plots::{Plot, extract_plots};
use tews::process::cpu::CpuChain;
use tews::process::gpu::chain::GpuChainOptions;
use tews::process::gpu::{GpuBackend, GpuChain, GpuContext, GpuOptions};
use tews::process::{Backend, ChainPlan, CpiDetections, Detection, ProcessConfig};

/// Held by the tests that destroy a device of their own, so that at most
/// one device is lost at a time in this process.
static DEVICE_LOSS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One shared device for the file (each test builds its own chains).
fn ctx() -> Option<Arc<GpuContext>> {
    static CTX: OnceLock<Result<Arc<GpuContext>, String>> = OnceLock::new();
    let ctx = CTX.get_or_init(|| {
        GpuContext::new(&GpuOptions {
            adapter_filter: std::env::var("TEWS_GPU_ADAPTER").ok(),
        })
        .map(Arc::new)
        .map_err(|e| e.to_string())
    });
    if let Err(e) = ctx {
        eprintln!("GPU context: {e}");
    }
    common::require(
        ctx.is_ok(),
        "a wgpu adapter (install mesa-vulkan-drivers for lavapipe)",
    )?;
    ctx.as_ref().ok().cloned()
}

/// A seeded scenario: three targets (one near the range edge, one at
/// Doppler bins that wrap), clutter, unit noise.
fn scenario(datatype: &str, pulses: usize, samples: usize, cpis: usize) -> tews::sim::Scenario {
    let text = format!(
        r#"
num_cpis = {cpis}
start_time = "2025-06-01T12:00:00Z"
noise_power = 1.0
datatype = "{datatype}"

[radar]
sample_rate_hz = 10e6
carrier_hz = 1.3e9
pulses_per_cpi = {pulses}
samples_per_pulse = {samples}
pri_s = 250e-6
window_delay_s = 60e-6
waveform = {{ type = "lfm", bandwidth_hz = 8e6, pulse_width_s = 5e-6 }}

[[targets]]
range_m = 9500.0
range_rate_mps = -180.0
snr_db = 0.0

[[targets]]
range_m = 12000.0
range_rate_mps = 280.0
snr_db = -3.0

[[targets]]
range_m = 9100.0
range_rate_mps = 40.0
snr_db = 3.0

[clutter]
range_start_m = 10300.0
range_stop_m = 10600.0
cnr_db = 10.0
"#
    );
    tews::sim::Scenario::from_toml_str(&text, "gpu_parity scenario").unwrap()
}

fn recording(
    dir: &tempfile::TempDir,
    datatype: &str,
    pulses: usize,
    samples: usize,
    cpis: usize,
    seed: u64,
) -> Recording {
    let prefix = dir.path().join(format!("{datatype}_{pulses}_{samples}"));
    tews::sim::simulate(&scenario(datatype, pulses, samples, cpis), seed, &prefix).unwrap();
    Recording::open(&prefix.with_extension("sigmf-meta")).unwrap()
}

fn config(kind: CfarKind, pfa: f64) -> ProcessConfig {
    ProcessConfig {
        cfar: kind,
        pfa,
        ..ProcessConfig::default()
    }
}

/// Cells that may cross on one backend only, per CPI: at most one, plus
/// one per 2000 detections (near-threshold cells of strong clutter).
fn flip_tolerance(detections: usize) -> usize {
    1 + detections / 2000
}

fn rel(a: f32, b: f32) -> f32 {
    (a - b).abs() / a.abs().max(b.abs()).max(f32::MIN_POSITIVE)
}

fn compare_detections(label: &str, cpu: &CpiDetections, gpu: &CpiDetections) {
    assert_eq!(cpu.cells_tested, gpu.cells_tested, "{label}");
    let key = |d: &Detection| (d.range_bin, d.doppler_bin);
    // The GPU list comes back sorted into the CPU's range-major order.
    assert!(
        gpu.detections.windows(2).all(|w| key(&w[0]) < key(&w[1])),
        "{label}: GPU detections not in range-major order"
    );
    let (mut i, mut j, mut only) = (0, 0, Vec::new());
    let (c, g) = (&cpu.detections, &gpu.detections);
    while i < c.len() || j < g.len() {
        match (c.get(i), g.get(j)) {
            (Some(a), Some(b)) if key(a) == key(b) => {
                assert!(
                    rel(a.power, b.power) < 1e-4,
                    "{label} {:?}: power {} vs {}",
                    key(a),
                    a.power,
                    b.power
                );
                assert!(
                    rel(a.noise, b.noise) < 1e-4,
                    "{label} {:?}: noise {} vs {}",
                    key(a),
                    a.noise,
                    b.noise
                );
                for k in 0..4 {
                    assert!(
                        rel(a.neighbours[k], b.neighbours[k]) < 1e-4
                            || (a.neighbours[k] - b.neighbours[k]).abs() < 1e-6 * a.power,
                        "{label} {:?}: neighbour {k} {} vs {}",
                        key(a),
                        a.neighbours[k],
                        b.neighbours[k]
                    );
                }
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if key(a) < key(b) => {
                only.push(("cpu", *a));
                i += 1;
            }
            (Some(a), None) => {
                only.push(("cpu", *a));
                i += 1;
            }
            (_, Some(b)) => {
                only.push(("gpu", *b));
                j += 1;
            }
            (None, None) => unreachable!(),
        }
    }
    assert!(
        only.len() <= flip_tolerance(c.len()),
        "{label}: {} of {} detections on one backend only: {:?}",
        only.len(),
        c.len(),
        &only[..only.len().min(8)]
    );
    // A flipped cell must be a near-threshold one: its power is within
    // 1e-3 of alpha x noise-statistic (checked loosely through snr).
    for (side, d) in &only {
        eprintln!("{label}: only {side}: {d:?}");
    }
}

fn compare_plots(label: &str, cpu: &[Plot], gpu: &[Plot]) {
    assert_eq!(cpu.len(), gpu.len(), "{label}: plot counts");
    let mut c: Vec<&Plot> = cpu.iter().collect();
    let mut g: Vec<&Plot> = gpu.iter().collect();
    let order = |p: &&Plot| {
        (p.range_bin * 1e3).round() as i64 * 1_000_000 + (p.doppler_bin * 1e3).round() as i64
    };
    c.sort_by_key(order);
    g.sort_by_key(order);
    for (a, b) in c.iter().zip(&g) {
        assert!(
            (a.range_bin - b.range_bin).abs() <= 0.05,
            "{label}: range bin {} vs {}",
            a.range_bin,
            b.range_bin
        );
        assert!(
            (a.doppler_bin - b.doppler_bin).abs() <= 0.05,
            "{label}: Doppler bin {} vs {}",
            a.doppler_bin,
            b.doppler_bin
        );
        assert!(
            (a.snr_db - b.snr_db).abs() <= 0.1,
            "{label}: snr {} vs {}",
            a.snr_db,
            b.snr_db
        );
    }
}

/// Both chains over every CPI of `rec`; the GPU input as cf32 (a ci16
/// recording's CPIs decoded first) or as ci16 (counts from the decoded
/// samples, handed over by `process_ci16`).
fn run_both(label: &str, rec: &Recording, kind: CfarKind, pfa: f64, ci16: bool) -> usize {
    run_both_with(label, rec, &config(kind, pfa), ci16)
}

fn run_both_with(label: &str, rec: &Recording, config: &ProcessConfig, ci16: bool) -> usize {
    let kind = config.cfar;
    let Some(ctx) = ctx() else { return 0 };
    let plan = ChainPlan::new(&rec.params, config).unwrap();
    let mut cpu = CpuChain::new(plan.clone());
    let mut gpu = GpuChain::new(ctx, plan).unwrap();
    let mut total = 0;
    for cpi in rec.cpis().unwrap() {
        let cpi = cpi.unwrap();
        let k = cpi.meta.index;
        let want = cpu.process(&cpi).unwrap();
        let got = if ci16 {
            let counts = to_ci16(&cpi, rec.params.sum_channel);
            // The CPI's own counts are the file's (checked independently in
            // tests/ingest_sigmf.rs); here: they are the decoded samples'.
            let (own, _) = cpi.ci16_channel(rec.params.sum_channel).unwrap();
            assert_eq!(own, counts.as_slice(), "{label}: CPI {k} counts");
            gpu.process_ci16(k, &counts, 1.0 / 32768.0).unwrap()
        } else {
            // A ci16 CPI would go up as ci16: make it a cf32 one.
            let decoded = Cpi::new(cpi.meta.clone(), cpi.samples().clone());
            gpu.process(&decoded).unwrap()
        };
        let want_uploads = if ci16 { (1, 0) } else { (0, 1) };
        let u = gpu.uploads();
        assert_eq!(
            (u.ci16_cpis, u.cf32_cpis),
            (want_uploads.0 * (k + 1), want_uploads.1 * (k + 1)),
            "{label}: upload form"
        );
        let label = format!("{label} {kind} CPI {k}");
        compare_detections(&label, &want, &got);
        let pc = extract_plots(&want.detections, &rec.params, &cpi.meta);
        let pg = extract_plots(&got.detections, &rec.params, &cpi.meta);
        compare_plots(&label, &pc, &pg);
        eprintln!(
            "{label}: {} / {} detections, {} plots",
            want.detections.len(),
            got.detections.len(),
            pc.len()
        );
        total += pc.len();
    }
    total
}

/// The ci16 counts behind a ci16 recording's decoded samples: the reader
/// scales by exactly 2^-15, so multiplying back is exact (checked).
fn to_ci16(cpi: &Cpi, channel: usize) -> Vec<i16> {
    let lane = cpi.channel(channel);
    let mut out = Vec::with_capacity(2 * lane.len());
    for z in lane.iter() {
        for v in [z.re, z.im] {
            let c = v * 32768.0;
            assert_eq!(c, c.round(), "not a ci16 recording");
            out.push(c as i16);
        }
    }
    out
}

#[test]
fn float_recording_non_power_of_two_samples_every_cfar() {
    if ctx().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rec = recording(&dir, "cf32_le", 32, 500, 2, 7);
    for kind in [CfarKind::Os, CfarKind::Ca, CfarKind::Go, CfarKind::So] {
        let plots = run_both("cf32 32x500", &rec, kind, 1e-4, false);
        assert!(plots >= 4, "{kind}: targets must be found ({plots} plots)");
    }
}

/// Pulse counts the GPU once refused: mixed radices (48 = 2 x 8 x 3,
/// 96 = 4 x 8 x 3, 100 = 4 x 5 x 5) and Bluestein (127, prime) for the
/// Doppler FFT.
#[test]
fn any_pulse_count_matches_the_cpu() {
    if ctx().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (pulses, seed) in [(48, 21), (96, 22), (100, 23), (127, 24)] {
        let rec = recording(&dir, "cf32_le", pulses, 300, 1, seed);
        for kind in [CfarKind::Os, CfarKind::Ca] {
            let plots = run_both(&format!("cf32 {pulses}x300"), &rec, kind, 1e-4, false);
            assert!(
                plots >= 3,
                "{pulses} {kind}: targets must be found ({plots} plots)"
            );
        }
    }
    let rec = recording(&dir, "ci16_le", 48, 512, 1, 25);
    let plots = run_both("ci16 48x512", &rec, CfarKind::Go, 1e-4, true);
    assert!(plots >= 2, "ci16 48: {plots} plots");
}

/// 4500 samples a pulse (the bench's synthetic CPI, whose PRI allows it):
/// an 8192-point range FFT, too long for one workgroup's memory as complex
/// values, runs as the fused convolution (src/process/gpu/convolution.rs):
/// the register schedule where the adapter's 32 KB hold the row's f32
/// (lavapipe), also storing the CPI corner-turned (no turn dispatch), and
/// the four-step schedule when asked for; each against the CPU, in cf32
/// and ci16, and with a NaN sample.
#[test]
fn long_pulses_through_the_fused_range_convolution_match_the_cpu() {
    use tews::process::gpu::convolution::ConvolutionSchedule;
    let Some(ctx) = ctx() else { return };
    let (params, cpi) = tews::bench::synthetic(16, 4500);
    let plan = ChainPlan::new(&params, &config(CfarKind::Ca, 1e-6)).unwrap();
    let want = CpuChain::new(plan.clone()).process(&cpi).unwrap();
    let (params16, cpi16) = tews::bench::synthetic_as(16, 4500, tews::bench::BenchDatatype::Ci16);
    let want16 = CpuChain::new(ChainPlan::new(&params16, &config(CfarKind::Ca, 1e-6)).unwrap())
        .process(&cpi16)
        .unwrap();
    let registers_fit = ctx.limits().max_compute_workgroup_storage_size >= 8192 * 4;
    for (register_convolution, turned_store) in [(true, false), (true, true), (false, false)] {
        let options = GpuChainOptions {
            register_convolution,
            turned_store,
            ..GpuChainOptions::default()
        };
        let mut gpu = GpuChain::with_options(ctx.clone(), plan.clone(), options).unwrap();
        assert!(matches!(
            gpu.recipe().range_forward.schedule,
            tews::process::gpu::fft::FftSchedule::FourStep { .. }
        ));
        let schedule = &gpu.recipe().range_convolution.as_ref().unwrap().schedule;
        let name = match schedule {
            ConvolutionSchedule::Registers(r) if r.turned => "registers, turned store",
            ConvolutionSchedule::Registers(_) => "registers",
            ConvolutionSchedule::FourStep(_) => "four-step",
        };
        // A turned store leaves no corner-turn dispatch.
        assert_eq!(gpu.recipe().turned_store(), turned_store && registers_fit);
        assert_eq!(
            name.starts_with("registers"),
            register_convolution && registers_fit,
            "{schedule:?}"
        );
        let got = gpu.process(&cpi).unwrap();
        compare_detections(&format!("synthetic 16x4500 {name}"), &want, &got);
        let pc = extract_plots(&want.detections, &params, &cpi.meta);
        compare_plots(
            &format!("synthetic 16x4500 {name}"),
            &pc,
            &extract_plots(&got.detections, &params, &cpi.meta),
        );
        assert!(pc.len() >= 3, "three targets: {} plots", pc.len());
        // ci16 counts, converted in the first pass's loads.
        let (iq, scale) = cpi16.ci16().unwrap();
        let got16 = gpu.process_ci16(1, iq, scale).unwrap();
        assert_eq!(gpu.uploads().ci16_cpis, 1);
        compare_detections(&format!("synthetic 16x4500 ci16 {name}"), &want16, &got16);
        // A NaN sample: counted on load, the CPI rejected, the next one
        // processed.
        let mut bad = cpi.clone();
        bad.samples_mut()[[0, 5, 4321]].re = f32::NAN;
        let err = gpu.process(&bad).unwrap_err();
        assert!(
            matches!(err, tews::process::ProcessError::NonFinite(_)),
            "{name}: {err}"
        );
        if let Err(e) = gpu.process(&cpi) {
            panic!("{name}: the CPI after the rejected one: {e}");
        }
    }
}

/// OS-CFAR with 2 x (40 + 12) = 104 reference cells (the GPU once held at
/// most 64): the k-th smallest found by bisection equals the CPU's sort.
#[test]
fn os_cfar_with_more_than_64_reference_cells_matches_the_cpu() {
    if ctx().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rec = recording(&dir, "cf32_le", 64, 400, 1, 31);
    let config = ProcessConfig {
        window: tews::process::CfarWindow {
            train_range: 40,
            guard_range: 2,
            train_doppler: 12,
            guard_doppler: 1,
        },
        ..config(CfarKind::Os, 1e-4)
    };
    let plots = run_both_with("cf32 64x400 OS 104 cells", &rec, &config, false);
    assert!(plots >= 3, "{plots} plots");
}

#[test]
fn ci16_recording_power_of_two_samples() {
    if ctx().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rec = recording(&dir, "ci16_le", 64, 512, 2, 11);
    for kind in [CfarKind::Os, CfarKind::Go] {
        let plots = run_both("ci16 64x512", &rec, kind, 1e-4, true);
        assert!(plots >= 4, "{kind}: targets must be found ({plots} plots)");
    }
}

#[test]
fn ci16_recording_as_float_and_as_ci16_agree() {
    if ctx().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rec = recording(&dir, "ci16_le", 16, 300, 1, 3);
    let plots = run_both("ci16-as-cf32 16x300", &rec, CfarKind::Ca, 1e-3, false);
    let plots16 = run_both("ci16 16x300", &rec, CfarKind::Ca, 1e-3, true);
    assert_eq!(plots, plots16);
}

#[test]
fn bench_synthetic_cpi_matches() {
    let Some(ctx) = ctx() else { return };
    let (params, cpi) = tews::bench::synthetic(32, 1000);
    let plan = ChainPlan::new(&params, &config(CfarKind::Os, 1e-6)).unwrap();
    let want = CpuChain::new(plan.clone()).process(&cpi).unwrap();
    let got = GpuChain::new(ctx, plan).unwrap().process(&cpi).unwrap();
    compare_detections("synthetic 32x1000", &want, &got);
    let pc = extract_plots(&want.detections, &params, &cpi.meta);
    compare_plots(
        "synthetic",
        &pc,
        &extract_plots(&got.detections, &params, &cpi.meta),
    );
    assert!(pc.len() >= 3, "three targets: {} plots", pc.len());
}

#[test]
fn non_finite_cpi_is_rejected_like_the_cpu() {
    let Some(ctx) = ctx() else { return };
    let (params, mut cpi) = tews::bench::synthetic(16, 200);
    cpi.samples_mut()[[0, 3, 17]].im = f32::NAN;
    let plan = ChainPlan::new(&params, &config(CfarKind::Ca, 1e-4)).unwrap();
    let mut gpu = GpuChain::new(ctx, plan).unwrap();
    let err = gpu.process(&cpi).unwrap_err();
    assert!(
        matches!(err, tews::process::ProcessError::NonFinite(0)),
        "{err}"
    );
    // The chain goes on with the next CPI.
    cpi.samples_mut()[[0, 3, 17]].im = 0.0;
    assert!(gpu.process(&cpi).is_ok());
}

#[test]
fn overflowing_detection_list_is_reported_and_redone_on_the_cpu() {
    let Some(ctx) = ctx() else { return };
    let (params, cpi) = tews::bench::synthetic(16, 400);
    // A high Pfa gives many crossings; a list of 4 cannot hold them.
    let plan = ChainPlan::new(&params, &config(CfarKind::Ca, 1e-2)).unwrap();
    let want = CpuChain::new(plan.clone()).process(&cpi).unwrap();
    assert!(want.detections.len() > 4);
    let options = GpuChainOptions {
        detection_capacity: Some(4),
        ..GpuChainOptions::default()
    };
    let mut chain = GpuChain::with_options(ctx.clone(), plan.clone(), options).unwrap();
    match chain.process(&cpi) {
        Err(tews::process::ProcessError::DetectionOverflow {
            found, capacity, ..
        }) => {
            assert_eq!(capacity, 4);
            // The device counted every crossing (within the flip tolerance).
            let n = want.detections.len() as u64;
            assert!(
                found.abs_diff(n) <= flip_tolerance(n as usize) as u64,
                "{found} vs {n}"
            );
        }
        other => panic!("expected an overflow, got {other:?}"),
    }
    let mut backend = GpuBackend::new(ctx, plan, options).unwrap();
    let got = backend.process(&cpi).unwrap();
    assert_eq!(
        got.detections, want.detections,
        "redone on the CPU: identical"
    );
    assert_eq!(backend.fallbacks(), 1);
    assert_eq!(backend.overflows(), 1);
}

fn run_pipeline(rec: &Recording, backend: &mut dyn Backend) -> (pipeline::Summary, Vec<Plot>) {
    let mut plots = Vec::new();
    let summary = pipeline::run(
        rec.cpis().unwrap(),
        &tews::plots::PlotMaker::new(
            &rec.params,
            &ChainPlan::new(&rec.params, &ProcessConfig::default()).unwrap(),
            rec.site(),
        ),
        backend,
        tews::output::Outputs::start(Vec::new(), 2),
        |_, _, p| plots.extend_from_slice(p),
    )
    .unwrap();
    (summary, plots)
}

#[test]
fn streamed_run_gives_the_cpu_run_plots_in_order() {
    let Some(ctx) = ctx() else { return };
    let dir = tempfile::tempdir().unwrap();
    let rec = recording(&dir, "cf32_le", 16, 400, 6, 5);
    let plan = ChainPlan::new(&rec.params, &config(CfarKind::Os, 1e-4)).unwrap();
    let (cpu_sum, cpu_plots) = run_pipeline(&rec, &mut CpuChain::new(plan.clone()));
    let mut gpu = GpuBackend::new(ctx, plan, GpuChainOptions::default()).unwrap();
    let (gpu_sum, gpu_plots) = run_pipeline(&rec, &mut gpu);
    assert_eq!(gpu_sum.backend, "gpu");
    assert!(gpu_sum.adapter.is_some());
    assert_eq!(gpu_sum.fallbacks, 0);
    assert_eq!(gpu_sum.cpis, 6);
    assert_eq!(cpu_sum.cpis, 6);
    // A float recording goes up as cf32: 8 bytes a sample.
    assert_eq!(gpu_sum.upload.as_deref(), Some("cf32"));
    let u = gpu_sum.uploads.unwrap();
    assert_eq!(
        (u.ci16_cpis, u.cf32_cpis, u.bytes),
        (0, 6, 8 * 16 * 400 * 6)
    );
    assert_eq!(cpu_sum.upload, None);
    assert_eq!(cpu_sum.uploads, None);
    let cpis = |p: &[Plot]| p.iter().map(|p| p.cpi).collect::<Vec<_>>();
    // In CPI order although three CPIs are in flight at a time.
    assert!(cpis(&gpu_plots).windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(cpis(&gpu_plots), cpis(&cpu_plots));
    compare_plots("streamed", &cpu_plots, &gpu_plots);
}

#[test]
fn device_loss_mid_run_moves_every_cpi_to_the_cpu() {
    if ctx().is_none() {
        return;
    }
    let _one_at_a_time = DEVICE_LOSS.lock().unwrap_or_else(|e| e.into_inner());
    // Its own device: this test destroys it.
    let own = Arc::new(
        GpuContext::new(&GpuOptions {
            adapter_filter: std::env::var("TEWS_GPU_ADAPTER").ok(),
        })
        .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let rec = recording(&dir, "cf32_le", 16, 400, 7, 9);
    let plan = ChainPlan::new(&rec.params, &config(CfarKind::Ca, 1e-4)).unwrap();
    let (cpu_sum, cpu_plots) = run_pipeline(&rec, &mut CpuChain::new(plan.clone()));
    let mut gpu = GpuBackend::new(own, plan, GpuChainOptions::default()).unwrap();
    // Lost after 4 CPIs were submitted: CPIs 1..=3 are in flight (ring of 3).
    gpu.destroy_device_after(4);
    let (sum, plots) = run_pipeline(&rec, &mut gpu);
    assert!(gpu.fault().is_some(), "the loss was noticed");
    assert_eq!(sum.cpis, 7);
    assert_eq!(sum.cpis - sum.cpis_rejected, 7, "every CPI processed");
    assert!(
        sum.fallbacks >= 3,
        "in-flight and later CPIs on the CPU: {}",
        sum.fallbacks
    );
    assert_eq!(sum.plots, cpu_sum.plots);
    let cpis = |p: &[Plot]| p.iter().map(|p| p.cpi).collect::<Vec<_>>();
    assert_eq!(cpis(&plots), cpis(&cpu_plots));
    compare_plots("after device loss", &cpu_plots, &plots);
}

/// A ci16 recording: the streamed GPU run uploads every CPI's detection
/// channel as ci16 (4 bytes a sample, P x N x CPIs of them) and reports the
/// CPU run's plots.
#[test]
fn streamed_ci16_run_uploads_ci16_and_gives_the_cpu_run_plots() {
    let Some(ctx) = ctx() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (p, n, cpis) = (16usize, 400usize, 5u64);
    let rec = recording(&dir, "ci16_le", p, n, cpis as usize, 13);
    assert_eq!(rec.params.num_channels, 1);
    let plan = ChainPlan::new(&rec.params, &config(CfarKind::Go, 1e-4)).unwrap();
    let (cpu_sum, cpu_plots) = run_pipeline(&rec, &mut CpuChain::new(plan.clone()));
    let mut gpu = GpuBackend::new(ctx, plan, GpuChainOptions::default()).unwrap();
    let (gpu_sum, gpu_plots) = run_pipeline(&rec, &mut gpu);
    assert_eq!(gpu_sum.fallbacks, 0);
    assert_eq!(gpu_sum.cpis, cpis);
    assert_eq!(gpu_sum.upload.as_deref(), Some("ci16"));
    let u = gpu_sum.uploads.unwrap();
    assert_eq!(u.ci16_cpis, cpis);
    assert_eq!(u.cf32_cpis, 0);
    assert_eq!(u.bytes, 4 * (p * n) as u64 * cpis);
    assert!(
        cpu_plots.len() >= 2 * cpis as usize,
        "{} plots",
        cpu_plots.len()
    );
    let order = |p: &[Plot]| p.iter().map(|p| p.cpi).collect::<Vec<_>>();
    assert_eq!(order(&gpu_plots), order(&cpu_plots));
    compare_plots("streamed ci16", &cpu_plots, &gpu_plots);
    assert_eq!(gpu_sum.plots, cpu_sum.plots);
}

/// Multi-channel ci16 CPI (sum channel 1 of 3): the GPU uploads channel 1's
/// counts, neither chain's finite check converts the CPI to cf32, and a
/// device loss hands the ci16 CPIs to the CPU, which gives the CPU chain's
/// detections exactly.
#[test]
fn ci16_cpi_uploads_its_detection_channel_and_falls_back_exactly() {
    if ctx().is_none() {
        return;
    }
    let (mut params, synth) = tews::bench::synthetic(16, 200);
    // Three channels: noise, the synthetic scene (sum), its negation.
    let lane = synth.channel(0);
    let (p, n) = lane.dim();
    let mut iq = Vec::with_capacity(6 * p * n);
    for ch in 0..3 {
        for z in lane.iter() {
            for v in [z.re, z.im] {
                let c = (v * 2000.0).round().clamp(-32768.0, 32767.0) as i16;
                iq.push(match ch {
                    0 => (c / 7).wrapping_add(3),
                    1 => c,
                    _ => c.saturating_neg(),
                });
            }
        }
    }
    params.num_channels = 3;
    params.sum_channel = 1;
    let scale = 1.0 / 32768.0;
    let cpi = Cpi::from_ci16(synth.meta.clone(), (3, p, n), iq.clone(), scale).unwrap();
    let plan = ChainPlan::new(&params, &config(CfarKind::Ca, 1e-4)).unwrap();
    let want = CpuChain::new(plan.clone()).process(&cpi).unwrap();
    assert!(
        cpi.decoded().is_none(),
        "the CPU chain converted only its channel"
    );
    // The same scene as cf32, channel 1 only: the detections must agree.
    let sum_only: ndarray::Array3<_> = cpi.samples().slice(ndarray::s![1..2, .., ..]).to_owned();
    let mut one = params.clone();
    (one.num_channels, one.sum_channel) = (1, 0);
    let plan1 = ChainPlan::new(&one, &config(CfarKind::Ca, 1e-4)).unwrap();
    let want1 = CpuChain::new(plan1)
        .process(&Cpi::new(synth.meta.clone(), sum_only))
        .unwrap();
    assert_eq!(
        want.detections, want1.detections,
        "channel 1 is the one detected"
    );
    assert!(want.detections.len() >= 3);
    let cpi = Cpi::from_ci16(synth.meta.clone(), (3, p, n), iq, scale).unwrap();
    let mut gpu = GpuChain::new(ctx().unwrap(), plan.clone()).unwrap();
    let got = gpu.process(&cpi).unwrap();
    assert!(cpi.decoded().is_none(), "the GPU path made no cf32 copy");
    assert_eq!(gpu.uploads().ci16_cpis, 1);
    assert_eq!(gpu.uploads().bytes, 4 * (p * n) as u64);
    compare_detections("3-channel ci16", &want, &got);

    // Device loss with ci16 CPIs in flight: the CPU redoes them exactly.
    let _one_at_a_time = DEVICE_LOSS.lock().unwrap_or_else(|e| e.into_inner());
    let own = Arc::new(
        GpuContext::new(&GpuOptions {
            adapter_filter: std::env::var("TEWS_GPU_ADAPTER").ok(),
        })
        .unwrap(),
    );
    let mut backend = GpuBackend::new(own, plan, GpuChainOptions::default()).unwrap();
    backend.destroy_device_after(2);
    let mut done = Vec::new();
    for k in 0..4 {
        let mut c = cpi.clone();
        c.meta.index = k;
        backend.push(c, &mut done);
    }
    backend.flush(&mut done);
    assert!(backend.fault().is_some());
    assert_eq!(done.len(), 4);
    for (k, d) in done.iter().enumerate() {
        assert_eq!(d.cpi.meta.index, k as u64);
        assert!(d.cpi.ci16().is_some(), "CPI {k} handed back as ci16");
        let r = d.result.as_ref().unwrap();
        if k < 2 {
            // Done on the device before the loss, or on the CPU after it.
            compare_detections(&format!("3-channel ci16 CPI {k}"), &want, r);
        } else {
            // Submitted after the loss: processed on the CPU.
            assert_eq!(r.detections, want.detections, "CPI {k}");
        }
    }
    assert!(backend.fallbacks() >= 2, "{}", backend.fallbacks());
    let u = backend.uploads().unwrap();
    // At least the two before the loss went up, all as ci16, none as cf32.
    assert!((2..=4).contains(&u.ci16_cpis), "{u:?}");
    assert_eq!(u.cf32_cpis, 0);
    assert_eq!(u.bytes, 4 * (p * n) as u64 * u.ci16_cpis);
}

/// `tews run --backend gpu` on a ci16 recording: the summary says ci16 and
/// counts its bytes; the plots are the `--backend cpu` run's.
#[test]
fn cli_gpu_run_of_a_ci16_recording_reports_the_ci16_upload() {
    if ctx().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (p, n, cpis) = (16usize, 300usize, 3u64);
    let rec = recording(&dir, "ci16_le", p, n, cpis as usize, 21);
    let meta = dir.path().join(format!("ci16_le_{p}_{n}.sigmf-meta"));
    assert_eq!(rec.num_cpis, cpis);
    let run = |backend: &str| {
        let jsonl = dir.path().join(format!("{backend}.jsonl"));
        let summary = dir.path().join(format!("{backend}.json"));
        let out = std::process::Command::new(common::tews_bin())
            .args(["-q", "run", "--backend", backend, "--input"])
            .arg(&meta)
            .arg("--output")
            .arg(format!("jsonl:{}", jsonl.display()))
            .arg("--summary")
            .arg(&summary)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{backend}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
        let plots: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (summary, plots)
    };
    let (cpu_sum, cpu_plots) = run("cpu");
    let (gpu_sum, gpu_plots) = run("gpu");
    assert_eq!(cpu_sum["upload"], serde_json::Value::Null);
    assert_eq!(gpu_sum["backend"], "gpu");
    assert_eq!(gpu_sum["fallbacks"], 0);
    assert_eq!(gpu_sum["upload"], "ci16");
    assert_eq!(gpu_sum["uploads"]["ci16_cpis"], cpis);
    assert_eq!(gpu_sum["uploads"]["cf32_cpis"], 0);
    assert_eq!(gpu_sum["uploads"]["bytes"], 4 * (p * n) as u64 * cpis);
    assert!(cpu_plots.len() >= 2, "{} plots", cpu_plots.len());
    assert_eq!(cpu_plots.len(), gpu_plots.len(), "plot counts");
    let key = |v: &serde_json::Value| {
        (
            v["cpi"].as_u64().unwrap(),
            (v["range_bin"].as_f64().unwrap() * 1e3).round() as i64,
            (v["doppler_bin"].as_f64().unwrap() * 1e3).round() as i64,
        )
    };
    let mut c = cpu_plots.clone();
    let mut g = gpu_plots.clone();
    c.sort_by_key(key);
    g.sort_by_key(key);
    for (a, b) in c.iter().zip(&g) {
        assert_eq!(a["cpi"], b["cpi"]);
        for (field, tol) in [("range_bin", 0.05), ("doppler_bin", 0.05), ("snr_db", 0.1)] {
            let (x, y) = (a[field].as_f64().unwrap(), b[field].as_f64().unwrap());
            assert!((x - y).abs() <= tol, "{field}: {x} vs {y}");
        }
    }
}

/// Monopulse angles: a three-channel ci16 recording (targets off the beam
/// axis) gives the same angles on the GPU backend as on the CPU backend,
/// within 0.1 of the reported sigma or 1e-3 deg (whichever is larger), also
/// after a device loss moves the run to the CPU mid-way.
#[test]
fn monopulse_angles_match_the_cpu_backend_also_after_device_loss() {
    let Some(ctx) = ctx() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut scen = scenario("ci16_le", 16, 400, 6);
    scen.channels = vec!["sum".into(), "delta_az".into(), "delta_el".into()];
    scen.beam.beamwidth_deg = 2.0;
    for (t, (u, v)) in scen
        .targets
        .iter_mut()
        .zip([(0.5, -0.3), (-0.2, 0.6), (0.0, 0.1)])
    {
        t.beam_offset_az_deg = Some(u);
        t.beam_offset_el_deg = Some(v);
        t.snr_db = t.snr_db.map(|s| s + 6.0);
    }
    let prefix = dir.path().join("mono");
    tews::sim::simulate(&scen, 21, &prefix).unwrap();
    let rec = Recording::open(&prefix.with_extension("sigmf-meta")).unwrap();
    assert!(rec.params.monopulse.is_some());
    let plan = ChainPlan::new(&rec.params, &config(CfarKind::Os, 1e-4)).unwrap();
    let maker = tews::plots::PlotMaker::new(&rec.params, &plan, rec.site());
    let run = |backend: &mut dyn Backend| {
        let mut plots = Vec::new();
        let summary = pipeline::run(
            rec.cpis().unwrap(),
            &maker,
            backend,
            tews::output::Outputs::start(Vec::new(), 2),
            |_, _, p| plots.extend_from_slice(p),
        )
        .unwrap();
        (summary, plots)
    };
    let (_, cpu_plots) = run(&mut CpuChain::new(plan.clone()));
    let measured = cpu_plots
        .iter()
        .filter(|p| p.angle_source == tews::plots::AngleSource::Monopulse)
        .count();
    assert!(measured >= 12, "{measured} monopulse plots");
    let check = |label: &str, gpu_plots: &[Plot]| {
        compare_plots(label, &cpu_plots, gpu_plots);
        for (c, g) in cpu_plots.iter().zip(gpu_plots) {
            assert_eq!(c.angle_source, g.angle_source, "{label}: {c:?} vs {g:?}");
            let tol = |s: Option<f64>| s.map_or(1e-3, |s| (0.1 * s).max(1e-3));
            assert!(
                (c.azimuth_deg - g.azimuth_deg).abs() <= tol(c.azimuth_sigma_deg),
                "{label}: azimuth {c:?} vs {g:?}"
            );
            assert!(
                (c.elevation_deg - g.elevation_deg).abs() <= tol(c.elevation_sigma_deg),
                "{label}: elevation {c:?} vs {g:?}"
            );
        }
    };
    let mut gpu = GpuBackend::new(ctx, plan.clone(), GpuChainOptions::default()).unwrap();
    let (sum, gpu_plots) = run(&mut gpu);
    assert_eq!((sum.fallbacks, sum.upload.as_deref()), (0, Some("ci16")));
    check("gpu", &gpu_plots);
    let _one_at_a_time = DEVICE_LOSS.lock().unwrap_or_else(|e| e.into_inner());
    let own = Arc::new(
        GpuContext::new(&GpuOptions {
            adapter_filter: std::env::var("TEWS_GPU_ADAPTER").ok(),
        })
        .unwrap(),
    );
    let mut lossy = GpuBackend::new(own, plan, GpuChainOptions::default()).unwrap();
    lossy.destroy_device_after(3);
    let (sum, plots) = run(&mut lossy);
    assert!(sum.fallbacks >= 3, "{} fallbacks", sum.fallbacks);
    check("after device loss", &plots);
}
