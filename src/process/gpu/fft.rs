//! Batched complex FFT on the GPU (mirrors `shaders/fft.wgsl`).
//!
//! Planning is plain data: [`FftRecipe`] says which kernel runs with which
//! workgroup shape and dispatches, from the size, the batch and the
//! adapter's [`GpuLimits`], and can be inspected and tested without a GPU.
//! [`GpuFftPlan`] builds the recipe's pipelines, twiddle table and scratch
//! once; [`GpuFftPlan::bind`] makes the bind groups for one input/output
//! buffer pair once; [`GpuFftPlan::record`] adds the dispatches to a
//! caller's encoder, so later stages can fuse the FFT into one submission.
//!
//! Conventions are rustfft's: forward is `X[k] = sum x[n] e^{-2 pi i nk/N}`,
//! the inverse is unnormalised (`e^{+...}`, no `1/N`).

use super::context::{GpuContext, GpuError, GpuLimits, MIN_WORKGROUP_X};
use super::shaders;
use rustfft::num_complex::Complex32;
use std::f64::consts::PI;
use wgpu::util::DeviceExt;

/// Smallest supported transform length.
pub const MIN_FFT_LEN: usize = 2;
/// Largest supported transform length.
pub const MAX_FFT_LEN: usize = 65536;

/// Transform direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum FftDirection {
    /// `e^{-2 pi i nk/N}`.
    Forward,
    /// `e^{+2 pi i nk/N}`, unnormalised.
    Inverse,
}

impl FftDirection {
    /// The exponent's sign, as the shader's `SIGN`.
    pub fn sign(self) -> f64 {
        match self {
            FftDirection::Forward => -1.0,
            FftDirection::Inverse => 1.0,
        }
    }
}

/// One global-memory Stockham pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FftPass {
    /// 2 or 4.
    pub radix: u32,
    /// Stride: product of the radices of the passes before this one.
    pub ns: u32,
    /// Workgroups in x and y (y > 1 only beyond the per-dimension limit).
    pub workgroups: [u32; 2],
}

/// How the transform runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum FftSchedule {
    /// One dispatch of `fft_shared`: every pass in workgroup memory.
    Shared {
        /// Threads per transform (`>= N/16`: at most 16 values per thread).
        threads_per_fft: u32,
        /// Transforms per workgroup.
        ffts_per_group: u32,
        /// Workgroups in x and y.
        workgroups: [u32; 2],
    },
    /// One dispatch per pass through global memory (ping-pong with scratch).
    Global {
        /// The passes in order: a radix-2 first when `log2 N` is odd.
        passes: Vec<FftPass>,
    },
}

/// The plan of one batched FFT: plain data, no GPU objects.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FftRecipe {
    /// Transform length `N`.
    pub size: usize,
    /// Transforms per batch, stored back to back (`size` samples each).
    pub batch: usize,
    /// Direction.
    pub direction: FftDirection,
    /// Workgroup size in x.
    pub workgroup_size: u32,
    /// Kernel and dispatches.
    pub schedule: FftSchedule,
}

/// Workgroup size of the global passes: the floor every adapter offers.
const GLOBAL_WORKGROUP: u32 = MIN_WORKGROUP_X;
/// Values one thread holds between barriers in `fft_shared` (its private
/// array length): 4 radix-4 or 8 radix-2 butterflies.
const VALUES_PER_THREAD: usize = 16;
const COMPLEX_BYTES: u64 = 8;

impl FftRecipe {
    /// The fastest schedule the limits allow: all passes in workgroup
    /// memory when a transform fits, else global passes.
    pub fn new(
        size: usize,
        batch: usize,
        direction: FftDirection,
        limits: &GpuLimits,
    ) -> Result<Self, GpuError> {
        check_shape(size, batch, limits)?;
        match shared_layout(size, batch, limits) {
            Some((threads, per_group)) => {
                let groups = batch.div_ceil(per_group as usize) as u64;
                Ok(FftRecipe {
                    size,
                    batch,
                    direction,
                    workgroup_size: threads * per_group,
                    schedule: FftSchedule::Shared {
                        threads_per_fft: threads,
                        ffts_per_group: per_group,
                        workgroups: split_dispatch(groups, limits)?,
                    },
                })
            }
            None => Self::global(size, batch, direction, limits),
        }
    }

