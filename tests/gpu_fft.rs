//! The GPU FFT against rustfft: every power-of-two size 2..=65536, and
//! every length 2..=1024 (mixed radices 2, 3, 4, 5, 7, 8 and Bluestein for
//! the rest), both directions, both schedules (workgroup memory and global
//! passes), on seeded random batches. Runs on any wgpu adapter; Mesa's lavapipe gives
//! one on any Linux machine (skips without one, fails under
//! `TEWS_REQUIRE_EXTERNAL=1`).
//!
//! The reference is rustfft in f64 on the same f32 input, so the error
//! measured is the GPU transform's own. Bound: `max |gpu - ref| <=
//! TOL_PER_STAGE * log2(N) * max |ref|` (radix-2/4 FFT error grows with the
//! number of passes; f32 epsilon is 6e-8). `--nocapture` prints the
//! measured error per size.

mod common;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustfft::FftPlanner;
use rustfft::num_complex::{Complex, Complex32};
use tews::process::gpu::GpuContext;
use tews::process::gpu::fft::{
    FftDirection, FftRecipe, FftSchedule, GpuFftPlan, fft_batch, run_plan,
};

/// Error bound per radix-2 stage, relative to the largest output magnitude:
/// two f32 epsilons. Measured on lavapipe (llvmpipe, Mesa 22.3): 5.5e-8 at
/// N = 4 up to 1.6e-7 at N = 65536, i.e. 0.1 to 0.5 of this bound.
const TOL_PER_STAGE: f64 = 1.2e-7;

fn random(n: usize, seed: u64) -> Vec<Complex32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            Complex32::new(
                rng.random::<f32>() * 2.0 - 1.0,
                rng.random::<f32>() * 2.0 - 1.0,
            )
        })
        .collect()
}

/// rustfft in f64 of `data` (batches of `size`).
fn reference(data: &[Complex32], size: usize, direction: FftDirection) -> Vec<Complex<f64>> {
    let mut planner = FftPlanner::<f64>::new();
    let fft = match direction {
        FftDirection::Forward => planner.plan_fft_forward(size),
        FftDirection::Inverse => planner.plan_fft_inverse(size),
    };
    let mut buf: Vec<Complex<f64>> = data
        .iter()
        .map(|z| Complex::new(z.re as f64, z.im as f64))
        .collect();
    fft.process(&mut buf);
    buf
}

/// `max |got - want| / max |want|`.
fn relative_error(got: &[Complex32], want: &[Complex<f64>]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().map(|z| z.norm()).fold(0.0, f64::max);
    let err = got
        .iter()
        .zip(want)
        .map(|(g, w)| (Complex::new(g.re as f64, g.im as f64) - w).norm())
        .fold(0.0, f64::max);
    err / scale
}

/// Transforms per batch: several for small sizes (and an odd count, so the
/// last shared workgroup is partly idle), few for large ones (lavapipe is
/// a CPU).
fn batch_for(size: usize) -> usize {
    (16384 / size).clamp(1, 16) + 1
}

/// The error bound of a recipe: [`TOL_PER_STAGE`] per radix-2 stage of the
/// length (`ceil(log2 N)`: a radix-R pass costs about log2 R stages); for
/// Bluestein, the two inner transforms' stages plus three more for the
/// chirp products and the filter.
fn bound(recipe: &FftRecipe) -> f64 {
    let stages = |n: usize| n.next_power_of_two().trailing_zeros() as f64;
    match &recipe.schedule {
        FftSchedule::Bluestein { len, .. } => TOL_PER_STAGE * (2.0 * stages(*len) + 3.0),
        _ => TOL_PER_STAGE * stages(recipe.size).max(1.0),
    }
}

fn check(ctx: &GpuContext, recipe: FftRecipe, seed: u64) -> f64 {
    let (size, batch, direction) = (recipe.size, recipe.batch, recipe.direction);
    let label = format!("{size} x {batch} {direction:?} {:?}", recipe.schedule);
    let data = random(size * batch, seed);
    let plan_recipe = recipe.clone();
    let plan = GpuFftPlan::from_recipe(ctx, recipe).expect("plan");
    let got = run_plan(ctx, &plan, &data).expect("run");
    let err = relative_error(&got, &reference(&data, size, direction));
    let bound = bound(&plan_recipe);
    assert!(
        err <= bound,
        "{label}: relative error {err:.3e} > {bound:.1e}"
    );
    err
}

