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
use rustfft::num_complex::Complex32;
use std::f64::consts::PI;
use wgpu::util::DeviceExt;

/// Smallest supported transform length.
pub const MIN_FFT_LEN: usize = 2;
/// Largest supported transform length.
pub const MAX_FFT_LEN: usize = 65536;
/// Radices of the Stockham passes; a length with any other prime factor
/// runs as Bluestein's chirp-z through a power-of-two FFT.
pub const RADICES: [u32; 6] = [2, 3, 4, 5, 7, 8];
/// Most passes the workgroup-memory kernel runs (four bits each in a u32).
const MAX_SHARED_PASSES: usize = 8;

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
    /// One of [`RADICES`].
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
        /// Threads per transform (`>= N/16`).
        threads_per_fft: u32,
        /// Transforms per workgroup.
        ffts_per_group: u32,
        /// Workgroups in x and y.
        workgroups: [u32; 2],
        /// The passes' radices, first pass first.
        radices: Vec<u32>,
    },
    /// One dispatch per pass through global memory (ping-pong with scratch).
    Global {
        /// The passes in order.
        passes: Vec<FftPass>,
    },
    /// Four-step: a length `n1 x n2` too long for one workgroup as two
    /// workgroup-memory dispatches, `n2` transforms of `n1` down the
    /// columns (times the twiddles `w^(n2 k1)`), then `n1` transforms of `n2`
    /// along the rows, through one scratch buffer (`shaders/fft.wgsl`).
    FourStep {
        /// Column transform length.
        n1: usize,
        /// Row transform length.
        n2: usize,
        /// The column dispatch.
        columns: FourStepPass,
        /// The row dispatch.
        rows: FourStepPass,
    },
    /// Bluestein's chirp-z: premultiply and zero-pad to `len`, a forward
    /// FFT fused with the chirp filter's spectrum, an inverse FFT, and a
    /// postmultiply (`shaders/fft.wgsl`).
    Bluestein {
        /// The inner power-of-two length, `>= 2N - 1`.
        len: usize,
        /// The inner forward transform (`len` x batch).
        forward: Box<FftRecipe>,
        /// The inner inverse transform (`len` x batch).
        inverse: Box<FftRecipe>,
        /// Workgroups of the premultiply (one thread per padded value).
        pre_workgroups: [u32; 2],
        /// Workgroups of the postmultiply (one thread per output).
        post_workgroups: [u32; 2],
    },
}

/// One dispatch of a four-step transform: batched workgroup-memory
/// transforms of `len` over a strided view of the batch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FourStepPass {
    /// Transform length.
    pub len: usize,
    /// Threads per transform (`>= len/16`).
    pub threads_per_fft: u32,
    /// Transforms per workgroup.
    pub ffts_per_group: u32,
    /// Workgroups in x and y.
    pub workgroups: [u32; 2],
    /// The passes' radices, first pass first.
    pub radices: Vec<u32>,
    /// Transforms per block (one long transform of the batch).
    pub per_block: usize,
    /// Element layout in the block: transform j's element i at
    /// `j * in_t + i * in_e`, its output k at `j * out_t + k * out_e`.
    pub in_t: usize,
    /// See `in_t`.
    pub in_e: usize,
    /// See `in_t`.
    pub out_t: usize,
    /// See `in_t`.
    pub out_e: usize,
}

/// The radices packed four bits each, first pass in the lowest bits (the
/// workgroup-memory kernels' `RADICES`).
pub(crate) fn pack_radices(radices: &[u32]) -> u32 {
    radices.iter().rev().fold(0u32, |acc, &r| (acc << 4) | r)
}

/// The override constants of a workgroup-memory transform: length, batch,
/// direction, threads, transforms per group, radices.
fn shared_constants(
    len: usize,
    batch: usize,
    direction: FftDirection,
    threads_per_fft: u32,
    ffts_per_group: u32,
    radices: &[u32],
) -> Vec<(&'static str, f64)> {
    vec![
        ("N", len as f64),
        ("BATCH", batch as f64),
        ("SIGN", direction.sign()),
        ("WG", (threads_per_fft * ffts_per_group) as f64),
        ("THREADS", threads_per_fft as f64),
        ("FFTS_PER_GROUP", ffts_per_group as f64),
        ("SHARED_LEN", (len * ffts_per_group as usize) as f64),
        ("RADICES", pack_radices(radices) as f64),
    ]
}

impl FourStepPass {
    /// The override constants of this pass over `batch` blocks of `block`
    /// values (the strided kernels of `shaders/fft.wgsl`).
    pub(crate) fn constants(
        &self,
        batch: usize,
        block: usize,
        direction: FftDirection,
    ) -> Vec<(&'static str, f64)> {
        let mut c = shared_constants(
            self.len,
            batch * self.per_block,
            direction,
            self.threads_per_fft,
            self.ffts_per_group,
            &self.radices,
        );
        c.extend([
            ("TPB", self.per_block as f64),
            ("BLOCK", block as f64),
            ("IN_T", self.in_t as f64),
            ("IN_E", self.in_e as f64),
            ("OUT_T", self.out_t as f64),
            ("OUT_E", self.out_e as f64),
        ]);
        c
    }
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
    /// Workgroup size in x of the kernel (Bluestein: of the pre- and
    /// postmultiply).
    pub workgroup_size: u32,
    /// Kernel and dispatches.
    pub schedule: FftSchedule,
}