    /// The global-memory schedule regardless of size (for tests and for
    /// adapters whose workgroup memory is too small).
    pub fn global(
        size: usize,
        batch: usize,
        direction: FftDirection,
        limits: &GpuLimits,
    ) -> Result<Self, GpuError> {
        check_shape(size, batch, limits)?;
        let log2 = size.trailing_zeros();
        let mut passes = Vec::new();
        let mut ns = 1usize;
        let mut radix = if log2 % 2 == 1 { 2 } else { 4 };
        while ns < size {
            let threads = (batch * size / radix) as u64;
            passes.push(FftPass {
                radix: radix as u32,
                ns: ns as u32,
                workgroups: split_dispatch(threads.div_ceil(GLOBAL_WORKGROUP as u64), limits)?,
            });
            ns *= radix;
            radix = 4;
        }
        Ok(FftRecipe {
            size,
            batch,
            direction,
            workgroup_size: GLOBAL_WORKGROUP,
            schedule: FftSchedule::Global { passes },
        })
    }

    /// Bytes of one batch (the size the input and output buffers need).
    pub fn buffer_bytes(&self) -> u64 {
        (self.size * self.batch) as u64 * COMPLEX_BYTES
    }

    /// Number of dispatches recorded.
    pub fn dispatches(&self) -> usize {
        match &self.schedule {
            FftSchedule::Shared { .. } => 1,
            FftSchedule::Global { passes } => passes.len(),
        }
    }
}

fn check_shape(size: usize, batch: usize, limits: &GpuLimits) -> Result<(), GpuError> {
    if !size.is_power_of_two() || !(MIN_FFT_LEN..=MAX_FFT_LEN).contains(&size) {
        return Err(GpuError::Plan(format!(
            "FFT length {size} is not a power of two in {MIN_FFT_LEN}..={MAX_FFT_LEN}"
        )));
    }
    if batch == 0 {
        return Err(GpuError::Plan("FFT batch of 0 transforms".into()));
    }
    let bytes = (size as u64)
        .checked_mul(batch as u64)
        .and_then(|n| n.checked_mul(COMPLEX_BYTES));
    match bytes {
        Some(b) if b <= limits.max_storage_bytes() && size * batch <= u32::MAX as usize => Ok(()),
        _ => Err(GpuError::Plan(format!(
            "FFT of {size} x {batch} needs {} bytes per buffer, above the adapter's \
             max_storage_buffer_binding_size {} / max_buffer_size {}",
            (size as u128) * (batch as u128) * COMPLEX_BYTES as u128,
            limits.max_storage_buffer_binding_size,
            limits.max_buffer_size
        ))),
    }
}

/// `(threads per transform, transforms per workgroup)` for `fft_shared`, or
/// `None` when one transform does not fit the workgroup limits.
fn shared_layout(size: usize, batch: usize, limits: &GpuLimits) -> Option<(u32, u32)> {
    let threads = size.div_ceil(VALUES_PER_THREAD).max(1);
    let max_x = limits.max_workgroup_x() as usize;
    let storage = limits.max_compute_workgroup_storage_size as usize;
    if threads > max_x || size * COMPLEX_BYTES as usize > storage {
        return None;
    }
    // Small transforms share a workgroup so it has at least
    // MIN_WORKGROUP_X threads, as far as memory and the batch allow.
    let mut per_group = 1usize;
    while threads * per_group < MIN_WORKGROUP_X as usize
        && per_group < batch
        && threads * per_group * 2 <= max_x
        && size * per_group * 2 * COMPLEX_BYTES as usize <= storage
    {
        per_group *= 2;
    }
    Some((threads as u32, per_group as u32))
}

/// `groups` workgroups as `[x, y]` within the per-dimension limit.
pub(crate) fn split_dispatch(groups: u64, limits: &GpuLimits) -> Result<[u32; 2], GpuError> {
    let max = limits.max_compute_workgroups_per_dimension as u64;
    let x = groups.min(max);
    let y = groups.div_ceil(x.max(1));
    if y > max {
        return Err(GpuError::Plan(format!(
            "{groups} workgroups exceed max_compute_workgroups_per_dimension {max} squared"
        )));
    }
    Ok([x as u32, y as u32])
}

/// `tw[k] = exp(sign * 2 pi i k / n)`, computed in f64 and rounded once.
pub fn twiddles(size: usize, direction: FftDirection) -> Vec<Complex32> {
    let step = direction.sign() * 2.0 * PI / size as f64;
    (0..size)
        .map(|k| {
            let (s, c) = (step * k as f64).sin_cos();
            Complex32::new(c as f32, s as f32)
        })
        .collect()
}