fn every_size(direction: FftDirection) {
    let Some(ctx) = common::gpu() else { return };
    let limits = *ctx.limits();
    let mut worst: Vec<(usize, f64, Option<f64>)> = Vec::new();
    for log2 in 1..=16 {
        let size = 1usize << log2;
        let batch = batch_for(size);
        let seed = 1000 + log2 as u64;
        let auto = FftRecipe::new(size, batch, direction, &limits).unwrap();
        let shared = !matches!(auto.schedule, FftSchedule::Global { .. });
        let e_auto = check(ctx, auto, seed);
        // Where the plan chose workgroup memory (one dispatch or four-step),
        // check the global passes too.
        let e_global = shared.then(|| {
            check(
                ctx,
                FftRecipe::global(size, batch, direction, &limits).unwrap(),
                seed,
            )
        });
        worst.push((size, e_auto, e_global));
    }
    for (size, a, g) in worst {
        eprintln!(
            "{direction:?} N={size:>5}: relative error {a:.2e}{}",
            g.map_or(String::new(), |g| format!(" (global passes {g:.2e})"))
        );
    }
}

#[test]
fn forward_matches_rustfft_for_every_size() {
    every_size(FftDirection::Forward);
}

#[test]
fn inverse_matches_rustfft_for_every_size() {
    every_size(FftDirection::Inverse);
}

/// Every length 2..=1024 in both directions, with the schedule the plan
/// picks (workgroup memory for these lengths, Bluestein with workgroup
/// memory inside for the others), on 3 transforms; the global passes at
/// the lengths the chain's Doppler FFT meets most (48, 96, 100, 127) and a
/// spread of others. Prints the worst error relative to its bound.
#[test]
fn every_length_to_1024_matches_rustfft() {
    let Some(ctx) = common::gpu() else { return };
    let limits = *ctx.limits();
    let mut worst = (0.0f64, 0usize, FftDirection::Forward);
    let mut kinds = [0usize; 3];
    for size in 2..=1024usize {
        for direction in [FftDirection::Forward, FftDirection::Inverse] {
            let recipe = FftRecipe::new(size, 3, direction, &limits).unwrap();
            kinds[match recipe.schedule {
                FftSchedule::Shared { .. } => 0,
                FftSchedule::Global { .. } | FftSchedule::FourStep { .. } => 1,
                FftSchedule::Bluestein { .. } => 2,
            }] += 1;
            let b = bound(&recipe);
            let e = check(ctx, recipe, size as u64);
            if e / b > worst.0 {
                worst = (e / b, size, direction);
            }
        }
    }
    for size in [3, 5, 7, 12, 48, 96, 100, 127, 243, 625, 343, 1000, 1021] {
        let recipe = FftRecipe::global(size, 5, FftDirection::Forward, &limits).unwrap();
        let b = bound(&recipe);
        let e = check(ctx, recipe, 7 * size as u64);
        if e / b > worst.0 {
            worst = (e / b, size, FftDirection::Forward);
        }
    }
    eprintln!(
        "lengths 2..=1024: {} shared, {} global or four-step, {} Bluestein; worst error {:.2} of its bound (N = {}, {:?})",
        kinds[0], kinds[1], kinds[2], worst.0, worst.1, worst.2
    );
}

#[test]
fn forward_then_inverse_returns_the_input() {
    let Some(ctx) = common::gpu() else { return };
    for log2 in [1, 2, 3, 7, 10, 12, 13, 16] {
        let size = 1usize << log2;
        let data = random(size * 3, 77 + log2 as u64);
        let spectrum = fft_batch(ctx, &data, size, FftDirection::Forward).unwrap();
        let back = fft_batch(ctx, &spectrum, size, FftDirection::Inverse).unwrap();
        let want: Vec<Complex<f64>> = data
            .iter()
            .map(|z| Complex::new(z.re as f64, z.im as f64) * size as f64)
            .collect();
        let err = relative_error(&back, &want);
        let bound = 2.0 * TOL_PER_STAGE * log2 as f64;
        assert!(
            err <= bound,
            "N={size}: round trip error {err:.3e} > {bound:.1e}"
        );
    }
}

#[test]
fn impulse_and_tone_give_the_textbook_spectra() {
    let Some(ctx) = common::gpu() else { return };
    let size = 256;
    let mut impulse = vec![Complex32::default(); size];
    impulse[0] = Complex32::new(1.0, 0.0);
    let flat = fft_batch(ctx, &impulse, size, FftDirection::Forward).unwrap();
    assert!(
        flat.iter()
            .all(|z| (z - Complex32::new(1.0, 0.0)).norm() < 1e-6)
    );
    // exp(+2 pi i 5 n / N): all energy in bin 5 forward.
    let tone: Vec<Complex32> = (0..size)
        .map(|n| {
            let p = 2.0 * std::f64::consts::PI * 5.0 * n as f64 / size as f64;
            Complex32::new(p.cos() as f32, p.sin() as f32)
        })
        .collect();
    let x = fft_batch(ctx, &tone, size, FftDirection::Forward).unwrap();
    for (k, z) in x.iter().enumerate() {
        let want = if k == 5 { size as f32 } else { 0.0 };
        assert!(
            (z.re - want).abs() < 1e-3 && z.im.abs() < 1e-3,
            "bin {k}: {z}"
        );
    }
}