/// Workgroup size of the global passes: the floor every adapter offers.
const GLOBAL_WORKGROUP: u32 = MIN_WORKGROUP_X;
/// Values one thread of `fft_shared` holds between barriers per 16 of the
/// transform: threads per transform are `ceil(N / 16)`.
const VALUES_PER_THREAD: usize = 16;
const COMPLEX_BYTES: u64 = 8;

/// The radices of `size`'s Stockham passes, first pass first: a 2 or a 4
/// for the power of two's remainder, then 8s, then 3s, 5s and 7s; `None`
/// when `size` has a prime factor above 7 (it runs as Bluestein).
pub fn radices(size: usize) -> Option<Vec<u32>> {
    if size < 2 {
        return None;
    }
    let mut n = size;
    let twos = n.trailing_zeros() as usize;
    n >>= twos;
    let mut odd = Vec::new();
    for p in [3u32, 5, 7] {
        while n.is_multiple_of(p as usize) {
            n /= p as usize;
            odd.push(p);
        }
    }
    if n != 1 {
        return None;
    }
    let mut r = match twos % 3 {
        1 => vec![2],
        2 => vec![4],
        _ => Vec::new(),
    };
    r.extend(std::iter::repeat_n(8, twos / 3));
    r.extend(odd);
    Some(r)
}

/// The inner length Bluestein uses for `size`: the smallest power of two
/// `>= 2 size - 1`.
pub fn bluestein_len(size: usize) -> usize {
    (2 * size - 1).next_power_of_two()
}

impl FftRecipe {
    /// The fastest schedule the limits allow: all passes in workgroup
    /// memory when a transform fits, else global passes; Bluestein for
    /// lengths with a prime factor above 7.
    pub fn new(
        size: usize,
        batch: usize,
        direction: FftDirection,
        limits: &GpuLimits,
    ) -> Result<Self, GpuError> {
        check_shape(size, batch, limits, MAX_FFT_LEN)?;
        Self::plan(size, batch, direction, limits, false)
    }

    /// The global-memory schedule regardless of size (for tests and for
    /// adapters whose workgroup memory is too small); a Bluestein length
    /// gets global passes inside.
    pub fn global(
        size: usize,
        batch: usize,
        direction: FftDirection,
        limits: &GpuLimits,
    ) -> Result<Self, GpuError> {
        check_shape(size, batch, limits, MAX_FFT_LEN)?;
        Self::plan(size, batch, direction, limits, true)
    }

    fn plan(
        size: usize,
        batch: usize,
        direction: FftDirection,
        limits: &GpuLimits,
        global: bool,
    ) -> Result<Self, GpuError> {
        let Some(radices) = radices(size) else {
            return Self::bluestein(size, batch, direction, limits, global);
        };
        let shared = (!global)
            .then(|| shared_layout(size, batch, limits, radices.len()))
            .flatten();
        if let Some((threads, per_group)) = shared {
            let groups = batch.div_ceil(per_group as usize) as u64;
            return Ok(FftRecipe {
                size,
                batch,
                direction,
                workgroup_size: threads * per_group,
                schedule: FftSchedule::Shared {
                    threads_per_fft: threads,
                    ffts_per_group: per_group,
                    workgroups: split_dispatch(groups, limits)?,
                    radices,
                },
            });
        }
        if !global && let Some(four) = Self::four_step(size, batch, direction, limits)? {
            return Ok(four);
        }
        let mut passes = Vec::new();
        let mut ns = 1usize;
        for radix in radices {
            let threads = (batch * size / radix as usize) as u64;
            passes.push(FftPass {
                radix,
                ns: ns as u32,
                workgroups: split_dispatch(threads.div_ceil(GLOBAL_WORKGROUP as u64), limits)?,
            });
            ns *= radix as usize;
        }
        Ok(FftRecipe {
            size,
            batch,
            direction,
            workgroup_size: GLOBAL_WORKGROUP,
            schedule: FftSchedule::Global { passes },
        })
    }

    /// The four-step schedule with the most balanced split `n1 <= n2`
    /// whose two transforms both fit workgroup memory, if there is one.
    fn four_step(
        size: usize,
        batch: usize,
        direction: FftDirection,
        limits: &GpuLimits,
    ) -> Result<Option<Self>, GpuError> {
        let pass = |len: usize, per_block: usize, strides: [usize; 4]| {
            let radices = radices(len)?;
            let (threads, per_group) =
                shared_layout(len, batch * per_block, limits, radices.len())?;
            Some((len, threads, per_group, radices, per_block, strides))
        };
        let mut n1 = (size as f64).sqrt() as usize;
        while n1 >= 2 {
            if size.is_multiple_of(n1) {
                let n2 = size / n1;
                let columns = pass(n1, n2, [1, n2, 1, n2]);
                let rows = pass(n2, n1, [n2, 1, 1, n1]);
                if let (Some(c), Some(r)) = (columns, rows) {
                    let make = |(
                        len,
                        threads,
                        per_group,
                        radices,
                        per_block,
                        [in_t, in_e, out_t, out_e],
                    ): (
                        usize,
                        u32,
                        u32,
                        Vec<u32>,
                        usize,
                        [usize; 4],
                    )| {
                        let groups = (batch * per_block).div_ceil(per_group as usize) as u64;
                        Ok::<_, GpuError>(FourStepPass {
                            len,
                            threads_per_fft: threads,
                            ffts_per_group: per_group,
                            workgroups: split_dispatch(groups, limits)?,
                            radices,
                            per_block,
                            in_t,
                            in_e,
                            out_t,
                            out_e,
                        })
                    };
                    return Ok(Some(FftRecipe {
                        size,
                        batch,
                        direction,
                        workgroup_size: GLOBAL_WORKGROUP,
                        schedule: FftSchedule::FourStep {
                            n1,
                            n2,
                            columns: make(c)?,
                            rows: make(r)?,
                        },
                    }));
                }
            }
            n1 -= 1;
        }
        Ok(None)
    }