/// Uniform of one global pass. Keep in sync with `FftPassParams` in
/// `shaders/fft.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct FftPassParams {
    /// Stride of the pass.
    pub ns: u32,
    /// Padding to 16 bytes (uniform layout).
    pub _pad: [u32; 3],
}

/// A batched FFT ready to record: pipelines, twiddles, per-pass uniforms
/// and scratch, made once.
#[derive(Debug)]
pub struct GpuFftPlan {
    recipe: FftRecipe,
    /// One pipeline per dispatch (global passes of equal radix share one).
    pipelines: Vec<wgpu::ComputePipeline>,
    twiddles: wgpu::Buffer,
    /// Global schedule: one uniform per pass.
    pass_params: Vec<wgpu::Buffer>,
    /// Global schedule with two or more passes: the ping-pong buffer.
    scratch: Option<wgpu::Buffer>,
    /// Per-bin factor the last dispatch multiplies its output by (one
    /// transform's worth, shared by the batch), when the plan has one.
    filter: Option<wgpu::Buffer>,
}

/// Bind groups of one plan for one input/output buffer pair.
#[derive(Debug)]
pub struct FftBindings {
    groups: Vec<wgpu::BindGroup>,
}

impl GpuFftPlan {
    /// Plans and builds a batched FFT of `batch` transforms of `size`.
    pub fn new(
        ctx: &GpuContext,
        size: usize,
        batch: usize,
        direction: FftDirection,
    ) -> Result<Self, GpuError> {
        Self::from_recipe(ctx, FftRecipe::new(size, batch, direction, ctx.limits())?)
    }

    /// Builds the GPU objects of `recipe`.
    pub fn from_recipe(ctx: &GpuContext, recipe: FftRecipe) -> Result<Self, GpuError> {
        Self::build(ctx, recipe, None)
    }

    /// Builds `recipe` with its output multiplied bin by bin by `filter`
    /// (`recipe.size` values, the same for every transform of the batch):
    /// `out[b][k] = FFT(in[b])[k] * filter[k]`, fused into the last pass, so
    /// the product costs no extra trip through memory.
    pub fn from_recipe_filtered(
        ctx: &GpuContext,
        recipe: FftRecipe,
        filter: &[Complex32],
    ) -> Result<Self, GpuError> {
        if filter.len() != recipe.size {
            return Err(GpuError::Plan(format!(
                "FFT filter has {} bins, the transform {}",
                filter.len(),
                recipe.size
            )));
        }
        Self::build(ctx, recipe, Some(filter))
    }