#[test]
fn split_dispatches_and_small_workgroup_memory_still_work() {
    let Some(ctx) = common::gpu() else { return };
    // Pretend the adapter allows only 4 workgroups per dimension, so most
    // dispatches spread over y, and has little workgroup memory.
    let mut limits = *ctx.limits();
    limits.max_compute_workgroups_per_dimension = 4;
    limits.max_compute_workgroup_storage_size = 2048;
    for (size, batch) in [(4, 300), (8, 60), (128, 9), (256, 5), (512, 2)] {
        for direction in [FftDirection::Forward, FftDirection::Inverse] {
            let auto = FftRecipe::new(size, batch, direction, &limits).unwrap();
            check(ctx, auto, 5);
            let global = FftRecipe::global(size, batch, direction, &limits).unwrap();
            check(ctx, global, 6);
        }
    }
}

/// Workgroup memory of 2048 bytes (256 values): 2048 points split
/// (four-step), and so do Bluestein's inner transforms of 1021 points
/// (2048); 127 (inner 256) just fits one workgroup.
#[test]
fn small_workgroup_memory_splits_long_and_bluestein_transforms() {
    let Some(ctx) = common::gpu() else { return };
    let mut limits = *ctx.limits();
    limits.max_compute_workgroup_storage_size = 2048;
    for (size, batch) in [(2048usize, 2usize), (127, 3), (1021, 2)] {
        for direction in [FftDirection::Forward, FftDirection::Inverse] {
            let auto = FftRecipe::new(size, batch, direction, &limits).unwrap();
            match (&auto.schedule, size) {
                (FftSchedule::FourStep { .. }, 2048) => {}
                (FftSchedule::Bluestein { forward, .. }, 1021) => {
                    assert!(matches!(forward.schedule, FftSchedule::FourStep { .. }))
                }
                (FftSchedule::Bluestein { forward, .. }, 127) => {
                    assert!(matches!(forward.schedule, FftSchedule::Shared { .. }))
                }
                (s, _) => panic!("{size}: {s:?}"),
            }
            check(ctx, auto, 9);
        }
    }
}

#[test]
fn a_plan_is_reused_across_batches_and_recordings() {
    let Some(ctx) = common::gpu() else { return };
    for size in [64, 16384] {
        let plan = GpuFftPlan::new(ctx, size, 2, FftDirection::Forward).unwrap();
        for seed in [1, 2] {
            let data = random(size * 2, seed);
            let got = run_plan(ctx, &plan, &data).unwrap();
            let err = relative_error(&got, &reference(&data, size, FftDirection::Forward));
            assert!(err <= TOL_PER_STAGE * size.trailing_zeros() as f64);
        }
    }
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let Some(ctx) = common::gpu() else { return };
    let plan = GpuFftPlan::new(ctx, 1024, 2, FftDirection::Forward).unwrap();
    let bytes = plan.recipe().buffer_bytes();
    let make = |size, usage| {
        ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size,
            usage,
            mapped_at_creation: false,
        })
    };
    let storage = wgpu::BufferUsages::STORAGE;
    let a = make(bytes, storage);
    let b = make(bytes, storage);
    assert!(plan.bind(ctx, &a, &b).is_ok());
    assert!(plan.bind(ctx, &a, &a).is_err(), "in place");
    assert!(
        plan.bind(ctx, &make(bytes / 2, storage), &b).is_err(),
        "short input"
    );
    assert!(
        plan.bind(ctx, &a, &make(bytes, wgpu::BufferUsages::COPY_DST))
            .is_err(),
        "usage"
    );
    assert!(fft_batch(ctx, &random(1000, 1), 1024, FftDirection::Forward).is_err());
    assert!(fft_batch(ctx, &random(1, 1), 1, FftDirection::Forward).is_err());
    assert!(fft_batch(ctx, &random(65537, 1), 65537, FftDirection::Forward).is_err());
}