    fn bluestein(
        size: usize,
        batch: usize,
        direction: FftDirection,
        limits: &GpuLimits,
        global: bool,
    ) -> Result<Self, GpuError> {
        let len = bluestein_len(size);
        check_shape(len, batch, limits, 2 * MAX_FFT_LEN)?;
        let inner = |d| Self::plan(len, batch, d, limits, global).map(Box::new);
        let groups =
            |n: usize| split_dispatch((n as u64).div_ceil(GLOBAL_WORKGROUP as u64), limits);
        Ok(FftRecipe {
            size,
            batch,
            direction,
            workgroup_size: GLOBAL_WORKGROUP,
            schedule: FftSchedule::Bluestein {
                len,
                forward: inner(FftDirection::Forward)?,
                inverse: inner(FftDirection::Inverse)?,
                pre_workgroups: groups(batch * len)?,
                post_workgroups: groups(batch * size)?,
            },
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
            FftSchedule::FourStep { .. } => 2,
            FftSchedule::Bluestein {
                forward, inverse, ..
            } => 2 + forward.dispatches() + inverse.dispatches(),
        }
    }
}

/// One buffer a dispatch binds, and what the traffic model counts of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BufferUse {
    /// The binding number in the kernel's group 0.
    pub binding: u32,
    /// Bytes of the buffer range bound.
    pub bound_bytes: u64,
    /// Bytes the kernel reads (or writes) of it: the whole binding, except
    /// where a kernel touches only part of it (documented at the kernel).
    pub bytes: u64,
    /// True for a buffer the kernel writes (then `bytes` are written).
    pub write: bool,
}

impl BufferUse {
    /// A binding of `bytes` the kernel reads whole.
    pub fn read_only(binding: u32, bytes: u64) -> Self {
        BufferUse {
            binding,
            bound_bytes: bytes,
            bytes,
            write: false,
        }
    }
    /// A binding of `bytes` the kernel writes whole.
    pub fn written(binding: u32, bytes: u64) -> Self {
        BufferUse {
            write: true,
            ..Self::read_only(binding, bytes)
        }
    }
    /// Bound `bound` bytes of which the kernel touches `bytes`.
    pub fn part(self, bytes: u64) -> Self {
        BufferUse { bytes, ..self }
    }
}

/// One dispatch's buffers (plain data, from the recipe).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DispatchTraffic {
    /// The kernel (WGSL entry point).
    pub kernel: &'static str,
    /// Its bindings, by binding number.
    pub buffers: Vec<BufferUse>,
}

impl DispatchTraffic {
    /// Bytes the traffic model says the dispatch reads.
    pub fn bytes_read(&self) -> u64 {
        self.buffers
            .iter()
            .filter(|b| !b.write)
            .map(|b| b.bytes)
            .sum()
    }
    /// Bytes the traffic model says the dispatch writes.
    pub fn bytes_written(&self) -> u64 {
        self.buffers
            .iter()
            .filter(|b| b.write)
            .map(|b| b.bytes)
            .sum()
    }
}

