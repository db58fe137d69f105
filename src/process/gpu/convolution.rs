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
use rustfft::num_complex::Complex32;

const COMPLEX_BYTES: u64 = 8;

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
    pub fn traffic(&self) -> (Vec<DispatchTraffic>, Vec<DispatchTraffic>) {
        let data = self.buffer_bytes();
        let table = self.size as u64 * COMPLEX_BYTES;
        let (t1, t2) = (
            self.n1 as u64 * COMPLEX_BYTES,
            self.n2 as u64 * COMPLEX_BYTES,
        );
        let forward = vec![
            DispatchTraffic {
                kernel: "fft_columns",
                buffers: vec![
                    BufferUse::read_only(0, data),
                    BufferUse::written(1, data),
                    BufferUse::read_only(2, t1),
                    BufferUse::read_only(6, table),
                ],
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
                BufferUse::written(1, data),
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
    columns: Step,
    rows: Step,
    inverse_columns: Step,
    outer: wgpu::Buffer,
    filter: wgpu::Buffer,
    scratch: wgpu::Buffer,
}

/// The bind groups for one input / spectrum / output buffer triple.
#[derive(Debug)]
pub struct ConvolutionBindings {
    groups: [wgpu::BindGroup; 3],
    bound: Vec<Vec<(u32, u64)>>,
}

impl ConvolutionBindings {
    /// Per dispatch (columns, rows, inverse columns), the `(binding,
    /// bytes)` of each buffer its group holds.
    pub fn bound(&self) -> &[Vec<(u32, u64)>] {
        &self.bound
    }
}

impl GpuConvolution {
    /// Builds `recipe` with `filter` (`recipe.size` bins, applied to every
    /// row's spectrum).
    pub fn new(
        ctx: &GpuContext,
        recipe: ConvolutionRecipe,
        filter: &[Complex32],
    ) -> Result<Self, GpuError> {
        if filter.len() != recipe.size {
            return Err(GpuError::Plan(format!(
                "convolution filter has {} bins, the transform {}",
                filter.len(),
                recipe.size
            )));
        }
        let step = |p: &FourStepPass, entry: &str, direction: FftDirection| {
            let packed = p.radices.iter().rev().fold(0u32, |acc, &r| (acc << 4) | r);
            let constants: Vec<(&str, f64)> = vec![
                ("N", p.len as f64),
                ("BATCH", (recipe.batch * p.per_block) as f64),
                ("SIGN", direction.sign()),
                ("WG", (p.threads_per_fft * p.ffts_per_group) as f64),
                ("THREADS", p.threads_per_fft as f64),
                ("FFTS_PER_GROUP", p.ffts_per_group as f64),
                ("SHARED_LEN", (p.len * p.ffts_per_group as usize) as f64),
                ("RADICES", packed as f64),
                ("TPB", p.per_block as f64),
                ("BLOCK", recipe.size as f64),
                ("IN_T", p.in_t as f64),
                ("IN_E", p.in_e as f64),
                ("OUT_T", p.out_t as f64),
                ("OUT_E", p.out_e as f64),
            ];
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
        Ok(GpuConvolution {
            columns: step(&recipe.columns, "fft_columns", forward)?,
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
    /// [`ConvolutionRecipe::buffer_bytes`]; `output` may be `input`, which
    /// the first dispatch is done reading before the last writes it;
    /// `spectrum` must be neither).
    pub fn bind(
        &self,
        ctx: &GpuContext,
        input: &wgpu::Buffer,
        spectrum: &wgpu::Buffer,
        output: &wgpu::Buffer,
    ) -> Result<ConvolutionBindings, GpuError> {
        let need = self.recipe.buffer_bytes();
        for (name, b) in [("input", input), ("spectrum", spectrum), ("output", output)] {
            if b.size() < need || !b.usage().contains(wgpu::BufferUsages::STORAGE) {
                return Err(GpuError::Plan(format!(
                    "convolution {name} buffer must be a STORAGE buffer of at least {need} bytes"
                )));
            }
        }
        if input == spectrum || spectrum == output {
            return Err(GpuError::Plan(
                "the convolution's spectrum buffer must differ from its input and output".into(),
            ));
        }
        let entry = |binding, resource| wgpu::BindGroupEntry { binding, resource };
        let (c, cb) = bind_group(
            ctx,
            &self.columns.pipeline,
            &[
                entry(0, whole(input, need)),
                entry(1, whole(&self.scratch, need)),
                entry(2, self.columns.twiddles.as_entire_binding()),
                entry(6, self.outer.as_entire_binding()),
            ],
        )?;
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
        Ok(ConvolutionBindings {
            groups: [c, r, i],
            bound: vec![cb, rb, ib],
        })
    }

    /// Records the convolution: the forward part (columns and fused rows)
    /// as one compute pass with `forward_ts`, the inverse columns as
    /// another with `inverse_ts`.
    pub fn record_timed(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        bindings: &ConvolutionBindings,
        forward_ts: Option<wgpu::ComputePassTimestampWrites<'_>>,
        inverse_ts: Option<wgpu::ComputePassTimestampWrites<'_>>,
    ) {
        let steps = [&self.columns, &self.rows, &self.inverse_columns];
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("range convolution"),
            timestamp_writes: forward_ts,
        });
        for (step, group) in steps[..2].iter().zip(&bindings.groups) {
            pass.set_pipeline(&step.pipeline);
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(step.workgroups[0], step.workgroups[1], 1);
        }
        drop(pass);
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("range convolution inverse"),
            timestamp_writes: inverse_ts,
        });
        pass.set_pipeline(&steps[2].pipeline);
        pass.set_bind_group(0, &bindings.groups[2], &[]);
        pass.dispatch_workgroups(steps[2].workgroups[0], steps[2].workgroups[1], 1);
    }
}