#[test]
fn forward_and_inverse_fuse_into_one_submission() {
    let Some(ctx) = common::gpu() else { return };
    let (size, batch) = (8192, 3); // global passes: scratch ping-pong
    let forward = GpuFftPlan::new(ctx, size, batch, FftDirection::Forward).unwrap();
    let inverse = GpuFftPlan::new(ctx, size, batch, FftDirection::Inverse).unwrap();
    let bytes = forward.recipe().buffer_bytes();
    let data = random(size * batch, 9);
    let device = &ctx.device;
    let buffer = |usage| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage,
            mapped_at_creation: false,
        })
    };
    use wgpu::BufferUsages as U;
    let input = buffer(U::STORAGE | U::COPY_DST);
    let spectrum = buffer(U::STORAGE);
    let output = buffer(U::STORAGE | U::COPY_SRC);
    let staging = buffer(U::MAP_READ | U::COPY_DST);
    // Bind once, run twice with new data: nothing is made per batch.
    let f = forward.bind(ctx, &input, &spectrum).unwrap();
    let i = inverse.bind(ctx, &spectrum, &output).unwrap();
    for round in 0..2 {
        let data: Vec<Complex32> = data.iter().map(|z| z * (round + 1) as f32).collect();
        ctx.queue
            .write_buffer(&input, 0, bytemuck::cast_slice(&data));
        let mut encoder = device.create_command_encoder(&Default::default());
        forward.record(&mut encoder, &f);
        inverse.record(&mut encoder, &i);
        encoder.copy_buffer_to_buffer(&output, 0, &staging, 0, bytes);
        ctx.queue.submit([encoder.finish()]);
        staging
            .slice(..)
            .map_async(wgpu::MapMode::Read, |r| r.unwrap());
        ctx.wait_idle().unwrap();
        let back: Vec<Complex32> =
            bytemuck::cast_slice(&staging.slice(..).get_mapped_range().unwrap()).to_vec();
        staging.unmap();
        let want: Vec<Complex<f64>> = data
            .iter()
            .map(|z| Complex::new(z.re as f64, z.im as f64) * size as f64)
            .collect();
        let err = relative_error(&back, &want);
        assert!(
            err <= 2.0 * TOL_PER_STAGE * 13.0,
            "round {round}: {err:.3e}"
        );
    }
}

#[test]
fn filtered_plan_multiplies_each_bin_in_every_schedule() {
    let Some(ctx) = common::gpu() else { return };
    let limits = *ctx.limits();
    for (size, batch) in [
        (2usize, 5usize),
        (64, 3),
        (96, 3),
        (127, 3),
        (1024, 2),
        (8192, 2),
    ] {
        let filter = random(size, 40 + size as u64);
        let data = random(size * batch, 50 + size as u64);
        let spectrum = reference(&data, size, FftDirection::Forward);
        let want: Vec<Complex<f64>> = spectrum
            .iter()
            .enumerate()
            .map(|(i, z)| {
                let f = filter[i % size];
                z * Complex::new(f.re as f64, f.im as f64)
            })
            .collect();
        let mut recipes =
            vec![FftRecipe::global(size, batch, FftDirection::Forward, &limits).unwrap()];
        let auto = FftRecipe::new(size, batch, FftDirection::Forward, &limits).unwrap();
        if !matches!(auto.schedule, FftSchedule::Global { .. }) {
            recipes.push(auto);
        }
        for recipe in recipes {
            let label = format!("{size} x {batch} {:?}", recipe.schedule);
            let bound = 2.0 * bound(&recipe);
            let plan = GpuFftPlan::from_recipe_filtered(ctx, recipe, &filter).unwrap();
            let got = run_plan(ctx, &plan, &data).unwrap();
            let err = relative_error(&got, &want);
            assert!(err <= bound, "{label}: {err:.3e} > {bound:.1e}");
        }
    }
}

/// The fused four-step convolution (src/process/gpu/convolution.rs):
/// `IFFT(FFT(x) * filter)` against rustfft in f64, at the chain's 8192
/// points and, with workgroup memory shrunk so that shorter lengths split
/// too, at 512, 1000 and 4096 (the four-step schedule asked for: where the
/// register schedule fits, the chain runs that instead).
#[test]
fn fused_four_step_convolution_matches_rustfft() {
    use tews::process::gpu::convolution::{ConvolutionRecipe, ConvolutionSchedule};
    let Some(ctx) = common::gpu() else { return };
    let mut small = *ctx.limits();
    small.max_compute_workgroup_storage_size = 2048;
    for (size, batch, limits) in [
        (8192usize, 3usize, *ctx.limits()),
        (512, 5, small),
        (1000, 4, small),
        (4096, 2, small),
    ] {
        let recipe = ConvolutionRecipe::four_step(size, batch, &limits)
            .unwrap()
            .unwrap_or_else(|| panic!("{size} should split"));
        assert!(matches!(recipe.schedule, ConvolutionSchedule::FourStep(_)));
        check_convolution(ctx, recipe, 60 + size as u64);
    }
}

