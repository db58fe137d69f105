//! The range fast convolution `IFFT(FFT(x) * filter)`, fused, in one of two
//! schedules.
//!
//! **Registers** (`conv_registers*` in `shaders/fft.wgsl`), for a power-of-two
//! length L whose L f32 fit workgroup memory with at most 32 values a
//! thread (8192 on 32 KB): one workgroup a row, one dispatch. The row is read
//! once (converted and zero-padded on load), both transforms and the filter
//! run with the values in registers, exchanging between passes through
//! workgroup memory one component at a time, and only the kept samples are
//! written: the row's only trips through memory are its load and its store.
//!
//! **Four-step** (mirrors `fft_columns`, `fft_rows_convolve` and `fft_rows`),
//! for a length L = N1 x N2 too long for that:
//!
//! 1. forward columns: N2 transforms of N1 (`n = n2 + N2 n1`), each output
//!    times `w_L^(n2 k1)`;
//! 2. per row k1, in one workgroup: the forward row transform over n2, the
//!    filter at bin `k1 + N1 k2`, the inverse row transform over k2, times
//!    `w_L^(-n2 k1)`;
//! 3. inverse columns: N2 transforms of N1 over k1, stored at
//!    `n2 + N2 n1`.
//!
//! Three dispatches, each through workgroup memory, where the separate
//! forward and inverse four-step transforms take four: the filtered
//! spectrum is never written out. The plan is plain data
//! ([`ConvolutionRecipe`]); [`GpuConvolution`] builds it once.

use super::context::{GpuContext, GpuError, GpuLimits};
use super::fft::{
    BufferUse, DispatchTraffic, FftDirection, FftRecipe, FftSchedule, FourStepPass, bind_group,
    pack_radices, storage_init, twiddles, whole,
};
use super::layout::{ChainParams, DETECTION_RECORDS_OFFSET};
use rustfft::num_complex::Complex32;

const COMPLEX_BYTES: u64 = 8;
/// The detection list's header (counters) the conversion may touch.
const DETECTION_HEADER_BYTES: u64 = DETECTION_RECORDS_OFFSET as u64;

/// The fused convolution's plan: plain data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConvolutionRecipe {
    /// Transform length L.
    pub size: usize,
    /// Convolutions per batch (rows of L).
    pub batch: usize,
    /// How it runs.
    pub schedule: ConvolutionSchedule,
}

/// The two schedules (module docs).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum ConvolutionSchedule {
    /// One dispatch, one workgroup a row, the values in registers.
    Registers(RegisterPlan),
    /// Three dispatches through workgroup memory.
    FourStep(Box<FourStepPlan>),
}

/// The four-step schedule's passes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FourStepPlan {
    /// Column transform length.
    pub n1: usize,
    /// Row transform length.
    pub n2: usize,
    /// Forward columns.
    pub columns: FourStepPass,
    /// The fused rows (forward, filter, inverse).
    pub rows: FourStepPass,
    /// Inverse columns (stored in natural order).
    pub inverse_columns: FourStepPass,
}

/// The register-held schedule's shape.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegisterPlan {
    /// Threads a row (the workgroup), a power of two.
    pub threads: usize,
    /// The forward passes' radices, first pass first (the inverse runs them
    /// in reverse order).
    pub radices: Vec<u32>,
    /// Workgroups in x and y (one a row).
    pub workgroups: [u32; 2],
    /// The chain's form stores its kept samples already corner-turned with
    /// the Doppler window (`TURN`; [`ConvolutionRecipe::with_turned_store`]).
    pub turned: bool,
}

/// Values a thread of the register schedule holds at most (`RHELD` in
/// `shaders/fft.wgsl`).
const REGISTER_VALUES: usize = 32;

impl RegisterPlan {
    /// The plan for `size` x `batch` on `limits`, or `None` where it does
    /// not fit: `size` a power of two from 512, `size` f32 of workgroup
    /// memory, and a workgroup of at least `size / 32` threads (at most
    /// `size / 8`: every pass gives each thread a whole number of
    /// butterflies). 16 values a thread where the limits allow, else 32.
    fn new(size: usize, batch: usize, limits: &GpuLimits) -> Result<Option<Self>, GpuError> {
        if !size.is_power_of_two()
            || size < 512
            || (size * 4) as u64 > u64::from(limits.max_compute_workgroup_storage_size)
        {
            return Ok(None);
        }
        let max = limits.max_workgroup_x() as usize;
        let max = if max == 0 { 0 } else { 1 << max.ilog2() };
        let threads = (size / 16).min(max);
        if threads == 0 || size / threads > REGISTER_VALUES {
            return Ok(None);
        }
        // The power of two as 8s, the remainder (2 or 4) first.
        let k = size.trailing_zeros();
        let mut radices = Vec::new();
        match k % 3 {
            1 => radices.push(2),
            2 => radices.push(4),
            _ => {}
        }
        radices.extend(std::iter::repeat_n(8, (k / 3) as usize));
        Ok(Some(RegisterPlan {
            threads,
            radices,
            workgroups: super::fft::split_dispatch(batch as u64, limits)?,
            turned: false,
        }))
    }