    fn build(
        ctx: &GpuContext,
        recipe: FftRecipe,
        filter: Option<&[Complex32]>,
    ) -> Result<Self, GpuError> {
        let filtered = filter.is_some();
        let module = shaders::module(ctx, "fft.wgsl")?;
        let n = recipe.size as f64;
        let mut constants: Vec<(&str, f64)> = vec![
            ("N", n),
            ("LOG2N", recipe.size.trailing_zeros() as f64),
            ("BATCH", recipe.batch as f64),
            ("SIGN", recipe.direction.sign()),
            ("WG", recipe.workgroup_size as f64),
        ];
        let make = |entry: &str, constants: &[(&str, f64)]| {
            ctx.checked(&format!("FFT pipeline {entry}"), || {
                ctx.device
                    .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                        label: Some(entry),
                        layout: None,
                        module: &module,
                        entry_point: Some(entry),
                        compilation_options: wgpu::PipelineCompilationOptions {
                            constants,
                            // Every shared value is written before it is read.
                            zero_initialize_workgroup_memory: false,
                        },
                        cache: None,
                    })
            })
        };
        let (pipelines, pass_params, scratch) = match &recipe.schedule {
            FftSchedule::Shared {
                threads_per_fft,
                ffts_per_group,
                ..
            } => {
                constants.extend([
                    ("THREADS", *threads_per_fft as f64),
                    ("FFTS_PER_GROUP", *ffts_per_group as f64),
                    ("SHARED_LEN", n * *ffts_per_group as f64),
                ]);
                let entry = if filtered {
                    "fft_shared_filtered"
                } else {
                    "fft_shared"
                };
                (vec![make(entry, &constants)?], Vec::new(), None)
            }
            FftSchedule::Global { passes } => {
                // Only the kernels the passes use: the radix-4 kernel does
                // not even compile for N = 2 (N/4 = 0).
                let entry = |radix: u32, filtered: bool| match (radix, filtered) {
                    (2, false) => "fft_global_radix2",
                    (2, true) => "fft_global_radix2_filtered",
                    (_, false) => "fft_global_radix4",
                    (_, true) => "fft_global_radix4_filtered",
                };
                let last = passes.len() - 1;
                let kernel = |radix: u32| {
                    passes[..last]
                        .iter()
                        .any(|p| p.radix == radix)
                        .then(|| make(entry(radix, false), &constants))
                        .transpose()
                };
                let (r2, r4) = (kernel(2)?, kernel(4)?);
                let mut pipelines = passes[..last]
                    .iter()
                    .map(|p| if p.radix == 2 { r2.clone() } else { r4.clone() })
                    .collect::<Option<Vec<_>>>()
                    .expect("a pipeline for every radix used");
                // The last pass: its own pipeline when it is filtered.
                let radix = passes[last].radix;
                let reuse = if radix == 2 { &r2 } else { &r4 };
                pipelines.push(match (filtered, reuse) {
                    (false, Some(p)) => p.clone(),
                    _ => make(entry(radix, filtered), &constants)?,
                });
                let params = passes
                    .iter()
                    .map(|p| {
                        ctx.device
                            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                                label: Some("fft pass params"),
                                contents: bytemuck::bytes_of(&FftPassParams {
                                    ns: p.ns,
                                    _pad: [0; 3],
                                }),
                                usage: wgpu::BufferUsages::UNIFORM,
                            })
                    })
                    .collect();
                let scratch = (passes.len() >= 2)
                    .then(|| {
                        ctx.checked("FFT scratch buffer", || {
                            ctx.device.create_buffer(&wgpu::BufferDescriptor {
                                label: Some("fft scratch"),
                                size: recipe.buffer_bytes(),
                                usage: wgpu::BufferUsages::STORAGE,
                                mapped_at_creation: false,
                            })
                        })
                    })
                    .transpose()?;
                (pipelines, params, scratch)
            }
        };
        let table = twiddles(recipe.size, recipe.direction);
        let twiddles = ctx
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("fft twiddles"),
                contents: bytemuck::cast_slice(&table),
                usage: wgpu::BufferUsages::STORAGE,
            });
        let filter = filter.map(|f| {
            ctx.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("fft filter"),
                    contents: bytemuck::cast_slice(f),
                    usage: wgpu::BufferUsages::STORAGE,
                })
        });
        Ok(GpuFftPlan {
            recipe,
            pipelines,
            twiddles,
            pass_params,
            scratch,
            filter,
        })
    }

    /// The recipe this plan runs.
    pub fn recipe(&self) -> &FftRecipe {
        &self.recipe
    }

    /// Makes the bind groups for transforming `input` into `output` (two
    /// distinct `STORAGE` buffers of at least [`FftRecipe::buffer_bytes`];
    /// `input` is only read). Do this once per buffer pair, not per batch.
    pub fn bind(
        &self,
        ctx: &GpuContext,
        input: &wgpu::Buffer,
        output: &wgpu::Buffer,
    ) -> Result<FftBindings, GpuError> {
        let need = self.recipe.buffer_bytes();
        for (name, b) in [("input", input), ("output", output)] {
            if b.size() < need || !b.usage().contains(wgpu::BufferUsages::STORAGE) {
                return Err(GpuError::Plan(format!(
                    "FFT {name} buffer must be a STORAGE buffer of at least {need} bytes \
                     (it has {} bytes, usage {:?})",
                    b.size(),
                    b.usage()
                )));
            }
        }
        if input == output {
            return Err(GpuError::Plan(
                "FFT input and output must be distinct buffers".into(),
            ));
        }
        fn whole(b: &wgpu::Buffer, bytes: u64) -> wgpu::BindingResource<'_> {
            wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: b,
                offset: 0,
                size: wgpu::BufferSize::new(bytes),
            })
        }
        // Pass p writes `output` when an even number of passes follow it,
        // so the last pass always lands in `output`.
        let count = self.recipe.dispatches();
        let dst_of = |p: usize| -> &wgpu::Buffer {
            if (count - 1 - p).is_multiple_of(2) {
                output
            } else {
                self.scratch.as_ref().expect("scratch exists for 2+ passes")
            }
        };
        let groups = (0..count)
            .map(|p| {
                let src = if p == 0 { input } else { dst_of(p - 1) };
                let mut entries = vec![
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: whole(src, need),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: whole(dst_of(p), need),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: self.twiddles.as_entire_binding(),
                    },
                ];
                if let Some(params) = self.pass_params.get(p) {
                    entries.push(wgpu::BindGroupEntry {
                        binding: 3,
                        resource: params.as_entire_binding(),
                    });
                }
                if let (Some(filter), true) = (&self.filter, p == count - 1) {
                    entries.push(wgpu::BindGroupEntry {
                        binding: 4,
                        resource: filter.as_entire_binding(),
                    });
                }
                ctx.checked("FFT bind group", || {
                    ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some("fft"),
                        layout: &self.pipelines[p].get_bind_group_layout(0),
                        entries: &entries,
                    })
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(FftBindings { groups })
    }

    /// Records the transform into `encoder` (one compute pass; wgpu orders
    /// the dispatches inside it).
    pub fn record(&self, encoder: &mut wgpu::CommandEncoder, bindings: &FftBindings) {
        self.record_timed(encoder, bindings, None);
    }

    /// [`GpuFftPlan::record`], writing the pass's begin and end timestamps
    /// where `timestamps` says (adapters with `TIMESTAMP_QUERY`).
    pub fn record_timed(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        bindings: &FftBindings,
        timestamps: Option<wgpu::ComputePassTimestampWrites<'_>>,
    ) {
        let workgroups: Vec<[u32; 2]> = match &self.recipe.schedule {
            FftSchedule::Shared { workgroups, .. } => vec![*workgroups],
            FftSchedule::Global { passes } => passes.iter().map(|p| p.workgroups).collect(),
        };
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("fft"),
            timestamp_writes: timestamps,
        });
        for ((pipeline, group), [x, y]) in
            self.pipelines.iter().zip(&bindings.groups).zip(workgroups)
        {
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(x, y, 1);
        }
    }
}