/// The register-held convolution (one dispatch, one workgroup a row):
/// against rustfft at every power of two it takes on the adapter's limits,
/// with 16 values a thread (the adapter's workgroup size) and with 32 (256
/// invocations); with fewer invocations than `size / 32` it does not fit
/// and the four-step schedule runs instead.
#[test]
fn register_convolution_matches_rustfft() {
    use tews::process::gpu::convolution::{ConvolutionRecipe, ConvolutionSchedule};
    let Some(ctx) = common::gpu() else { return };
    let mut narrow = *ctx.limits();
    narrow.max_compute_invocations_per_workgroup = 256;
    let mut tiny = *ctx.limits();
    tiny.max_compute_invocations_per_workgroup = 128;
    let storage = ctx.limits().max_compute_workgroup_storage_size as usize;
    let mut checked = 0;
    for size in [512usize, 1024, 2048, 4096, 8192] {
        if size * 4 > storage {
            continue;
        }
        for limits in [*ctx.limits(), narrow] {
            let recipe = ConvolutionRecipe::new(size, 3, &limits).unwrap().unwrap();
            let ConvolutionSchedule::Registers(plan) = &recipe.schedule else {
                panic!("{size}: {:?}", recipe.schedule)
            };
            assert!(
                size / plan.threads <= 32 && plan.threads <= size / 8,
                "{plan:?}"
            );
            check_convolution(ctx, recipe, 80 + size as u64);
            checked += 1;
        }
    }
    assert!(
        checked >= 8,
        "only {checked} register convolutions fit this adapter"
    );
    let recipe = ConvolutionRecipe::new(8192, 3, &tiny).unwrap();
    assert!(
        !matches!(
            recipe.as_ref().map(|r| &r.schedule),
            Some(ConvolutionSchedule::Registers(_))
        ),
        "8192 points in 128 threads would hold 64 values a thread"
    );
}

/// Runs `recipe` on random data and filter and checks it against rustfft.
fn check_convolution(
    ctx: &GpuContext,
    recipe: tews::process::gpu::convolution::ConvolutionRecipe,
    seed: u64,
) {
    use tews::process::gpu::convolution::GpuConvolution;
    let (size, batch) = (recipe.size, recipe.batch);
    let filter = random(size, seed);
    let data = random(size * batch, seed + 10);
    let spectrum = reference(&data, size, FftDirection::Forward);
    let filtered: Vec<Complex32> = spectrum
        .iter()
        .enumerate()
        .map(|(i, z)| {
            let f = filter[i % size];
            let v = z * Complex::new(f.re as f64, f.im as f64);
            Complex32::new(v.re as f32, v.im as f32)
        })
        .collect();
    // The reference's own f32 rounding of the product is far below the
    // bound; the inverse is rustfft's in f64 on it.
    let want = reference(&filtered, size, FftDirection::Inverse);
    let conv = GpuConvolution::new(ctx, recipe, &filter, None).unwrap();
    let bytes = conv.recipe().buffer_bytes();
    let device = &ctx.device;
    use wgpu::util::DeviceExt;
    let input = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::cast_slice(&data),
        usage: wgpu::BufferUsages::STORAGE,
    });
    let make = |usage| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage,
            mapped_at_creation: false,
        })
    };
    let spectrum_buf = make(wgpu::BufferUsages::STORAGE);
    let output = make(wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC);
    let staging = make(wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST);
    let b = conv
        .bind(ctx, &input, &spectrum_buf, &output, None)
        .unwrap();
    let mut encoder = device.create_command_encoder(&Default::default());
    conv.record_timed(&mut encoder, &b, 0, None, None);
    encoder.copy_buffer_to_buffer(&output, 0, &staging, 0, bytes);
    ctx.queue.submit([encoder.finish()]);
    staging.slice(..).map_async(wgpu::MapMode::Read, |_| {});
    ctx.wait_idle().unwrap();
    let got: Vec<Complex32> =
        bytemuck::cast_slice(&staging.slice(..).get_mapped_range().unwrap()).to_vec();
    let err = relative_error(&got, &want);
    let stages = size.next_power_of_two().trailing_zeros() as f64;
    let bound = 2.0 * TOL_PER_STAGE * stages;
    eprintln!("convolution {size} x {batch}: relative error {err:.2e} (bound {bound:.1e})");
    assert!(err <= bound, "{size}: {err:.3e} > {bound:.1e}");
}