    /// The kernel's override constants for `size` x `batch`.
    fn constants(&self, size: usize, batch: usize) -> Vec<(&'static str, f64)> {
        let reversed: Vec<u32> = self.radices.iter().rev().copied().collect();
        vec![
            ("N", size as f64),
            ("BATCH", batch as f64),
            ("SIGN", FftDirection::Forward.sign()),
            ("WG", self.threads as f64),
            ("THREADS", self.threads as f64),
            ("RADICES", pack_radices(&self.radices) as f64),
            ("RADICES_INV", pack_radices(&reversed) as f64),
            ("EX_LEN", size as f64),
            ("TURN", f64::from(u8::from(self.turned))),
        ]
    }
}

/// What the forward columns read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnsInput {
    /// A zero-padded batch of `size` complex values a row.
    Padded,
    /// The chain's uploaded cf32 samples, `valid` a row: converted and
    /// zero-padded on load (non-finite samples counted into the list).
    Cf32 {
        /// Samples a row.
        valid: usize,
        /// Bytes of the detection list bound (its header is touched).
        list_bytes: u64,
    },
    /// The chain's uploaded ci16 counts (one u32 a sample, in a buffer of
    /// 8 bytes a sample), `valid` a row, scaled by the chain's uniform.
    Ci16 {
        /// Samples a row.
        valid: usize,
    },
}

impl ConvolutionRecipe {
    /// The fused plan for `size` x `batch` on these limits: the register
    /// schedule where it fits, else the four-step one where the forward
    /// transform is a four-step one; `None` otherwise (the transform fits
    /// one workgroup's memory as complex values but not the register
    /// schedule, or only global passes fit).
    pub fn new(size: usize, batch: usize, limits: &GpuLimits) -> Result<Option<Self>, GpuError> {
        if let Some(plan) = RegisterPlan::new(size, batch, limits)? {
            return Ok(Some(ConvolutionRecipe {
                size,
                batch,
                schedule: ConvolutionSchedule::Registers(plan),
            }));
        }
        Self::four_step(size, batch, limits)
    }

    /// The four-step plan, when the forward transform of `size` x `batch`
    /// is a four-step one on these limits; `None` otherwise.
    pub fn four_step(
        size: usize,
        batch: usize,
        limits: &GpuLimits,
    ) -> Result<Option<Self>, GpuError> {
        let forward = FftRecipe::new(size, batch, FftDirection::Forward, limits)?;
        let FftSchedule::FourStep {
            n1,
            n2,
            columns,
            rows,
        } = forward.schedule
        else {
            return Ok(None);
        };
        let rows = FourStepPass {
            out_t: rows.in_t,
            out_e: rows.in_e,
            ..rows
        };
        let inverse_columns = FourStepPass {
            out_t: columns.in_t,
            out_e: columns.in_e,
            ..columns.clone()
        };
        Ok(Some(ConvolutionRecipe {
            size,
            batch,
            schedule: ConvolutionSchedule::FourStep(Box::new(FourStepPlan {
                n1,
                n2,
                columns,
                rows,
                inverse_columns,
            })),
        }))
    }

    /// The register schedule storing the kept samples corner-turned (range
    /// major, rows of `batch`) and times the Doppler window, so that the
    /// chain needs no corner-turn dispatch: its stores are scattered (a
    /// stride of `batch` values), which a device must show to pay. Only
    /// for the chain's form; the four-step schedule is returned unchanged.
    pub fn with_turned_store(mut self) -> Self {
        if let ConvolutionSchedule::Registers(plan) = &mut self.schedule {
            plan.turned = true;
        }
        self
    }

    /// True when the kept samples are stored corner-turned.
    pub fn turned(&self) -> bool {
        matches!(&self.schedule, ConvolutionSchedule::Registers(p) if p.turned)
    }

