//! The range fast convolution `IFFT(FFT(x) * filter)` as one fused
//! four-step (mirrors `fft_columns`, `fft_rows_convolve` and `fft_rows` in
//! `shaders/fft.wgsl`): for a length L = N1 x N2 too long for one
//! workgroup,
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
    storage_init, twiddles, whole,
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
    /// The fused plan when the forward transform of `size` x `batch` is a
    /// four-step one on these limits; `None` otherwise (the transform fits
    /// one workgroup, or only global passes fit).
    pub fn new(size: usize, batch: usize, limits: &GpuLimits) -> Result<Option<Self>, GpuError> {
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
            n1,
            n2,
            columns,
            rows,
            inverse_columns,
        }))
    }

    /// Bytes of one batch.
    pub fn buffer_bytes(&self) -> u64 {
        (self.size * self.batch) as u64 * COMPLEX_BYTES
    }

    /// What each dispatch binds and moves (the model of
    /// [`FftRecipe::traffic`]): the forward part (columns and the fused
    /// rows) and the inverse part (columns).
    pub fn traffic(&self, input: ColumnsInput) -> (Vec<DispatchTraffic>, Vec<DispatchTraffic>) {
        let data = self.buffer_bytes();
        let table = self.size as u64 * COMPLEX_BYTES;
        let (t1, t2) = (
            self.n1 as u64 * COMPLEX_BYTES,
            self.n2 as u64 * COMPLEX_BYTES,
        );
        let rows_in = |valid: usize| (valid * self.batch) as u64;
        let mut columns = vec![
            BufferUse::written(1, data),
            BufferUse::read_only(2, t1),
            BufferUse::read_only(6, table),
        ];
        let kernel = match input {
            ColumnsInput::Padded => {
                columns.push(BufferUse::read_only(0, data));
                "fft_columns"
            }
            ColumnsInput::Cf32 { valid, list_bytes } => {
                columns.push(BufferUse::read_only(0, rows_in(valid) * COMPLEX_BYTES));
                columns.push(BufferUse::written(7, list_bytes).part(DETECTION_HEADER_BYTES));
                "fft_columns_cf32"
            }
            ColumnsInput::Ci16 { valid } => {
                columns.push(
                    BufferUse::read_only(8, rows_in(valid) * COMPLEX_BYTES)
                        .part(rows_in(valid) * 4),
                );
                columns.push(BufferUse::read_only(
                    9,
                    std::mem::size_of::<ChainParams>() as u64,
                ));
                "fft_columns_ci16"
            }
        };
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
        // The chain's form stores only the first `valid` of each row.
        let kept = match input {
            ColumnsInput::Padded => data,
            ColumnsInput::Cf32 { valid, .. } | ColumnsInput::Ci16 { valid } => {
                rows_in(valid) * COMPLEX_BYTES
            }
        };
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

/// The fused convolution ready to record.
#[derive(Debug)]
pub struct GpuConvolution {
    recipe: ConvolutionRecipe,
    /// `valid` samples a row for the chain's converting column kernels;
    /// `None`: a padded input.
    valid: Option<usize>,
    /// The column kernel for a padded input, or the cf32 and ci16 ones.
    columns: Vec<Step>,
    rows: Step,
    inverse_columns: Step,
    outer: wgpu::Buffer,
    filter: wgpu::Buffer,
    scratch: wgpu::Buffer,
}

/// The bind groups for one input / spectrum / output buffer triple.
#[derive(Debug)]
pub struct ConvolutionBindings {
    /// The column group per column kernel, then the rows', then the
    /// inverse columns'.
    groups: Vec<wgpu::BindGroup>,
    bound: Vec<Vec<(u32, u64)>>,
}

impl ConvolutionBindings {
    /// Per dispatch (columns with column kernel `variant`: 0 padded or
    /// cf32, 1 ci16; rows; inverse columns), the `(binding, bytes)` of each
    /// buffer its group holds.
    pub fn bound(&self, variant: usize) -> Vec<Vec<(u32, u64)>> {
        let n = self.bound.len();
        vec![
            self.bound[variant].clone(),
            self.bound[n - 2].clone(),
            self.bound[n - 1].clone(),
        ]
    }
}

impl GpuConvolution {
    /// Builds `recipe` with `filter` (`recipe.size` bins, applied to every
    /// row's spectrum).
    /// `valid`: the chain's form, whose column kernels read the uploaded
    /// samples (`valid` a row) and convert them; `None`: a padded input.
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
        let step = |p: &FourStepPass, entry: &str, direction: FftDirection| {
            let chain_valid = valid;
            let valid = valid.unwrap_or(p.len);
            let constants = p.constants(recipe.batch, recipe.size, direction);
            let mut constants = constants;
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
                twiddles: storage_init(ctx, "fft twiddles", &twiddles(p.len, direction)),
            })
        };
        let forward = FftDirection::Forward;
        let scratch = ctx.checked("convolution scratch", || {
            ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("range convolution scratch"),
                size: recipe.buffer_bytes(),
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            })
        })?;
        let columns = match valid {
            None => vec![step(&recipe.columns, "fft_columns", forward)?],
            Some(_) => vec![
                step(&recipe.columns, "fft_columns_cf32", forward)?,
                step(&recipe.columns, "fft_columns_ci16", forward)?,
            ],
        };
        Ok(GpuConvolution {
            valid,
            columns,
            rows: step(&recipe.rows, "fft_rows_convolve", forward)?,
            inverse_columns: step(&recipe.inverse_columns, "fft_rows", FftDirection::Inverse)?,
            outer: storage_init(ctx, "fft outer twiddles", &twiddles(recipe.size, forward)),
            filter: storage_init(ctx, "convolution filter", filter),
            scratch,
            recipe,
        })
    }

    /// The recipe this plan runs.
    pub fn recipe(&self) -> &ConvolutionRecipe {
        &self.recipe
    }

    /// Bind groups for `input` -> `output`, with `spectrum` as the second
    /// intermediate (STORAGE buffers of at least
    /// [`ConvolutionRecipe::buffer_bytes`], `input` only read, or for the
    /// chain's form the upload buffer of `valid` samples a row; `output` may
    /// be `input`, which the first dispatch is done reading before the last
    /// writes it; `spectrum` must be neither). The chain's form also binds
    /// its detection `list` and `params` uniform (`chain`).
    pub fn bind(
        &self,
        ctx: &GpuContext,
        input: &wgpu::Buffer,
        spectrum: &wgpu::Buffer,
        output: &wgpu::Buffer,
        chain: Option<(&wgpu::Buffer, &wgpu::Buffer)>,
    ) -> Result<ConvolutionBindings, GpuError> {
        let need = self.recipe.buffer_bytes();
        let input_need = match self.valid {
            Some(v) => (v * self.recipe.batch) as u64 * COMPLEX_BYTES,
            None => need,
        };
        for (name, b, n) in [
            ("input", input, input_need),
            ("spectrum", spectrum, need),
            ("output", output, need),
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
        fn entry(binding: u32, resource: wgpu::BindingResource<'_>) -> wgpu::BindGroupEntry<'_> {
            wgpu::BindGroupEntry { binding, resource }
        }
        let mut groups = Vec::new();
        let mut bound = Vec::new();
        let tables = |step: usize| {
            vec![
                entry(1, whole(&self.scratch, need)),
                entry(2, self.columns[step].twiddles.as_entire_binding()),
                entry(6, self.outer.as_entire_binding()),
            ]
        };
        match (self.valid, chain) {
            (None, _) => {
                let mut e = tables(0);
                e.push(entry(0, whole(input, need)));
                let (g, b) = bind_group(ctx, &self.columns[0].pipeline, &e)?;
                groups.push(g);
                bound.push(b);
            }
            (Some(_), Some((list, params))) => {
                let mut e = tables(0);
                e.push(entry(0, whole(input, input_need)));
                e.push(entry(7, list.as_entire_binding()));
                let (g, b) = bind_group(ctx, &self.columns[0].pipeline, &e)?;
                groups.push(g);
                bound.push(b);
                let mut e = tables(1);
                e.push(entry(8, whole(input, input_need)));
                e.push(entry(9, params.as_entire_binding()));
                let (g, b) = bind_group(ctx, &self.columns[1].pipeline, &e)?;
                groups.push(g);
                bound.push(b);
            }
            (Some(_), None) => {
                return Err(GpuError::Plan(
                    "the chain's convolution needs its detection list and uniform".into(),
                ));
            }
        }
        let (r, rb) = bind_group(
            ctx,
            &self.rows.pipeline,
            &[
                entry(0, whole(&self.scratch, need)),
                entry(1, whole(spectrum, need)),
                entry(2, self.rows.twiddles.as_entire_binding()),
                entry(4, self.filter.as_entire_binding()),
                entry(6, self.outer.as_entire_binding()),
            ],
        )?;
        let (i, ib) = bind_group(
            ctx,
            &self.inverse_columns.pipeline,
            &[
                entry(0, whole(spectrum, need)),
                entry(1, whole(output, need)),
                entry(2, self.inverse_columns.twiddles.as_entire_binding()),
            ],
        )?;
        groups.extend([r, i]);
        bound.extend([rb, ib]);
        Ok(ConvolutionBindings { groups, bound })
    }

    /// Records the convolution: the forward part (columns and fused rows)
    /// as one compute pass with `forward_ts`, the inverse columns as
    /// another with `inverse_ts`.
    /// `variant`: the column kernel (0: padded or cf32, 1: ci16).
    pub fn record_timed(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        bindings: &ConvolutionBindings,
        variant: usize,
        forward_ts: Option<wgpu::ComputePassTimestampWrites<'_>>,
        inverse_ts: Option<wgpu::ComputePassTimestampWrites<'_>>,
    ) {
        let n = bindings.groups.len();
        let steps = [
            (&self.columns[variant], &bindings.groups[variant]),
            (&self.rows, &bindings.groups[n - 2]),
        ];
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("range convolution"),
            timestamp_writes: forward_ts,
        });
        for (step, group) in steps {
            pass.set_pipeline(&step.pipeline);
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(step.workgroups[0], step.workgroups[1], 1);
        }
        drop(pass);
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("range convolution inverse"),
            timestamp_writes: inverse_ts,
        });
        let step = &self.inverse_columns;
        pass.set_pipeline(&step.pipeline);
        pass.set_bind_group(0, &bindings.groups[n - 1], &[]);
        pass.dispatch_workgroups(step.workgroups[0], step.workgroups[1], 1);
    }
}