impl FftRecipe {
    /// What each dispatch binds and moves, in recording order: the model
    /// behind `bytes_moved_per_cpi` (each kernel reads each input it binds
    /// once and writes each output once; lookup tables and uniforms count
    /// their size). Bluestein's postmultiply binds the padded rows whole
    /// but reads only the first N of each. `filtered`: built with
    /// [`GpuFftPlan::from_recipe_filtered`].
    pub fn traffic(&self, filtered: bool) -> Vec<DispatchTraffic> {
        let data = self.buffer_bytes();
        let table = self.size as u64 * COMPLEX_BYTES;
        match &self.schedule {
            FftSchedule::Shared { .. } => {
                let mut buffers = vec![
                    BufferUse::read_only(0, data),
                    BufferUse::written(1, data),
                    BufferUse::read_only(2, table),
                ];
                if filtered {
                    buffers.push(BufferUse::read_only(4, table));
                }
                let kernel = if filtered {
                    "fft_shared_filtered"
                } else {
                    "fft_shared"
                };
                vec![DispatchTraffic { kernel, buffers }]
            }
            FftSchedule::Global { passes } => passes
                .iter()
                .enumerate()
                .map(|(i, _)| {
                    let last = filtered && i == passes.len() - 1;
                    let mut buffers = vec![
                        BufferUse::read_only(0, data),
                        BufferUse::written(1, data),
                        BufferUse::read_only(2, table),
                        BufferUse::read_only(3, std::mem::size_of::<FftPassParams>() as u64),
                    ];
                    if last {
                        buffers.push(BufferUse::read_only(4, table));
                    }
                    DispatchTraffic {
                        kernel: if last {
                            "fft_global_filtered"
                        } else {
                            "fft_global"
                        },
                        buffers,
                    }
                })
                .collect(),
            FftSchedule::FourStep { n1, n2, .. } => {
                let mut rows = vec![
                    BufferUse::read_only(0, data),
                    BufferUse::written(1, data),
                    BufferUse::read_only(2, *n2 as u64 * COMPLEX_BYTES),
                ];
                if filtered {
                    rows.push(BufferUse::read_only(4, table));
                }
                vec![
                    DispatchTraffic {
                        kernel: "fft_columns",
                        buffers: vec![
                            BufferUse::read_only(0, data),
                            BufferUse::written(1, data),
                            BufferUse::read_only(2, *n1 as u64 * COMPLEX_BYTES),
                            BufferUse::read_only(6, table),
                        ],
                    },
                    DispatchTraffic {
                        kernel: if filtered {
                            "fft_rows_filtered"
                        } else {
                            "fft_rows"
                        },
                        buffers: rows,
                    },
                ]
            }
            FftSchedule::Bluestein {
                len,
                forward,
                inverse,
                ..
            } => {
                let inner = (*len * self.batch) as u64 * COMPLEX_BYTES;
                let mut out = vec![DispatchTraffic {
                    kernel: "bluestein_pre",
                    buffers: vec![
                        BufferUse::read_only(0, data),
                        BufferUse::written(1, inner),
                        BufferUse::read_only(5, table),
                    ],
                }];
                out.extend(forward.traffic(true));
                out.extend(inverse.traffic(false));
                let mut post = vec![
                    BufferUse::read_only(0, inner).part(data),
                    BufferUse::written(1, data),
                    BufferUse::read_only(5, table),
                ];
                if filtered {
                    post.push(BufferUse::read_only(4, table));
                }
                out.push(DispatchTraffic {
                    kernel: if filtered {
                        "bluestein_post_filtered"
                    } else {
                        "bluestein_post"
                    },
                    buffers: post,
                });
                out
            }
        }
    }
}

impl FftRecipe {
    /// [`FftRecipe::traffic`] of a plan built with
    /// [`GpuFftPlan::from_recipe_power`]: one workgroup-memory dispatch
    /// reading the batch and the twiddles, writing 4 bytes a value.
    pub fn traffic_power(&self) -> Vec<DispatchTraffic> {
        vec![DispatchTraffic {
            kernel: "fft_shared_power",
            buffers: vec![
                BufferUse::read_only(0, self.buffer_bytes()),
                BufferUse::read_only(2, self.size as u64 * COMPLEX_BYTES),
                BufferUse::written(10, self.buffer_bytes() / 2),
            ],
        }]
    }
}