    /// Bytes of one batch.
    pub fn buffer_bytes(&self) -> u64 {
        (self.size * self.batch) as u64 * COMPLEX_BYTES
    }

    /// What each dispatch binds and moves (the model of
    /// [`FftRecipe::traffic`]): the forward part (the register kernel; or
    /// columns and the fused rows) and the inverse part (none; or the
    /// inverse columns).
    pub fn traffic(&self, input: ColumnsInput) -> (Vec<DispatchTraffic>, Vec<DispatchTraffic>) {
        let data = self.buffer_bytes();
        let table = self.size as u64 * COMPLEX_BYTES;
        let rows_in = |valid: usize| (valid * self.batch) as u64;
        // The chain's form stores only the first `valid` of each row.
        let kept = match input {
            ColumnsInput::Padded => data,
            ColumnsInput::Cf32 { valid, .. } | ColumnsInput::Ci16 { valid } => {
                rows_in(valid) * COMPLEX_BYTES
            }
        };
        // What the first dispatch binds for its input, and its kernel in
        // each schedule (registers, four-step columns).
        let (inputs, kernels) = match input {
            ColumnsInput::Padded => (
                vec![BufferUse::read_only(0, data)],
                ("conv_registers", "fft_columns"),
            ),
            ColumnsInput::Cf32 { valid, list_bytes } => (
                vec![
                    BufferUse::read_only(0, rows_in(valid) * COMPLEX_BYTES),
                    BufferUse::written(7, list_bytes).part(DETECTION_HEADER_BYTES),
                ],
                ("conv_registers_cf32", "fft_columns_cf32"),
            ),
            ColumnsInput::Ci16 { valid } => (
                vec![
                    BufferUse::read_only(8, rows_in(valid) * COMPLEX_BYTES)
                        .part(rows_in(valid) * 4),
                    BufferUse::read_only(9, std::mem::size_of::<ChainParams>() as u64),
                ],
                ("conv_registers_ci16", "fft_columns_ci16"),
            ),
        };
        let (n1, n2) = match &self.schedule {
            ConvolutionSchedule::FourStep(f) => (f.n1, f.n2),
            ConvolutionSchedule::Registers(plan) => {
                // Turned, the output binding is the turned CPI itself.
                let out = if plan.turned {
                    BufferUse::written(1, kept)
                } else {
                    BufferUse::written(1, data).part(kept)
                };
                let mut buffers = vec![
                    out,
                    BufferUse::read_only(2, table),
                    BufferUse::read_only(4, table),
                ];
                buffers.extend(inputs);
                // The chain's form reads each row's Doppler window weight.
                if !matches!(input, ColumnsInput::Padded) {
                    buffers.push(BufferUse::read_only(11, self.batch as u64 * 4));
                }
                buffers.sort_by_key(|b| b.binding);
                let kernel = kernels.0;
                return (vec![DispatchTraffic { kernel, buffers }], Vec::new());
            }
        };
        let (t1, t2) = (n1 as u64 * COMPLEX_BYTES, n2 as u64 * COMPLEX_BYTES);
        let mut columns = vec![
            BufferUse::written(1, data),
            BufferUse::read_only(2, t1),
            BufferUse::read_only(6, table),
        ];
        columns.extend(inputs);
        let kernel = kernels.1;
        columns.sort_by_key(|b| b.binding);
        let forward = vec![
            DispatchTraffic {
                kernel,
                buffers: columns,
            },
            DispatchTraffic {
                kernel: "fft_rows_convolve",
                buffers: vec![
                    BufferUse::read_only(0, data),
                    BufferUse::written(1, data),
                    BufferUse::read_only(2, t2),
                    BufferUse::read_only(4, table),
                    BufferUse::read_only(6, table),
                ],
            },
        ];
        let inverse = vec![DispatchTraffic {
            kernel: "fft_rows",
            buffers: vec![
                BufferUse::read_only(0, data),
                BufferUse::written(1, data).part(kept),
                BufferUse::read_only(2, t1),
            ],
        }];
        (forward, inverse)
    }
}

/// One dispatch: pipeline, workgroups, and its tables.
#[derive(Debug)]
struct Step {
    pipeline: wgpu::ComputePipeline,
    workgroups: [u32; 2],
    twiddles: wgpu::Buffer,
}

/// The four-step schedule's second and third dispatches and tables.
#[derive(Debug)]
struct FourStepRest {
    rows: Step,
    inverse_columns: Step,
    outer: wgpu::Buffer,
    scratch: wgpu::Buffer,
}