/// Uploads `data` (whole transforms of `size`, back to back), transforms
/// each, and reads the result back. The allocating convenience for tests
/// and tools; a processing chain keeps a [`GpuFftPlan`] and its buffers.
pub fn fft_batch(
    ctx: &GpuContext,
    data: &[Complex32],
    size: usize,
    direction: FftDirection,
) -> Result<Vec<Complex32>, GpuError> {
    if size == 0 || !data.len().is_multiple_of(size) {
        return Err(GpuError::Plan(format!(
            "{} samples are not whole transforms of {size}",
            data.len()
        )));
    }
    let plan = GpuFftPlan::new(ctx, size, data.len() / size, direction)?;
    run_plan(ctx, &plan, data)
}

/// Runs `plan` once on `data` (exactly one batch): upload, record, submit,
/// read back.
pub fn run_plan(
    ctx: &GpuContext,
    plan: &GpuFftPlan,
    data: &[Complex32],
) -> Result<Vec<Complex32>, GpuError> {
    let bytes = plan.recipe().buffer_bytes();
    if data.len() as u64 * COMPLEX_BYTES != bytes {
        return Err(GpuError::Plan(format!(
            "{} samples given, the plan transforms {}",
            data.len(),
            bytes / COMPLEX_BYTES
        )));
    }
    let device = &ctx.device;
    let input = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("fft input"),
        contents: bytemuck::cast_slice(data),
        usage: wgpu::BufferUsages::STORAGE,
    });
    let buffer = |label, usage| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes,
            usage,
            mapped_at_creation: false,
        })
    };
    let output = buffer(
        "fft output",
        wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
    );
    let staging = buffer(
        "fft d2h",
        wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
    );
    let bindings = plan.bind(ctx, &input, &output)?;
    let mut encoder =
        device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("fft") });
    plan.record(&mut encoder, &bindings);
    encoder.copy_buffer_to_buffer(&output, 0, &staging, 0, bytes);
    ctx.queue.submit([encoder.finish()]);
    read_back(ctx, &staging)
}