fn check_shape(
    size: usize,
    batch: usize,
    limits: &GpuLimits,
    max_len: usize,
) -> Result<(), GpuError> {
    if !(MIN_FFT_LEN..=max_len).contains(&size) {
        return Err(GpuError::Plan(format!(
            "FFT length {size} is outside {MIN_FFT_LEN}..={max_len}"
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
/// `None` when one transform does not fit the workgroup limits (or has
/// more passes than the kernel's packed list holds).
fn shared_layout(
    size: usize,
    batch: usize,
    limits: &GpuLimits,
    passes: usize,
) -> Option<(u32, u32)> {
    let threads = size.div_ceil(VALUES_PER_THREAD).max(1);
    let max_x = limits.max_workgroup_x() as usize;
    let storage = limits.max_compute_workgroup_storage_size as usize;
    if threads > max_x || size * COMPLEX_BYTES as usize > storage || passes > MAX_SHARED_PASSES {
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

/// Bluestein's chirp `c[n] = exp(sign * pi i n^2 / N)`, n < N, in f64 with
/// `n^2` reduced modulo `2N` exactly first (so large n lose nothing).
pub fn bluestein_chirp(
    size: usize,
    direction: FftDirection,
) -> Vec<rustfft::num_complex::Complex64> {
    let two_n = 2 * size as u64;
    (0..size as u64)
        .map(|n| {
            let k = (n * n) % two_n;
            let phase = direction.sign() * PI * k as f64 / size as f64;
            rustfft::num_complex::Complex64::from_polar(1.0, phase)
        })
        .collect()
}

/// Bluestein's filter: `FFT_len(b) / len` with `b[m] = conj(c[|m|])` for
/// `|m| < N` (negative m wrapped to `len - |m|`), computed in f64.
pub fn bluestein_filter(size: usize, direction: FftDirection) -> Vec<Complex32> {
    use rustfft::num_complex::Complex64;
    let len = bluestein_len(size);
    let chirp = bluestein_chirp(size, direction);
    let mut b = vec![Complex64::new(0.0, 0.0); len];
    b[0] = chirp[0].conj();
    for m in 1..size {
        b[m] = chirp[m].conj();
        b[len - m] = chirp[m].conj();
    }
    rustfft::FftPlanner::<f64>::new()
        .plan_fft_forward(len)
        .process(&mut b);
    b.iter()
        .map(|z| {
            let z = z / len as f64;
            Complex32::new(z.re as f32, z.im as f32)
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
    kind: PlanKind,
}

#[derive(Debug)]
enum PlanKind {
    Stockham(Stockham),
    Bluestein(Box<Bluestein>),
}

/// The Shared or Global schedule's GPU objects.
#[derive(Debug)]
struct Stockham {
    /// One pipeline per dispatch (passes of equal radix share one).
    pipelines: Vec<wgpu::ComputePipeline>,
    workgroups: Vec<[u32; 2]>,
    /// Per dispatch, its twiddle table (`w_len^k` of its transform length).
    twiddles: Vec<wgpu::Buffer>,
    /// Four-step: the column pass's `w_N^m` table.
    outer_twiddles: Option<wgpu::Buffer>,
    /// Global schedule: one uniform per pass.
    pass_params: Vec<wgpu::Buffer>,
    /// Global schedule with two or more passes: the ping-pong buffer.
    scratch: Option<wgpu::Buffer>,
    /// Per-bin factor the last dispatch multiplies its output by (one
    /// transform's worth, shared by the batch), when the plan has one.
    filter: Option<wgpu::Buffer>,
    bytes: u64,
    /// The output is the shifted power (f32), bound at binding 10.
    power: bool,
}

/// The Bluestein schedule's GPU objects.
#[derive(Debug)]
struct Bluestein {
    pre: wgpu::ComputePipeline,
    post: wgpu::ComputePipeline,
    pre_workgroups: [u32; 2],
    post_workgroups: [u32; 2],
    chirp: wgpu::Buffer,
    /// The caller's per-bin factor on the output, if any.
    filter: Option<wgpu::Buffer>,
    /// Inner forward FFT fused with Bluestein's filter.
    forward: Stockham,
    inverse: Stockham,
    /// The padded, premultiplied batch (and the inverse FFT's output).
    padded: wgpu::Buffer,
    /// The forward FFT's output.
    spectrum: wgpu::Buffer,
}

/// Bind groups of one plan for one input/output buffer pair.
#[derive(Debug)]
pub struct FftBindings {
    groups: Vec<wgpu::BindGroup>,
    bound: Vec<Vec<(u32, u64)>>,
}

impl FftBindings {
    /// Per dispatch, the `(binding, bytes)` of every buffer range its bind
    /// group holds, read from the entries the group was made of (for
    /// checking [`FftRecipe::traffic`] against what the kernels get).
    pub fn bound(&self) -> &[Vec<(u32, u64)>] {
        &self.bound
    }
}

/// The `(binding, bytes)` of each buffer entry.
pub(crate) fn bound_sizes(entries: &[wgpu::BindGroupEntry<'_>]) -> Vec<(u32, u64)> {
    let mut v: Vec<(u32, u64)> = entries
        .iter()
        .filter_map(|e| match &e.resource {
            wgpu::BindingResource::Buffer(b) => Some((
                e.binding,
                b.size.map_or(b.buffer.size() - b.offset, |s| s.get()),
            )),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

pub(crate) fn whole(b: &wgpu::Buffer, bytes: u64) -> wgpu::BindingResource<'_> {
    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer: b,
        offset: 0,
        size: wgpu::BufferSize::new(bytes),
    })
}

impl Stockham {
    fn build(
        ctx: &GpuContext,
        recipe: &FftRecipe,
        filter: Option<&[Complex32]>,
    ) -> Result<Self, GpuError> {
        let filtered = filter.is_some();
        let n = recipe.size as f64;
        let constants: Vec<(&str, f64)> = vec![
            ("N", n),
            ("BATCH", recipe.batch as f64),
            ("SIGN", recipe.direction.sign()),
            ("WG", recipe.workgroup_size as f64),
        ];
        let make = |entry: &str, constants: &[(&str, f64)]| {
            ctx.compute_pipeline("fft.wgsl", entry, constants)
        };
        let (pipelines, workgroups, pass_params, scratch) = match &recipe.schedule {
            FftSchedule::Shared {
                threads_per_fft,
                ffts_per_group,
                workgroups,
                radices,
            } => {
                let constants = shared_constants(
                    recipe.size,
                    recipe.batch,
                    recipe.direction,
                    *threads_per_fft,
                    *ffts_per_group,
                    radices,
                );
                let entry = if filtered {
                    "fft_shared_filtered"
                } else {
                    "fft_shared"
                };
                (
                    vec![make(entry, &constants)?],
                    vec![*workgroups],
                    Vec::new(),
                    None,
                )
            }
            FftSchedule::FourStep { columns, rows, .. } => {
                let strided = |p: &FourStepPass, entry: &str| {
                    make(
                        entry,
                        &p.constants(recipe.batch, recipe.size, recipe.direction),
                    )
                };
                let rows_entry = if filtered {
                    "fft_rows_filtered"
                } else {
                    "fft_rows"
                };
                let scratch = ctx.checked("FFT scratch buffer", || {
                    ctx.device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some("fft four-step scratch"),
                        size: recipe.buffer_bytes(),
                        usage: wgpu::BufferUsages::STORAGE,
                        mapped_at_creation: false,
                    })
                })?;
                (
                    vec![strided(columns, "fft_columns")?, strided(rows, rows_entry)?],
                    vec![columns.workgroups, rows.workgroups],
                    Vec::new(),
                    Some(scratch),
                )
            }
            FftSchedule::Global { passes } => {
                // One pipeline per (radix, filtered) used; the filtered
                // kernel on the last pass only.
                let mut made: Vec<((u32, bool), wgpu::ComputePipeline)> = Vec::new();
                let mut pipelines = Vec::with_capacity(passes.len());
                for (i, p) in passes.iter().enumerate() {
                    let key = (p.radix, filtered && i == passes.len() - 1);
                    let pipeline = match made.iter().find(|(k, _)| *k == key) {
                        Some((_, pl)) => pl.clone(),
                        None => {
                            let mut c = constants.clone();
                            c.push(("RADIX", p.radix as f64));
                            let entry = if key.1 {
                                "fft_global_filtered"
                            } else {
                                "fft_global"
                            };
                            let pl = make(entry, &c)?;
                            made.push((key, pl.clone()));
                            pl
                        }
                    };
                    pipelines.push(pipeline);
                }
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
                (
                    pipelines,
                    passes.iter().map(|p| p.workgroups).collect(),
                    params,
                    scratch,
                )
            }
            FftSchedule::Bluestein { .. } => {
                return Err(GpuError::Plan(
                    "a Bluestein recipe has no Stockham passes of its own".into(),
                ));
            }
        };
        let table =
            |len: usize| storage_init(ctx, "fft twiddles", &twiddles(len, recipe.direction));
        let (twiddles, outer_twiddles) = match &recipe.schedule {
            FftSchedule::FourStep { n1, n2, .. } => {
                (vec![table(*n1), table(*n2)], Some(table(recipe.size)))
            }
            _ => {
                let t = table(recipe.size);
                (vec![t; pipelines.len()], None)
            }
        };
        let filter = filter.map(|f| storage_init(ctx, "fft filter", f));
        Ok(Stockham {
            pipelines,
            workgroups,
            twiddles,
            outer_twiddles,
            pass_params,
            scratch,
            filter,
            bytes: recipe.buffer_bytes(),
            power: false,
        })
    }

    fn bind(
        &self,
        ctx: &GpuContext,
        input: &wgpu::Buffer,
        output: &wgpu::Buffer,
        groups: &mut Vec<(wgpu::BindGroup, Vec<(u32, u64)>)>,
    ) -> Result<(), GpuError> {
        let need = self.bytes;
        // Pass p writes `output` when an even number of passes follow it,
        // so the last pass always lands in `output`.
        let count = self.pipelines.len();
        let dst_of = |p: usize| -> &wgpu::Buffer {
            if (count - 1 - p).is_multiple_of(2) {
                output
            } else {
                self.scratch.as_ref().expect("scratch exists for 2+ passes")
            }
        };
        for p in 0..count {
            let src = if p == 0 { input } else { dst_of(p - 1) };
            let (out_binding, out_bytes) = if self.power {
                (10, need / 2)
            } else {
                (1, need)
            };
            let mut entries = vec![
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: whole(src, need),
                },
                wgpu::BindGroupEntry {
                    binding: out_binding,
                    resource: whole(dst_of(p), out_bytes),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: self.twiddles[p].as_entire_binding(),
                },
            ];
            if let (Some(outer), 0) = (&self.outer_twiddles, p) {
                entries.push(wgpu::BindGroupEntry {
                    binding: 6,
                    resource: outer.as_entire_binding(),
                });
            }
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
            groups.push(bind_group(ctx, &self.pipelines[p], &entries)?);
        }
        Ok(())
    }

    fn dispatches<'a>(&'a self, out: &mut Vec<(&'a wgpu::ComputePipeline, [u32; 2])>) {
        out.extend(self.pipelines.iter().zip(self.workgroups.iter().copied()));
    }
}

pub(crate) fn storage_init(ctx: &GpuContext, label: &str, data: &[Complex32]) -> wgpu::Buffer {
    ctx.device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(data),
            usage: wgpu::BufferUsages::STORAGE,
        })
}

pub(crate) fn bind_group(
    ctx: &GpuContext,
    pipeline: &wgpu::ComputePipeline,
    entries: &[wgpu::BindGroupEntry<'_>],
) -> Result<(wgpu::BindGroup, Vec<(u32, u64)>), GpuError> {
    let group = ctx.checked("FFT bind group", || {
        ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("fft"),
            layout: &pipeline.get_bind_group_layout(0),
            entries,
        })
    })?;
    Ok((group, bound_sizes(entries)))
}

impl Bluestein {
    fn build(
        ctx: &GpuContext,
        recipe: &FftRecipe,
        filter: Option<&[Complex32]>,
    ) -> Result<Self, GpuError> {
        let FftSchedule::Bluestein {
            len,
            forward,
            inverse,
            pre_workgroups,
            post_workgroups,
        } = &recipe.schedule
        else {
            return Err(GpuError::Plan("not a Bluestein recipe".into()));
        };
        let constants: Vec<(&str, f64)> = vec![
            ("N", recipe.size as f64),
            ("BATCH", recipe.batch as f64),
            ("SIGN", recipe.direction.sign()),
            ("WG", recipe.workgroup_size as f64),
            ("M_LEN", *len as f64),
        ];
        let make = |entry: &str| ctx.compute_pipeline("fft.wgsl", entry, &constants);
        let post = if filter.is_some() {
            make("bluestein_post_filtered")?
        } else {
            make("bluestein_post")?
        };
        let chirp: Vec<Complex32> = bluestein_chirp(recipe.size, recipe.direction)
            .iter()
            .map(|z| Complex32::new(z.re as f32, z.im as f32))
            .collect();
        let spectrum_filter = bluestein_filter(recipe.size, recipe.direction);
        let inner_bytes = (*len * recipe.batch) as u64 * COMPLEX_BYTES;
        let scratch = |label| {
            ctx.checked("FFT Bluestein buffer", || {
                ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size: inner_bytes,
                    usage: wgpu::BufferUsages::STORAGE,
                    mapped_at_creation: false,
                })
            })
        };
        Ok(Bluestein {
            pre: make("bluestein_pre")?,
            post,
            pre_workgroups: *pre_workgroups,
            post_workgroups: *post_workgroups,
            chirp: storage_init(ctx, "fft chirp", &chirp),
            filter: filter.map(|f| storage_init(ctx, "fft filter", f)),
            forward: Stockham::build(ctx, forward, Some(&spectrum_filter))?,
            inverse: Stockham::build(ctx, inverse, None)?,
            padded: scratch("fft bluestein padded")?,
            spectrum: scratch("fft bluestein spectrum")?,
        })
    }

    fn bind(
        &self,
        ctx: &GpuContext,
        input: &wgpu::Buffer,
        output: &wgpu::Buffer,
        outer_bytes: u64,
        groups: &mut Vec<(wgpu::BindGroup, Vec<(u32, u64)>)>,
    ) -> Result<(), GpuError> {
        let inner = self.padded.size();
        groups.push(bind_group(
            ctx,
            &self.pre,
            &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: whole(input, outer_bytes),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: whole(&self.padded, inner),
                },
                wgpu::BindGroupEntry {
                    binding: 5,
                    resource: self.chirp.as_entire_binding(),
                },
            ],
        )?);
        self.forward
            .bind(ctx, &self.padded, &self.spectrum, groups)?;
        self.inverse
            .bind(ctx, &self.spectrum, &self.padded, groups)?;
        let mut post = vec![
            wgpu::BindGroupEntry {
                binding: 0,
                resource: whole(&self.padded, inner),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: whole(output, outer_bytes),
            },
            wgpu::BindGroupEntry {
                binding: 5,
                resource: self.chirp.as_entire_binding(),
            },
        ];
        if let Some(filter) = &self.filter {
            post.push(wgpu::BindGroupEntry {
                binding: 4,
                resource: filter.as_entire_binding(),
            });
        }
        groups.push(bind_group(ctx, &self.post, &post)?);
        Ok(())
    }

    fn dispatches<'a>(&'a self, out: &mut Vec<(&'a wgpu::ComputePipeline, [u32; 2])>) {
        out.push((&self.pre, self.pre_workgroups));
        self.forward.dispatches(out);
        self.inverse.dispatches(out);
        out.push((&self.post, self.post_workgroups));
    }
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

    /// Builds a workgroup-memory `recipe` whose output is the FFT-shifted
    /// power `|X[k]|^2` (f32, zero frequency at N/2) instead of the
    /// spectrum: the chain's Doppler FFT with its power stage fused in.
    /// Its output buffer holds 4 bytes a value.
    pub fn from_recipe_power(ctx: &GpuContext, recipe: FftRecipe) -> Result<Self, GpuError> {
        let FftSchedule::Shared {
            threads_per_fft,
            ffts_per_group,
            workgroups,
            radices,
        } = &recipe.schedule
        else {
            return Err(GpuError::Plan(
                "the power output needs a workgroup-memory FFT".into(),
            ));
        };
        let constants = shared_constants(
            recipe.size,
            recipe.batch,
            recipe.direction,
            *threads_per_fft,
            *ffts_per_group,
            radices,
        );
        let stockham = Stockham {
            pipelines: vec![ctx.compute_pipeline("fft.wgsl", "fft_shared_power", &constants)?],
            workgroups: vec![*workgroups],
            twiddles: vec![storage_init(
                ctx,
                "fft twiddles",
                &twiddles(recipe.size, recipe.direction),
            )],
            outer_twiddles: None,
            pass_params: Vec::new(),
            scratch: None,
            filter: None,
            bytes: recipe.buffer_bytes(),
            power: true,
        };
        Ok(GpuFftPlan {
            recipe,
            kind: PlanKind::Stockham(stockham),
        })
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
        let kind = match recipe.schedule {
            FftSchedule::Bluestein { .. } => {
                PlanKind::Bluestein(Box::new(Bluestein::build(ctx, &recipe, filter)?))
            }
            _ => PlanKind::Stockham(Stockham::build(ctx, &recipe, filter)?),
        };
        Ok(GpuFftPlan { recipe, kind })
    }

    /// The recipe this plan runs.
    pub fn recipe(&self) -> &FftRecipe {
        &self.recipe
    }

    /// True when built with a per-bin output filter.
    pub fn filtered(&self) -> bool {
        match &self.kind {
            PlanKind::Stockham(s) => s.filter.is_some(),
            PlanKind::Bluestein(b) => b.filter.is_some(),
        }
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
        let out_need = match &self.kind {
            PlanKind::Stockham(s) if s.power => need / 2,
            _ => need,
        };
        for (name, b, need) in [("input", input, need), ("output", output, out_need)] {
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
        let mut groups = Vec::with_capacity(self.recipe.dispatches());
        match &self.kind {
            PlanKind::Stockham(s) => s.bind(ctx, input, output, &mut groups)?,
            PlanKind::Bluestein(b) => b.bind(ctx, input, output, need, &mut groups)?,
        }
        let (groups, bound) = groups.into_iter().unzip();
        Ok(FftBindings { groups, bound })
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
        let mut dispatches = Vec::with_capacity(self.recipe.dispatches());
        match &self.kind {
            PlanKind::Stockham(s) => s.dispatches(&mut dispatches),
            PlanKind::Bluestein(b) => b.dispatches(&mut dispatches),
        }
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("fft"),
            timestamp_writes: timestamps,
        });
        for ((pipeline, [x, y]), group) in dispatches.into_iter().zip(&bindings.groups) {
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
                ..
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
        // Beyond one workgroup: four-step, the most balanced split.
        let r = FftRecipe::new(8192, 4, FftDirection::Forward, &l).unwrap();
        let FftSchedule::FourStep {
            n1,
            n2,
            columns,
            rows,
        } = &r.schedule
        else {
            panic!("8192 should be four-step: {:?}", r.schedule);
        };
        assert_eq!((*n1, *n2), (64, 128));
        assert_eq!((columns.len, columns.per_block), (64, 128));
        assert_eq!((rows.len, rows.per_block), (128, 64));
        // Columns: n = n2 + 128 n1 in, k1 at the same place out; rows: the
        // row k1 in, k2 at k1 + 64 k2 out (natural order).
        assert_eq!(
            [columns.in_t, columns.in_e, columns.out_t, columns.out_e],
            [1, 128, 1, 128]
        );
        assert_eq!(
            [rows.in_t, rows.in_e, rows.out_t, rows.out_e],
            [128, 1, 1, 64]
        );
        assert_eq!(r.dispatches(), 2);
        // No split fits a workgroup of 4 values: global passes.
        let mut tiny = l;
        tiny.max_compute_workgroup_storage_size = 32;
        let r = FftRecipe::new(8192, 4, FftDirection::Forward, &tiny).unwrap();
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
        for n in 2..=4096usize {
            let r = FftRecipe::global(n, 3, FftDirection::Forward, &l).unwrap();
            let FftSchedule::Global { passes } = &r.schedule else {
                assert!(radices(n).is_none(), "{n}");
                continue;
            };
            let mut ns = 1;
            for p in passes {
                assert_eq!(p.ns, ns);
                assert!(RADICES.contains(&p.radix), "{n}: radix {}", p.radix);
                ns *= p.radix;
            }
            assert_eq!(ns as usize, n);
        }
    }

    #[test]
    fn radices_factor_the_length_or_send_it_to_bluestein() {
        assert_eq!(radices(48), Some(vec![2, 8, 3]));
        assert_eq!(radices(96), Some(vec![4, 8, 3]));
        assert_eq!(radices(100), Some(vec![4, 5, 5]));
        assert_eq!(radices(128), Some(vec![2, 8, 8]));
        assert_eq!(radices(8192), Some(vec![2, 8, 8, 8, 8]));
        assert_eq!(radices(7 * 9), Some(vec![3, 3, 7]));
        for n in [11, 127, 2 * 13, 1021] {
            assert_eq!(radices(n), None, "{n}");
        }
        // Every length the shared kernel takes fits its packed list.
        for n in 2..=8192usize {
            if let Some(r) = radices(n) {
                assert_eq!(r.iter().product::<u32>() as usize, n);
                assert!(r.len() <= MAX_SHARED_PASSES || n > 4096, "{n}: {r:?}");
            }
        }
    }

    #[test]
    fn bluestein_pads_to_a_power_of_two_of_at_least_2n_minus_1() {
        let l = lavapipe_like();
        for (n, len) in [(127, 256), (11, 32), (1021, 2048), (65521, 131072)] {
            assert_eq!(bluestein_len(n), len);
            let r = FftRecipe::new(n, 4, FftDirection::Inverse, &l).unwrap();
            let FftSchedule::Bluestein {
                len: got,
                forward,
                inverse,
                ..
            } = &r.schedule
            else {
                panic!("{n} should be Bluestein");
            };
            assert_eq!(*got, len);
            assert_eq!((forward.size, inverse.size), (len, len));
            assert_eq!(forward.direction, FftDirection::Forward);
            assert_eq!(inverse.direction, FftDirection::Inverse);
            assert_eq!(
                r.dispatches(),
                2 + forward.dispatches() + inverse.dispatches()
            );
        }
    }

    #[test]
    fn bluestein_filter_is_the_chirp_spectrum() {
        // Direct DFT of b, in f64, against the FFT the filter comes from.
        let n = 5;
        let f = bluestein_filter(n, FftDirection::Forward);
        let c = bluestein_chirp(n, FftDirection::Forward);
        let len = bluestein_len(n);
        for (k, fk) in f.iter().enumerate() {
            let mut acc = rustfft::num_complex::Complex64::new(0.0, 0.0);
            for m in 0..len {
                let b = if m < n {
                    c[m].conj()
                } else if len - m < n {
                    c[len - m].conj()
                } else {
                    continue;
                };
                let ph = -2.0 * PI * (k * m) as f64 / len as f64;
                acc += b * rustfft::num_complex::Complex64::from_polar(1.0, ph);
            }
            let want = acc / len as f64;
            assert!((fk.re as f64 - want.re).abs() < 1e-7, "{k}");
            assert!((fk.im as f64 - want.im).abs() < 1e-7, "{k}");
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
        for (n, b) in [(0, 1), (1, 1), (65537, 1), (131072, 1), (1024, 0)] {
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