/// The fused convolution ready to record.
#[derive(Debug)]
pub struct GpuConvolution {
    recipe: ConvolutionRecipe,
    /// `valid` samples a row for the chain's converting kernels; `None`: a
    /// padded input.
    valid: Option<usize>,
    /// The first dispatch (the register kernel, or the forward columns) for
    /// a padded input, or the cf32 and ci16 ones.
    first: Vec<Step>,
    /// Four-step only.
    rest: Option<FourStepRest>,
    filter: wgpu::Buffer,
}

/// The chain's own buffers its form of the convolution binds.
#[derive(Debug, Clone, Copy)]
pub struct ChainBuffers<'a> {
    /// The detection list (its header counts non-finite samples).
    pub list: &'a wgpu::Buffer,
    /// The chain's uniform (the ci16 scale).
    pub params: &'a wgpu::Buffer,
    /// The Doppler window, P f32 (the turned store's weights).
    pub window: &'a wgpu::Buffer,
}

/// The `(binding, bytes)` of each buffer one bind group holds.
pub type GroupBindings = Vec<(u32, u64)>;

/// The bind groups for one input / spectrum / output buffer triple.
#[derive(Debug)]
pub struct ConvolutionBindings {
    /// The first dispatch's group per input variant.
    first: Vec<wgpu::BindGroup>,
    first_bound: Vec<GroupBindings>,
    /// Four-step: the rows' and the inverse columns' groups.
    rest: Vec<wgpu::BindGroup>,
    rest_bound: Vec<GroupBindings>,
}

impl ConvolutionBindings {
    /// Per dispatch of the forward part and of the inverse part (the first
    /// dispatch's input `variant`: 0 padded or cf32, 1 ci16), the
    /// `(binding, bytes)` of each buffer its group holds.
    pub fn bound(&self, variant: usize) -> (Vec<GroupBindings>, Vec<GroupBindings>) {
        let mut forward = vec![self.first_bound[variant].clone()];
        let mut inverse = Vec::new();
        if let [rows, columns] = self.rest_bound.as_slice() {
            forward.push(rows.clone());
            inverse.push(columns.clone());
        }
        (forward, inverse)
    }
}