/// Maps `staging` (MAP_READ) after the queued work and copies it out.
fn read_back(ctx: &GpuContext, staging: &wgpu::Buffer) -> Result<Vec<Complex32>, GpuError> {
    let (tx, rx) = std::sync::mpsc::channel();
    staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    ctx.wait_idle()?;
    rx.recv()
        .map_err(|_| GpuError::Readback("the map callback never ran".into()))?
        .map_err(|e| GpuError::Readback(e.to_string()))?;
    let out = {
        let view = staging
            .slice(..)
            .get_mapped_range()
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        bytemuck::cast_slice::<u8, Complex32>(&view).to_vec()
    };
    staging.unmap();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lavapipe_like() -> GpuLimits {
        GpuLimits {
            max_compute_workgroup_storage_size: 32768,
            max_compute_invocations_per_workgroup: 1024,
            max_compute_workgroup_size_x: 1024,
            max_compute_workgroups_per_dimension: 65535,
            max_storage_buffers_per_shader_stage: 8,
            max_storage_buffer_binding_size: 1 << 30,
            max_buffer_size: 1 << 30,
        }
    }

    #[test]
    fn pass_params_match_the_wgsl_struct() {
        assert_eq!(std::mem::size_of::<FftPassParams>(), 16);
        assert_eq!(std::mem::offset_of!(FftPassParams, ns), 0);
    }

    #[test]
    fn shared_when_a_transform_fits_workgroup_memory() {
        let l = lavapipe_like();
        for log2 in 1..=12 {
            let n = 1 << log2;
            let r = FftRecipe::new(n, 100, FftDirection::Forward, &l).unwrap();
            let FftSchedule::Shared {
                threads_per_fft,
                ffts_per_group,
                workgroups,
            } = r.schedule
            else {
                panic!("{n} should run in shared memory");
            };
            assert!(threads_per_fft as usize * VALUES_PER_THREAD >= n);
            assert!(n * ffts_per_group as usize * 8 <= 32768);
            assert_eq!(r.workgroup_size, threads_per_fft * ffts_per_group);
            assert!(r.workgroup_size >= 64 || ffts_per_group >= 100);
            assert!(workgroups[0] as usize * ffts_per_group as usize >= 100);
        }
        let r = FftRecipe::new(8192, 4, FftDirection::Forward, &l).unwrap();
        assert!(matches!(r.schedule, FftSchedule::Global { .. }));
    }

    #[test]
    fn webgpu_minimum_limits_still_plan_every_size() {
        let l = GpuLimits::webgpu_defaults();
        for log2 in 1..=16 {
            let n = 1usize << log2;
            let r = FftRecipe::new(n, 8, FftDirection::Inverse, &l).unwrap();
            assert!(r.workgroup_size <= l.max_workgroup_x());
            if let FftSchedule::Shared { ffts_per_group, .. } = r.schedule {
                assert!(
                    n * ffts_per_group as usize * 8
                        <= l.max_compute_workgroup_storage_size as usize
                );
            }
        }
    }

    #[test]
    fn global_passes_multiply_to_the_size() {
        let l = lavapipe_like();
        for log2 in 1..=16 {
            let n = 1usize << log2;
            let r = FftRecipe::global(n, 3, FftDirection::Forward, &l).unwrap();
            let FftSchedule::Global { passes } = &r.schedule else {
                unreachable!()
            };
            let mut ns = 1;
            for (i, p) in passes.iter().enumerate() {
                assert_eq!(p.ns, ns);
                assert!(p.radix == 4 || (p.radix == 2 && i == 0));
                ns *= p.radix;
            }
            assert_eq!(ns as usize, n);
        }
    }

    #[test]
    fn large_dispatches_split_over_y() {
        let mut l = lavapipe_like();
        l.max_compute_workgroups_per_dimension = 1000;
        let r = FftRecipe::global(65536, 16, FftDirection::Forward, &l).unwrap();
        let FftSchedule::Global { passes } = &r.schedule else {
            unreachable!()
        };
        let [x, y] = passes[0].workgroups;
        assert!(x <= 1000 && (x * y) as u64 * 64 >= 65536 * 16 / 4);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let l = lavapipe_like();
        for (n, b) in [(0, 1), (1, 1), (3, 1), (131072, 1), (1024, 0)] {
            assert!(
                FftRecipe::new(n, b, FftDirection::Forward, &l).is_err(),
                "{n} x {b}"
            );
        }
        let err = FftRecipe::new(65536, 1 << 20, FftDirection::Forward, &l).unwrap_err();
        assert!(
            err.to_string().contains("max_storage_buffer_binding_size"),
            "{err}"
        );
    }

    #[test]
    fn twiddles_are_unit_roots() {
        let t = twiddles(8, FftDirection::Forward);
        assert_eq!(t[0], Complex32::new(1.0, 0.0));
        assert!((t[2] - Complex32::new(0.0, -1.0)).norm() < 1e-7);
        let i = twiddles(8, FftDirection::Inverse);
        assert!((i[2] - Complex32::new(0.0, 1.0)).norm() < 1e-7);
    }
}
