//! The GPU chain's traffic figures (`tews bench --backend gpu --json`:
//! `bytes_moved_per_cpi`, `dispatches_per_cpi`, per stage `bytes_read` and
//! `bytes_written`, `bytes_floor_per_cpi`) come from its recipe, plain data.
//! Checked two ways: the buffers each recipe dispatch claims to bind equal
//! what the built chain's bind groups hold (read from the groups' entries,
//! on lavapipe in CI), and the default 128 x 4096 CPI's totals equal a
//! count made here by hand from the kernels' definitions.

mod common;

use tews::process::gpu::chain::{ChainRecipe, GpuChainOptions, STAGES, SampleUpload};
use tews::process::gpu::fft::{DispatchTraffic, FftSchedule};
use tews::process::gpu::{GpuChain, GpuContext, GpuOptions};
use tews::process::{ChainPlan, ProcessConfig};

fn plan(pulses: usize, samples: usize) -> ChainPlan {
    let (params, _) = tews::bench::synthetic(pulses, samples);
    ChainPlan::new(&params, &ProcessConfig::default()).unwrap()
}

fn claimed(d: &DispatchTraffic) -> Vec<(u32, u64)> {
    let mut v: Vec<(u32, u64)> = d
        .buffers
        .iter()
        .map(|b| (b.binding, b.bound_bytes))
        .collect();
    v.sort();
    v
}

/// Bytes moved and dispatches of one CPI's stages, summed.
fn totals(traffic: &[tews::process::gpu::chain::StageTraffic]) -> (u64, usize) {
    let moved = traffic
        .iter()
        .map(|t| t.bytes_read() + t.bytes_written())
        .sum();
    (moved, traffic.iter().map(|t| t.dispatches.len()).sum())
}