impl GpuConvolution {
    /// Builds `recipe` with `filter` (`recipe.size` bins, applied to every
    /// row's spectrum).
    /// `valid`: the chain's form, whose first kernels read the uploaded
    /// samples (`valid` a row), convert them and store only `valid` samples
    /// a row; `None`: a padded input, every sample stored.
    pub fn new(
        ctx: &GpuContext,
        recipe: ConvolutionRecipe,
        filter: &[Complex32],
        valid: Option<usize>,
    ) -> Result<Self, GpuError> {
        if valid.is_some_and(|v| v == 0 || v > recipe.size) {
            return Err(GpuError::Plan(format!(
                "convolution rows of {} samples do not fit {} points",
                valid.unwrap_or(0),
                recipe.size
            )));
        }
        if filter.len() != recipe.size {
            return Err(GpuError::Plan(format!(
                "convolution filter has {} bins, the transform {}",
                filter.len(),
                recipe.size
            )));
        }
        let forward = FftDirection::Forward;
        let entries: &[&str] = match (&recipe.schedule, valid) {
            (ConvolutionSchedule::Registers(_), None) => &["conv_registers"],
            (ConvolutionSchedule::Registers(_), Some(_)) => {
                &["conv_registers_cf32", "conv_registers_ci16"]
            }
            (ConvolutionSchedule::FourStep(_), None) => &["fft_columns"],
            (ConvolutionSchedule::FourStep(_), Some(_)) => {
                &["fft_columns_cf32", "fft_columns_ci16"]
            }
        };
        let (first, rest) = match &recipe.schedule {
            ConvolutionSchedule::Registers(plan) => {
                let mut constants = plan.constants(recipe.size, recipe.batch);
                if let Some(v) = valid {
                    constants.extend([("VALID", v as f64), ("KEEP", v as f64)]);
                }
                // One twiddle table for the input variants' kernels.
                let table = storage_init(ctx, "fft twiddles", &twiddles(recipe.size, forward));
                let first = entries
                    .iter()
                    .map(|entry| {
                        Ok(Step {
                            pipeline: ctx.compute_pipeline("fft.wgsl", entry, &constants)?,
                            workgroups: plan.workgroups,
                            twiddles: table.clone(),
                        })
                    })
                    .collect::<Result<Vec<_>, GpuError>>()?;
                (first, None)
            }
            ConvolutionSchedule::FourStep(plan) => {
                let FourStepPlan {
                    columns,
                    rows,
                    inverse_columns,
                    ..
                } = plan.as_ref();
                let step = |p: &FourStepPass,
                            entry: &str,
                            direction: FftDirection,
                            table: &wgpu::Buffer| {
                    let chain_valid = valid;
                    let valid = valid.unwrap_or(p.len);
                    let mut constants = p.constants(recipe.batch, recipe.size, direction);
                    if entry.starts_with("fft_columns_") {
                        constants.push(("VALID", valid as f64));
                    }
                    // The inverse columns store only the samples the chain uses.
                    if let (Some(v), "fft_rows", false) = (chain_valid, entry, p.in_e == 1) {
                        constants.push(("KEEP", v as f64));
                    }
                    Ok::<_, GpuError>(Step {
                        pipeline: ctx.compute_pipeline("fft.wgsl", entry, &constants)?,
                        workgroups: p.workgroups,
                        twiddles: table.clone(),
                    })
                };
                let table = |p: &FourStepPass, direction| {
                    storage_init(ctx, "fft twiddles", &twiddles(p.len, direction))
                };
                // One column twiddle table for the input variants' kernels.
                let column_table = table(columns, forward);
                let scratch = ctx.checked("convolution scratch", || {
                    ctx.device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some("range convolution scratch"),
                        size: recipe.buffer_bytes(),
                        usage: wgpu::BufferUsages::STORAGE,
                        mapped_at_creation: false,
                    })
                })?;
                let first = entries
                    .iter()
                    .map(|entry| step(columns, entry, forward, &column_table))
                    .collect::<Result<Vec<_>, GpuError>>()?;
                let inverse = FftDirection::Inverse;
                let rest = FourStepRest {
                    rows: step(rows, "fft_rows_convolve", forward, &table(rows, forward))?,
                    inverse_columns: step(
                        inverse_columns,
                        "fft_rows",
                        inverse,
                        &table(inverse_columns, inverse),
                    )?,
                    outer: storage_init(ctx, "fft outer twiddles", &twiddles(recipe.size, forward)),
                    scratch,
                };
                (first, Some(rest))
            }
        };
        Ok(GpuConvolution {
            valid,
            first,
            rest,
            filter: storage_init(ctx, "convolution filter", filter),
            recipe,
        })
    }

    /// The recipe this plan runs.
    pub fn recipe(&self) -> &ConvolutionRecipe {
        &self.recipe
    }

    /// Bind groups for `input` -> `output`, with `spectrum` as the second
    /// intermediate of the four-step schedule (STORAGE buffers of at least
    /// [`ConvolutionRecipe::buffer_bytes`], `input` only read, or for the
    /// chain's form the upload buffer of `valid` samples a row; `output` may
    /// be `input`, which the first dispatch is done reading before the last
    /// writes it, except in the register schedule; `spectrum` must be
    /// neither, and the register schedule does not use it; a turned store's
    /// output is the `valid` x batch turned CPI). The chain's form also binds
    /// its detection `list`, `params` uniform and Doppler `window` (`chain`).
    pub fn bind(
        &self,
        ctx: &GpuContext,
        input: &wgpu::Buffer,
        spectrum: &wgpu::Buffer,
        output: &wgpu::Buffer,
        chain: Option<ChainBuffers<'_>>,
    ) -> Result<ConvolutionBindings, GpuError> {
        let need = self.recipe.buffer_bytes();
        let input_need = match self.valid {
            Some(v) => (v * self.recipe.batch) as u64 * COMPLEX_BYTES,
            None => need,
        };
        let output_need = if self.recipe.turned() {
            input_need
        } else {
            need
        };
        for (name, b, n) in [
            ("input", input, input_need),
            ("spectrum", spectrum, need),
            ("output", output, output_need),
        ] {
            if b.size() < n || !b.usage().contains(wgpu::BufferUsages::STORAGE) {
                return Err(GpuError::Plan(format!(
                    "convolution {name} buffer must be a STORAGE buffer of at least {n} bytes"
                )));
            }
        }
        if input == spectrum || spectrum == output {
            return Err(GpuError::Plan(
                "the convolution's spectrum buffer must differ from its input and output".into(),
            ));
        }
        if self.rest.is_none() && input == output {
            return Err(GpuError::Plan(
                "the register convolution writes rows while others are read: \
                 its output must differ from its input"
                    .into(),
            ));
        }
        fn entry(binding: u32, resource: wgpu::BindingResource<'_>) -> wgpu::BindGroupEntry<'_> {
            wgpu::BindGroupEntry { binding, resource }
        }
        // The first dispatch's own buffers: the register kernel writes the
        // output and reads the filter; the forward columns write the scratch
        // and read the outer twiddles.
        let tables = |step: usize| {
            let mut e = vec![entry(2, self.first[step].twiddles.as_entire_binding())];
            match &self.rest {
                None => e.extend([
                    entry(1, whole(output, output_need)),
                    entry(4, self.filter.as_entire_binding()),
                ]),
                Some(r) => e.extend([
                    entry(1, whole(&r.scratch, need)),
                    entry(6, r.outer.as_entire_binding()),
                ]),
            }
            e
        };
        let mut first = Vec::new();
        let mut first_bound = Vec::new();
        let mut add = |e: Vec<wgpu::BindGroupEntry<'_>>, step: usize| {
            let (g, b) = bind_group(ctx, &self.first[step].pipeline, &e)?;
            first.push(g);
            first_bound.push(b);
            Ok::<_, GpuError>(())
        };
        match (self.valid, chain) {
            (None, _) => {
                let mut e = tables(0);
                e.push(entry(0, whole(input, need)));
                add(e, 0)?;
            }
            (
                Some(_),
                Some(ChainBuffers {
                    list,
                    params,
                    window,
                }),
            ) => {
                // The register kernels read the Doppler window (the turned
                // store's weights); the four-step columns do not.
                let window = self
                    .rest
                    .is_none()
                    .then(|| entry(11, window.as_entire_binding()));
                let mut e = tables(0);
                e.push(entry(0, whole(input, input_need)));
                e.push(entry(7, list.as_entire_binding()));
                e.extend(window.clone());
                add(e, 0)?;
                let mut e = tables(1);
                e.push(entry(8, whole(input, input_need)));
                e.push(entry(9, params.as_entire_binding()));
                e.extend(window);
                add(e, 1)?;
            }
            (Some(_), None) => {
                return Err(GpuError::Plan(
                    "the chain's convolution needs its detection list and uniform".into(),
                ));
            }
        }
        let (mut rest, mut rest_bound) = (Vec::new(), Vec::new());
        if let Some(r) = &self.rest {
            let (g, b) = bind_group(
                ctx,
                &r.rows.pipeline,
                &[
                    entry(0, whole(&r.scratch, need)),
                    entry(1, whole(spectrum, need)),
                    entry(2, r.rows.twiddles.as_entire_binding()),
                    entry(4, self.filter.as_entire_binding()),
                    entry(6, r.outer.as_entire_binding()),
                ],
            )?;
            rest.push(g);
            rest_bound.push(b);
            let (g, b) = bind_group(
                ctx,
                &r.inverse_columns.pipeline,
                &[
                    entry(0, whole(spectrum, need)),
                    entry(1, whole(output, need)),
                    entry(2, r.inverse_columns.twiddles.as_entire_binding()),
                ],
            )?;
            rest.push(g);
            rest_bound.push(b);
        }
        Ok(ConvolutionBindings {
            first,
            first_bound,
            rest,
            rest_bound,
        })
    }

    /// Records the convolution: the forward part (the register kernel, or
    /// the columns and fused rows) as one compute pass with `forward_ts`,
    /// the inverse part (nothing, or the inverse columns) as another with
    /// `inverse_ts` (an empty pass keeps that stage's timestamp pair).
    /// `variant`: the first kernel's input (0: padded or cf32, 1: ci16).
    pub fn record_timed(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        bindings: &ConvolutionBindings,
        variant: usize,
        forward_ts: Option<wgpu::ComputePassTimestampWrites<'_>>,
        inverse_ts: Option<wgpu::ComputePassTimestampWrites<'_>>,
    ) {
        let mut steps = vec![(&self.first[variant], &bindings.first[variant])];
        let mut inverse = Vec::new();
        if let (Some(r), [rows, columns]) = (&self.rest, bindings.rest.as_slice()) {
            steps.push((&r.rows, rows));
            inverse.push((&r.inverse_columns, columns));
        }
        for (label, steps, ts) in [
            ("range convolution", steps, forward_ts),
            ("range convolution inverse", inverse, inverse_ts),
        ] {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(label),
                timestamp_writes: ts,
            });
            for (step, group) in steps {
                pass.set_pipeline(&step.pipeline);
                pass.set_bind_group(0, group, &[]);
                pass.dispatch_workgroups(step.workgroups[0], step.workgroups[1], 1);
            }
        }
    }
}