#[test]
fn every_dispatch_binds_what_its_recipe_claims() {
    let ctx = match GpuContext::new(&GpuOptions {
        adapter_filter: std::env::var("TEWS_GPU_ADAPTER").ok(),
    }) {
        Ok(c) => std::sync::Arc::new(c),
        Err(e) => {
            eprintln!("GPU context: {e}");
            let Some(()) = common::require(false, "a wgpu adapter (mesa-vulkan-drivers)") else {
                return;
            };
            unreachable!()
        }
    };
    for (pulses, samples, register_convolution, turned_store) in [
        (32, 1000, true, false),
        (32, 1000, false, false),
        (32, 1000, true, true),
        (48, 700, true, false),
        (127, 300, true, false),
        (64, 4096, true, false),
        (64, 4096, false, false),
        (64, 4096, true, true),
    ] {
        let options = GpuChainOptions {
            register_convolution,
            turned_store,
            ..GpuChainOptions::default()
        };
        let chain = GpuChain::with_options(ctx.clone(), plan(pulses, samples), options).unwrap();
        for upload in [SampleUpload::Cf32, SampleUpload::Ci16] {
            let traffic = chain.recipe().traffic(upload);
            let bound = chain.bound_buffers(upload);
            assert_eq!(traffic.len(), STAGES.len());
            for ((stage, t), b) in STAGES.iter().zip(&traffic).zip(&bound) {
                assert_eq!(t.stage, *stage);
                let label = format!(
                    "{pulses} x {samples} {upload:?} {stage} (registers {register_convolution})"
                );
                assert_eq!(t.dispatches.len(), b.len(), "{label}: dispatches");
                for (i, (d, got)) in t.dispatches.iter().zip(b).enumerate() {
                    assert_eq!(&claimed(d), got, "{label}: dispatch {i} ({})", d.kernel);
                    for u in &d.buffers {
                        assert!(u.bytes <= u.bound_bytes, "{label}: {u:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn the_default_cpi_moves_what_the_kernels_touch() {
    // P = 128, N = 4096; the synthetic pulse makes M = 8192 (checked). On
    // WebGPU's default limits (16 KB of workgroup memory) the register
    // convolution does not fit: the four-step schedule runs.
    let recipe = ChainRecipe::new(
        &plan(128, 4096),
        &GpuChainOptions::default(),
        &tews::process::gpu::GpuLimits::webgpu_defaults(),
    )
    .unwrap();
    let (p, n, m) = (128u64, 4096u64, recipe.fft_len as u64);
    assert_eq!(m, 8192);
    let c = 8; // bytes per complex f32
    let (pn, pm) = (p * n, p * m);
    let uniform = std::mem::size_of::<tews::process::gpu::layout::ChainParams>() as u64;
    let header = 16;
    // The range convolution: 8192 = 64 x 128, fused four-step in
    // workgroup memory, converting on its loads (no convert dispatch, no
    // padded copy). Forward columns read the uploaded samples (cf32: 8
    // bytes a sample, and the list's 16-byte header for non-finite counts;
    // ci16: 4 bytes a sample, and the chain uniform for the scale), 64
    // twiddles and the 8192-value outer twiddle table, and write the
    // padded batch; the fused rows read it, 128 twiddles, the 8192-bin
    // filter and the outer table, and write it; the inverse columns read
    // it and 64 twiddles and write the first N samples of each row.
    let FftSchedule::FourStep { n1, n2, .. } = &recipe.range_forward.schedule else {
        panic!("8192 points should be a four-step transform")
    };
    assert_eq!((*n1, *n2), (64, 128));
    assert!(recipe.range_convolution.is_some());
    let columns_out = 64 * c + m * c + pm * c;
    let rows = pm * c + 128 * c + m * c + m * c + pm * c;
    // ... storing only the N valid samples of each row.
    let inverse = pm * c + 64 * c + pn * c;
    // The Doppler FFT: 128 points in workgroup memory, one dispatch
    // reading the turned CPI and 128 twiddles, writing the shifted power
    // map itself (4 bytes a cell): no power dispatch.
    assert!(recipe.doppler_power_fused);
    let doppler = pn * c + p * c + pn * 4;
    for (upload, input) in [(SampleUpload::Cf32, pn * c), (SampleUpload::Ci16, pn * 4)] {
        // The column pass's own reads: the samples plus the list header
        // (cf32) or the uniform (ci16).
        let columns_in = input + if input == pn * c { header } else { uniform };
        let range = columns_in + columns_out + rows + inverse;
        let turn = uniform + pn * c + p * 4 + pn * c;
        let cfar = uniform + pn * 4 + header;
        let want = range + turn + doppler + cfar;
        let traffic = recipe.traffic(upload);
        let (moved, dispatches) = totals(&traffic);
        assert_eq!(moved, want, "{upload:?}");
        assert_eq!(dispatches, 2 + 1 + 1 + 1 + 1);
        assert_eq!(recipe.bytes_floor(upload), input + 2 * pn * c + pn * 4);
        eprintln!(
            "{upload:?}: {moved} bytes moved per CPI, floor {}, ratio {:.2}",
            recipe.bytes_floor(upload),
            moved as f64 / recipe.bytes_floor(upload) as f64
        );
    }
}

/// The register-held convolution on an adapter with 32 KB of workgroup
/// memory (lavapipe's; NVIDIA's 48 KB): the default CPI's totals by hand.
#[test]
fn the_default_cpi_with_the_register_convolution_moves_what_its_kernels_touch() {
    use tews::process::gpu::convolution::ConvolutionSchedule;
    let mut limits = tews::process::gpu::GpuLimits::webgpu_defaults();
    limits.max_compute_workgroup_storage_size = 32 * 1024;
    let recipe = ChainRecipe::new(&plan(128, 4096), &GpuChainOptions::default(), &limits).unwrap();
    let (p, n, m) = (128u64, 4096u64, recipe.fft_len as u64);
    assert_eq!(m, 8192);
    let Some(ConvolutionSchedule::Registers(r)) =
        recipe.range_convolution.as_ref().map(|c| &c.schedule)
    else {
        panic!("8192 f32 fit 32 KB: {:?}", recipe.range_convolution)
    };
    // WebGPU's 256 invocations: 32 values a thread; 8192 = 2 x 8^4.
    assert_eq!(
        (r.threads, r.radices.as_slice()),
        (256, &[2, 8, 8, 8, 8][..])
    );
    let c = 8;
    let pn = p * n;
    let uniform = std::mem::size_of::<tews::process::gpu::layout::ChainParams>() as u64;
    let header = 16;
    // One dispatch a CPI for the whole range convolution: each row's N
    // samples read (plus the list header or the uniform), the 8192-value
    // twiddle table, the 8192-bin filter and the P Doppler window weights
    // (one a row, for the turned store), and the N kept samples of each row
    // written. The corner turn, the Doppler FFT with its power and the CFAR
    // as with the four-step schedule.
    let tables = m * c + m * c + p * 4;
    let doppler = pn * c + p * c + pn * 4;
    for (upload, input) in [(SampleUpload::Cf32, pn * c), (SampleUpload::Ci16, pn * 4)] {
        let extra = if upload == SampleUpload::Cf32 {
            header
        } else {
            uniform
        };
        let range = input + extra + tables + pn * c;
        let turn = uniform + pn * c + p * 4 + pn * c;
        let cfar = uniform + pn * 4 + header;
        let want = range + turn + doppler + cfar;
        let traffic = recipe.traffic(upload);
        let (moved, dispatches) = totals(&traffic);
        assert_eq!(moved, want, "{upload:?}");
        assert_eq!(dispatches, 1 + 1 + 1 + 1);
        let floor = recipe.bytes_floor(upload);
        let ratio = moved as f64 / floor as f64;
        eprintln!("{upload:?}: {moved} bytes moved per CPI, floor {floor}, ratio {ratio:.2}");
        // Issue 13's goal.
        assert!(ratio <= 2.5, "{upload:?}: {ratio:.2}");
    }
}

/// The register convolution storing the CPI corner-turned: the turn's
/// dispatch and its round trip of the compressed CPI are gone.
#[test]
fn a_turned_store_removes_the_corner_turn() {
    let mut limits = tews::process::gpu::GpuLimits::webgpu_defaults();
    limits.max_compute_workgroup_storage_size = 32 * 1024;
    let options = GpuChainOptions {
        turned_store: true,
        ..GpuChainOptions::default()
    };
    let recipe = ChainRecipe::new(&plan(128, 4096), &options, &limits).unwrap();
    assert!(recipe.turned_store());
    let (p, n, m) = (128u64, 4096u64, 8192u64);
    let (c, pn) = (8, p * n);
    let uniform = std::mem::size_of::<tews::process::gpu::layout::ChainParams>() as u64;
    let header = 16;
    for (upload, input) in [(SampleUpload::Cf32, pn * c), (SampleUpload::Ci16, pn * 4)] {
        let extra = if upload == SampleUpload::Cf32 {
            header
        } else {
            uniform
        };
        // Samples in, tables and window weights, the turned CPI out.
        let range = input + extra + 2 * m * c + p * 4 + pn * c;
        let doppler = pn * c + p * c + pn * 4;
        let cfar = uniform + pn * 4 + header;
        let traffic = recipe.traffic(upload);
        let (moved, dispatches) = totals(&traffic);
        assert_eq!(moved, range + doppler + cfar, "{upload:?}");
        let turn = traffic.iter().find(|t| t.stage == "corner_turn").unwrap();
        assert!(turn.dispatches.is_empty());
        assert_eq!(dispatches, 3);
        eprintln!(
            "{upload:?} turned: {moved} bytes, {:.2}x the floor",
            moved as f64 / recipe.bytes_floor(upload) as f64
        );
    }
    // The four-step schedule has no turned store: the option is ignored.
    let four = GpuChainOptions {
        register_convolution: false,
        turned_store: true,
        ..GpuChainOptions::default()
    };
    let recipe = ChainRecipe::new(&plan(128, 4096), &four, &limits).unwrap();
    assert!(!recipe.turned_store());
}
