//! The GPU detection chain: every stage of the CPU chain as a compute
//! shader, recorded into one command buffer per CPI.
//!
//! convert (`convert.wgsl`) -> range FFT x conj(replica spectrum) / M
//! (`fft.wgsl`, product fused into the last pass) -> range IFFT -> corner
//! turn with the Doppler window (`doppler.wgsl`) -> Doppler FFT -> FFT shift
//! and power (`power.wgsl`) -> CFAR and compaction (`cfar.wgsl`). Only the
//! bounded detection list comes back. Where they fit, the first three run as
//! one fused range convolution (`convolution.rs`: one register-held dispatch,
//! or a four-step one in three) and the Doppler FFT stores the power itself.
//!
//! [`ChainRecipe`] is the plain-data plan (sizes, dispatches, bytes per
//! stage), checked against the adapter's limits without a GPU; [`GpuChain`]
//! builds it once: pipelines, bind groups and device buffers are never made
//! again. CPIs stream through a ring of [`GpuChainOptions::slots`] slots,
//! each an upload buffer (mapped for writing) and a readback buffer (mapped
//! for reading): while the device computes CPI k, the host fills the next
//! free slot with CPI k+1 and reads CPI k-1's detections. A full ring makes
//! [`GpuChain::submit`]'s caller collect first (back-pressure). wgpu has one
//! queue, so transfers and kernels overlap the host's work, not each other.
//!
//! A CPI holding raw ci16 counts ([`Cpi::ci16`]: ci16 recordings, live VRT)
//! goes up as ci16, 4 bytes a sample; any other as cf32, 8 bytes
//! ([`GpuChain::uploads`] counts both). A slot keeps its CPI (the host copy)
//! until its results are back, so a device fault loses nothing:
//! [`GpuFault::in_flight`] hands the CPIs back.

use super::context::{GpuContext, GpuError, GpuLimits, MIN_WORKGROUP_X};
use super::convolution::{
    ChainBuffers, ColumnsInput, ConvolutionBindings, ConvolutionRecipe, GpuConvolution,
};
use super::fft::{
    BufferUse, DispatchTraffic, FftBindings, FftDirection, FftRecipe, FftSchedule, GpuFftPlan,
    split_dispatch,
};
use super::layout::{
    ChainParams, DETECTION_RECORDS_OFFSET, DetectionListHeader, DetectionRecord, cfar_kind_code,
};
use super::shaders;
use crate::cpi::Cpi;
use crate::process::{
    Backend, ChainPlan, CpiDetections, Detection, ProcessError, RangeDopplerMap, UploadStats,
};
use rustfft::FftPlanner;
use rustfft::num_complex::Complex32;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;
use wgpu::util::DeviceExt;

/// Longest a CPI may take on the device before the chain calls it a fault.
const DEVICE_TIMEOUT: Duration = Duration::from_secs(60);
const COMPLEX_BYTES: u64 = 8;

/// The stages that get a timestamp pair, in order.
pub const STAGES: [&str; 7] = [
    "convert",
    "range_fft_filter",
    "range_ifft",
    "corner_turn",
    "doppler_fft",
    "power",
    "cfar",
];

/// How the samples of one CPI are uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SampleUpload {
    /// Interleaved f32 pairs (8 bytes a sample).
    Cf32,
    /// Interleaved i16 pairs (4 bytes a sample), converted on the device.
    Ci16,
}

/// Choices that are not in the [`ChainPlan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuChainOptions {
    /// Ring slots (CPIs in flight), 1 ..= 3; default 3 (upload, compute and
    /// readback each have one).
    pub slots: usize,
    /// Records the device detection list holds; `None`: the cells tested
    /// / 64, at least 1024 (a crossing in 64 cells is far above any sane
    /// Pfa plus targets; more is counted and the CPI is redone on the CPU).
    pub detection_capacity: Option<usize>,
    /// Record per-stage kernel timestamps (only where the adapter has
    /// `TIMESTAMP_QUERY`; see [`GpuChain::stage_times_ns`]).
    pub timestamps: bool,
    /// Run the range convolution with its values in registers (one
    /// dispatch) where it fits the adapter; default true. False keeps the
    /// four-step schedule where that fits (tests, and comparing the two on
    /// a device).
    pub register_convolution: bool,
    /// With the register convolution: store its output already corner
    /// turned with the Doppler window, so no corner-turn dispatch runs
    /// (scattered stores; default false until a device shows they pay).
    pub turned_store: bool,
}

impl Default for GpuChainOptions {
    fn default() -> Self {
        GpuChainOptions {
            slots: 3,
            detection_capacity: None,
            timestamps: false,
            register_convolution: true,
            turned_store: false,
        }
    }
}

/// One stage's dispatches and traffic (cf32 upload), from
/// [`ChainRecipe::traffic`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StageRecipe {
    /// Stage name (one of [`STAGES`]).
    pub stage: &'static str,
    /// Dispatches the stage records per CPI.
    pub dispatches: usize,
    /// Bytes its kernels read per CPI (the traffic model of
    /// [`ChainRecipe::traffic`]).
    pub bytes_read: u64,
    /// Bytes its kernels write per CPI.
    pub bytes_written: u64,
}

impl StageRecipe {
    /// Bytes read and written: the numerator of the stage's GB/s.
    pub fn bytes(&self) -> u64 {
        self.bytes_read + self.bytes_written
    }
}

/// One stage's dispatches, buffer by buffer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StageTraffic {
    /// Stage name (one of [`STAGES`]).
    pub stage: &'static str,
    /// Its dispatches in recording order.
    pub dispatches: Vec<DispatchTraffic>,
}

impl StageTraffic {
    /// Bytes the stage's kernels read.
    pub fn bytes_read(&self) -> u64 {
        self.dispatches.iter().map(|d| d.bytes_read()).sum()
    }
    /// Bytes the stage's kernels write.
    pub fn bytes_written(&self) -> u64 {
        self.dispatches.iter().map(|d| d.bytes_written()).sum()
    }
}

/// The chain's plan on the GPU: plain data, testable without a device.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChainRecipe {
    /// P.
    pub pulses: usize,
    /// N.
    pub samples: usize,
    /// M.
    pub fft_len: usize,
    /// Range FFT (forward, filtered): `M` x `P`.
    pub range_forward: FftRecipe,
    /// Range IFFT: `M` x `P`.
    pub range_inverse: FftRecipe,
    /// The fused convolution that runs instead of `range_forward` and
    /// `range_inverse` where one fits: the register schedule (one dispatch,
    /// the row read once and written once) or the four-step one (three
    /// dispatches); the filtered spectrum never goes to memory.
    pub range_convolution: Option<ConvolutionRecipe>,
    /// The Doppler FFT fits one workgroup: it stores the shifted power
    /// itself (`fft_shared_power`) and the power stage has no dispatch.
    pub doppler_power_fused: bool,
    /// Doppler FFT: `P` x `N`.
    pub doppler: FftRecipe,
    /// Detection list capacity, records.
    pub capacity: usize,
    /// Workgroups of the convert kernel (one thread per padded sample).
    pub convert_groups: [u32; 2],
    /// Workgroups of the corner turn (16 x 16 tiles: range, pulses).
    pub turn_groups: [u32; 2],
    /// Workgroups of the power kernel (one thread per map cell).
    pub power_groups: [u32; 2],
    /// Workgroups of the CFAR kernel (one thread per tested cell).
    pub cfar_groups: [u32; 2],
    /// Stage traffic, in [`STAGES`] order.
    pub stages: Vec<StageRecipe>,
}

fn plan_error(m: String) -> GpuError {
    GpuError::Plan(m)
}

impl ChainRecipe {
    /// Sizes the chain for `plan` on an adapter with `limits`; every way the
    /// CPI can fail to fit is an error naming the limit.
    pub fn new(
        plan: &ChainPlan,
        options: &GpuChainOptions,
        limits: &GpuLimits,
    ) -> Result<Self, GpuError> {
        let (p, n, m) = (plan.pulses, plan.samples, plan.fft_len);
        // Any P: mixed radices, or Bluestein for other prime factors (fft.rs).
        if p < 2 {
            return Err(plan_error(format!(
                "the GPU Doppler FFT needs at least 2 pulses per CPI, this radar has {p} \
                 (use --backend cpu)"
            )));
        }
        if !(1..=3).contains(&options.slots) {
            return Err(plan_error(format!(
                "{} ring slots: 1 to 3 are supported",
                options.slots
            )));
        }
        let range_forward = FftRecipe::new(m, p, FftDirection::Forward, limits)?;
        let range_inverse = FftRecipe::new(m, p, FftDirection::Inverse, limits)?;
        let range_convolution = if options.register_convolution {
            ConvolutionRecipe::new(m, p, limits)?.map(|c| {
                if options.turned_store {
                    c.with_turned_store()
                } else {
                    c
                }
            })
        } else {
            ConvolutionRecipe::four_step(m, p, limits)?
        };
        let doppler = FftRecipe::new(p, n, FftDirection::Forward, limits)?;
        let tested = plan.cells_tested() as usize;
        let capacity = options
            .detection_capacity
            .unwrap_or((tested / 64).max(1024))
            .clamp(1, tested.max(1));
        let list_bytes = list_bytes(capacity);
        let padded_bytes = (p * m) as u64 * COMPLEX_BYTES;
        for (what, bytes) in [
            ("the padded range buffer", padded_bytes),
            ("the detection list", list_bytes),
        ] {
            if bytes > limits.max_storage_bytes() {
                return Err(GpuError::LimitsInsufficient {
                    adapter: String::new(),
                    limit: "max_storage_buffer_binding_size",
                    have: limits.max_storage_bytes(),
                    need: bytes,
                    what: format!("{what} of a {p} x {n} CPI"),
                });
            }
        }
        let groups = |threads: usize| {
            split_dispatch((threads as u64).div_ceil(MIN_WORKGROUP_X as u64), limits)
        };
        let tile = 16;
        let max = limits.max_compute_workgroups_per_dimension as usize;
        if n.div_ceil(tile) > max || p.div_ceil(tile) > max {
            return Err(plan_error(format!(
                "corner turn of {n} x {p} exceeds max_compute_workgroups_per_dimension {max}"
            )));
        }
        let turn_groups = [n.div_ceil(tile) as u32, p.div_ceil(tile) as u32];
        let mut recipe = ChainRecipe {
            pulses: p,
            samples: n,
            fft_len: m,
            range_forward,
            range_inverse,
            range_convolution,
            doppler_power_fused: matches!(doppler.schedule, FftSchedule::Shared { .. }),
            doppler,
            capacity,
            convert_groups: groups(p * m)?,
            turn_groups,
            power_groups: groups(p * n)?,
            cfar_groups: groups(tested)?,
            stages: Vec::new(),
        };
        recipe.stages = recipe.stage_recipes(SampleUpload::Cf32);
        Ok(recipe)
    }

    /// Per stage, its dispatches and bytes for `upload` ([`Self::traffic`]
    /// summed).
    pub fn stage_recipes(&self, upload: SampleUpload) -> Vec<StageRecipe> {
        self.traffic(upload)
            .iter()
            .map(|t| StageRecipe {
                stage: t.stage,
                dispatches: t.dispatches.len(),
                bytes_read: t.bytes_read(),
                bytes_written: t.bytes_written(),
            })
            .collect()
    }

    /// What every dispatch of one CPI binds and moves, stage by stage in
    /// [`STAGES`] order, for the given upload form: the model behind
    /// `bytes_moved_per_cpi` (docs/gpu.md). Each kernel reads each buffer
    /// it binds read-only once and writes each buffer it writes once,
    /// except where it touches part of a binding: the ci16 conversion
    /// reads 4 bytes a sample of the input buffer, the corner turn and the
    /// power kernel read the first N of each M-long row, and the detection
    /// list counts only its 16-byte header (records are per detection, not
    /// per CPI). Uniforms and lookup tables count their size. Host
    /// transfers (the upload copy and the list readback) are not kernel
    /// traffic: see [`ChainRecipe::upload_bytes`], [`ChainRecipe::readback_bytes`].
    pub fn traffic(&self, upload: SampleUpload) -> Vec<StageTraffic> {
        let (p, n, m) = (self.pulses as u64, self.samples as u64, self.fft_len as u64);
        let (pn, pm) = (p * n, p * m);
        let params = BufferUse::read_only(0, std::mem::size_of::<ChainParams>() as u64);
        let list = self.readback_bytes();
        let header = DETECTION_RECORDS_OFFSET as u64;
        let convert = match upload {
            SampleUpload::Cf32 => DispatchTraffic {
                kernel: "convert_cf32",
                buffers: vec![
                    params,
                    BufferUse::read_only(1, pn * COMPLEX_BYTES),
                    BufferUse::written(3, pm * COMPLEX_BYTES),
                    BufferUse::written(4, list).part(header),
                ],
            },
            SampleUpload::Ci16 => DispatchTraffic {
                kernel: "convert_ci16",
                buffers: vec![
                    params,
                    BufferUse::read_only(2, pn * COMPLEX_BYTES).part(pn * 4),
                    BufferUse::written(3, pm * COMPLEX_BYTES),
                ],
            },
        };
        let one = |stage, d| StageTraffic {
            stage,
            dispatches: vec![d],
        };
        // The fused convolution converts on its column pass's loads: no
        // convert dispatch, no padded copy.
        let (convert, (range_forward, range_inverse)) = match &self.range_convolution {
            Some(c) => {
                let input = match upload {
                    SampleUpload::Cf32 => ColumnsInput::Cf32 {
                        valid: self.samples,
                        list_bytes: list,
                    },
                    SampleUpload::Ci16 => ColumnsInput::Ci16 {
                        valid: self.samples,
                    },
                };
                (Vec::new(), c.traffic(input))
            }
            None => (
                vec![convert],
                (
                    self.range_forward.traffic(true),
                    self.range_inverse.traffic(false),
                ),
            ),
        };
        vec![
            StageTraffic {
                stage: "convert",
                dispatches: convert,
            },
            StageTraffic {
                stage: "range_fft_filter",
                dispatches: range_forward,
            },
            StageTraffic {
                stage: "range_ifft",
                dispatches: range_inverse,
            },
            // A turned store leaves the turn nothing to do.
            StageTraffic {
                stage: "corner_turn",
                dispatches: if self.turned_store() {
                    Vec::new()
                } else {
                    vec![DispatchTraffic {
                        kernel: "corner_turn",
                        buffers: vec![
                            params,
                            BufferUse::read_only(1, pm * COMPLEX_BYTES).part(pn * COMPLEX_BYTES),
                            BufferUse::read_only(2, p * 4),
                            BufferUse::written(3, pn * COMPLEX_BYTES),
                        ],
                    }]
                },
            },
            StageTraffic {
                stage: "doppler_fft",
                dispatches: if self.doppler_power_fused {
                    self.doppler.traffic_power()
                } else {
                    self.doppler.traffic(false)
                },
            },
            StageTraffic {
                stage: "power",
                dispatches: if self.doppler_power_fused {
                    Vec::new()
                } else {
                    vec![DispatchTraffic {
                        kernel: "power",
                        buffers: vec![
                            params,
                            BufferUse::read_only(1, pm * COMPLEX_BYTES).part(pn * COMPLEX_BYTES),
                            BufferUse::written(2, pn * 4),
                        ],
                    }]
                },
            },
            one(
                "cfar",
                DispatchTraffic {
                    kernel: "cfar",
                    buffers: vec![
                        params,
                        BufferUse::read_only(1, pn * 4),
                        BufferUse::written(2, list).part(header),
                    ],
                },
            ),
        ]
    }

    /// True when the range convolution stores the CPI corner-turned (no
    /// turn dispatch).
    pub fn turned_store(&self) -> bool {
        self.range_convolution
            .as_ref()
            .is_some_and(ConvolutionRecipe::turned)
    }

    /// The chain's traffic floor per CPI (docs/gpu.md): the input read
    /// once (4 or 8 bytes a sample), one round trip of the compressed CPI
    /// (P x N complex written and read back for the corner turn), and the
    /// power map (P x N f32) read once by the CFAR.
    pub fn bytes_floor(&self, upload: SampleUpload) -> u64 {
        let pn = (self.pulses * self.samples) as u64;
        self.upload_bytes(upload) + 2 * pn * COMPLEX_BYTES + pn * 4
    }

    /// Bytes uploaded per CPI.
    pub fn upload_bytes(&self, upload: SampleUpload) -> u64 {
        let per = match upload {
            SampleUpload::Cf32 => COMPLEX_BYTES,
            SampleUpload::Ci16 => 4,
        };
        (self.pulses * self.samples) as u64 * per
    }

    /// Bytes read back per CPI (the whole bounded list, whatever it holds).
    pub fn readback_bytes(&self) -> u64 {
        list_bytes(self.capacity)
    }
}

fn list_bytes(capacity: usize) -> u64 {
    (DETECTION_RECORDS_OFFSET + capacity * std::mem::size_of::<DetectionRecord>()) as u64
}

/// The device failed; the chain is unusable from now on.
#[derive(Debug)]
pub struct GpuFault {
    /// What went wrong (one line).
    pub error: GpuError,
    /// The CPIs that were in flight, oldest first: their results are lost,
    /// their samples are not (the host copies the slots kept).
    pub in_flight: Vec<Cpi>,
}

/// The result of one CPI from [`GpuChain::collect`].
#[derive(Debug)]
pub struct GpuCompleted {
    /// The CPI, handed back (`None` for CPIs given by reference).
    pub cpi: Option<Cpi>,
    /// CPI index.
    pub index: u64,
    /// Its detections, or why it was not processed.
    pub result: Result<CpiDetections, ProcessError>,
}

/// Map state of a slot buffer, set by wgpu's callback.
const MAP_PENDING: u8 = 0;
const MAP_DONE: u8 = 1;
const MAP_FAILED: u8 = 2;

struct Slot {
    upload: wgpu::Buffer,
    upload_state: Arc<AtomicU8>,
    readback: wgpu::Buffer,
    readback_state: Arc<AtomicU8>,
    job: Option<Job>,
}

struct Job {
    index: u64,
    cpi: Option<Cpi>,
    submission: wgpu::SubmissionIndex,
    /// A channel other than the detection channel holds NaN or Inf.
    reject: bool,
}

fn map(buffer: &wgpu::Buffer, mode: wgpu::MapMode, state: &Arc<AtomicU8>) {
    state.store(MAP_PENDING, Ordering::Release);
    let s = state.clone();
    buffer.map_async(mode, .., move |r| {
        s.store(
            if r.is_ok() { MAP_DONE } else { MAP_FAILED },
            Ordering::Release,
        );
    });
}

/// Waits for `state`'s map callback after the work it waited on is done:
/// true once mapped, false if the map failed or no callback came within
/// [`DEVICE_TIMEOUT`]. The callback runs inside some `poll`, not
/// necessarily this thread's: where several chains share a device (tests,
/// or two backends in one process) another thread's poll may have retired
/// this submission and not yet run the callback when this thread's wait
/// returns, so the state is polled again rather than taken as final.
fn settle_map(device: &wgpu::Device, state: &AtomicU8) -> bool {
    let start = std::time::Instant::now();
    loop {
        match state.load(Ordering::Acquire) {
            MAP_DONE => return true,
            MAP_FAILED => return false,
            _ if start.elapsed() > DEVICE_TIMEOUT => return false,
            _ => {
                if device.poll(wgpu::PollType::Poll).is_err() {
                    return state.load(Ordering::Acquire) == MAP_DONE;
                }
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    }
}

/// One compute stage: pipeline and its bind group.
/// The range fast convolution: separate forward (filtered) and inverse
/// FFTs, or the fused four-step convolution.
enum RangeStage {
    Separate {
        forward: Box<(GpuFftPlan, FftBindings)>,
        inverse: Box<(GpuFftPlan, FftBindings)>,
    },
    Fused(Box<(GpuConvolution, ConvolutionBindings)>),
}

struct Kernel {
    pipeline: wgpu::ComputePipeline,
    group: wgpu::BindGroup,
    /// `(binding, bytes)` of the group's buffers.
    bound: Vec<(u32, u64)>,
}

/// The GPU backend (see the module docs).
pub struct GpuChain {
    ctx: Arc<GpuContext>,
    plan: ChainPlan,
    recipe: ChainRecipe,
    params_buffer: wgpu::Buffer,
    ci16_scale: f32,
    gather: Vec<Complex32>,
    input: wgpu::Buffer,
    map_buffer: wgpu::Buffer,
    list: wgpu::Buffer,
    convert_cf32: Kernel,
    convert_ci16: Kernel,
    range: RangeStage,
    doppler_fft: (GpuFftPlan, FftBindings),
    turn: Kernel,
    power: Kernel,
    cfar: Kernel,
    slots: Vec<Slot>,
    /// Slots in flight, oldest first.
    order: VecDeque<usize>,
    timestamps: Option<Timestamps>,
    stage_ns: Vec<u64>,
    map_host: RangeDopplerMap,
    overflows: u64,
    uploads: UploadStats,
    dead: bool,
}

struct Timestamps {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    /// Offset of the timestamps in each slot's readback.
    offset: u64,
    period_ns: f32,
}

impl std::fmt::Debug for GpuChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuChain")
            .field("adapter", &self.ctx.adapter_info().name)
            .field("recipe", &self.recipe)
            .finish_non_exhaustive()
    }
}

/// `conj(FFT_M(replica)) / M`, computed exactly as the CPU's
/// `PulseCompressor` does (same rustfft plan, same f32 operations), so both
/// chains multiply by the same bits.
pub fn matched_filter(plan: &ChainPlan) -> Vec<Complex32> {
    let m = plan.fft_len;
    let mut filter = vec![Complex32::default(); m];
    filter[..plan.replica.len()].copy_from_slice(&plan.replica);
    FftPlanner::new().plan_fft_forward(m).process(&mut filter);
    let scale = 1.0 / m as f32;
    for z in &mut filter {
        *z = z.conj() * scale;
    }
    filter
}

impl GpuChain {
    /// Builds the chain for `plan` on `ctx` with default options.
    pub fn new(ctx: Arc<GpuContext>, plan: ChainPlan) -> Result<Self, GpuError> {
        Self::with_options(ctx, plan, GpuChainOptions::default())
    }

    /// Builds every pipeline, buffer and bind group the chain will use.
    pub fn with_options(
        ctx: Arc<GpuContext>,
        plan: ChainPlan,
        options: GpuChainOptions,
    ) -> Result<Self, GpuError> {
        let recipe = ChainRecipe::new(&plan, &options, ctx.limits()).map_err(|e| match e {
            GpuError::LimitsInsufficient {
                limit,
                have,
                need,
                what,
                ..
            } => GpuError::LimitsInsufficient {
                adapter: ctx.adapter_info().name.clone(),
                limit,
                have,
                need,
                what,
            },
            e => e,
        })?;
        let device = &ctx.device;
        use wgpu::BufferUsages as U;
        let (p, n, m) = (recipe.pulses, recipe.samples, recipe.fft_len);
        let buffer = |label: &str, size: u64, usage: U| {
            ctx.checked(&format!("buffer {label}"), || {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size,
                    usage,
                    mapped_at_creation: false,
                })
            })
        };
        let params = ChainParams {
            pulses: p as u32,
            samples: n as u32,
            fft_len: m as u32,
            sample_scale: 1.0,
            train_range: plan.window.train_range as u32,
            guard_range: plan.window.guard_range as u32,
            train_doppler: plan.window.train_doppler as u32,
            guard_doppler: plan.window.guard_doppler as u32,
            cfar_kind: cfar_kind_code(plan.cfar),
            os_k: plan.os_k as u32,
            reference_cells: plan.reference_cells as u32,
            capacity: recipe.capacity as u32,
            alpha: plan.alpha,
            noise_scale: plan.noise_scale,
            _pad: [0; 2],
        };
        let params_buf = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("chain params"),
            contents: bytemuck::bytes_of(&params),
            usage: U::UNIFORM | U::COPY_DST,
        });
        let pn = (p * n) as u64;
        let pm = (p * m) as u64;
        let input = buffer("input", pn * COMPLEX_BYTES, U::STORAGE | U::COPY_DST)?;
        let padded = buffer("padded", pm * COMPLEX_BYTES, U::STORAGE)?;
        let spectrum = buffer("spectrum", pm * COMPLEX_BYTES, U::STORAGE)?;
        let turned = buffer("turned", pn * COMPLEX_BYTES, U::STORAGE)?;
        let map_buffer = buffer("map", pn * 4, U::STORAGE | U::COPY_SRC)?;
        let list_len = recipe.readback_bytes();
        let list = buffer(
            "detections",
            list_len,
            U::STORAGE | U::COPY_SRC | U::COPY_DST,
        )?;
        let window = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("doppler window"),
            contents: bytemuck::cast_slice(&plan.doppler_window),
            usage: U::STORAGE,
        });
        let kernel = |file: &str, entry: &str, bindings: &[(u32, &wgpu::Buffer)]| {
            let module = shaders::module(&ctx, file)?;
            let pipeline = ctx.checked(&format!("pipeline {entry}"), || {
                device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(entry),
                    layout: None,
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: None,
                })
            })?;
            let entries: Vec<wgpu::BindGroupEntry> = bindings
                .iter()
                .map(|&(binding, b)| wgpu::BindGroupEntry {
                    binding,
                    resource: b.as_entire_binding(),
                })
                .collect();
            let group = ctx.checked(&format!("bind group {entry}"), || {
                device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(entry),
                    layout: &pipeline.get_bind_group_layout(0),
                    entries: &entries,
                })
            })?;
            let bound = super::fft::bound_sizes(&entries);
            Ok::<_, GpuError>(Kernel {
                pipeline,
                group,
                bound,
            })
        };
        let convert_cf32 = kernel(
            "convert.wgsl",
            "convert_cf32",
            &[(0, &params_buf), (1, &input), (3, &padded), (4, &list)],
        )?;
        let convert_ci16 = kernel(
            "convert.wgsl",
            "convert_ci16",
            &[(0, &params_buf), (2, &input), (3, &padded)],
        )?;
        let turn = kernel(
            "doppler.wgsl",
            "main",
            &[(0, &params_buf), (1, &padded), (2, &window), (3, &turned)],
        )?;
        let power = kernel(
            "power.wgsl",
            "main",
            &[(0, &params_buf), (1, &spectrum), (2, &map_buffer)],
        )?;
        let cfar = kernel(
            "cfar.wgsl",
            "main",
            &[(0, &params_buf), (1, &map_buffer), (2, &list)],
        )?;
        let filter = matched_filter(&plan);
        let range = match &recipe.range_convolution {
            Some(c) => {
                let conv = GpuConvolution::new(&ctx, c.clone(), &filter, Some(n))?;
                let chain = ChainBuffers {
                    list: &list,
                    params: &params_buf,
                    window: &window,
                };
                // A turned store writes the Doppler FFT's input itself.
                let output = if c.turned() { &turned } else { &padded };
                let b = conv.bind(&ctx, &input, &spectrum, output, Some(chain))?;
                RangeStage::Fused(Box::new((conv, b)))
            }
            None => {
                let fwd =
                    GpuFftPlan::from_recipe_filtered(&ctx, recipe.range_forward.clone(), &filter)?;
                let fwd_b = fwd.bind(&ctx, &padded, &spectrum)?;
                let inv = GpuFftPlan::from_recipe(&ctx, recipe.range_inverse.clone())?;
                let inv_b = inv.bind(&ctx, &spectrum, &padded)?;
                RangeStage::Separate {
                    forward: Box::new((fwd, fwd_b)),
                    inverse: Box::new((inv, inv_b)),
                }
            }
        };
        // The Doppler spectra reuse `spectrum` (free once the IFFT is done).
        let (dop, dop_b) = if recipe.doppler_power_fused {
            let dop = GpuFftPlan::from_recipe_power(&ctx, recipe.doppler.clone())?;
            let b = dop.bind(&ctx, &turned, &map_buffer)?;
            (dop, b)
        } else {
            let dop = GpuFftPlan::from_recipe(&ctx, recipe.doppler.clone())?;
            let b = dop.bind(&ctx, &turned, &spectrum)?;
            (dop, b)
        };

        let timestamps = (options.timestamps && ctx.has_timestamps())
            .then(|| {
                let count = 2 * STAGES.len() as u32;
                let set = device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("stage timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count,
                });
                let resolve = buffer(
                    "timestamp resolve",
                    count as u64 * 8,
                    U::QUERY_RESOLVE | U::COPY_SRC,
                )?;
                Ok::<_, GpuError>(Timestamps {
                    set,
                    resolve,
                    offset: list_len.div_ceil(8) * 8,
                    period_ns: ctx.queue.get_timestamp_period(),
                })
            })
            .transpose()?;
        let readback_len = match &timestamps {
            Some(t) => t.offset + 2 * STAGES.len() as u64 * 8,
            None => list_len,
        };
        let upload_len = pn * COMPLEX_BYTES;
        let slots = (0..options.slots)
            .map(|i| {
                let upload = ctx.checked("upload buffer", || {
                    device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some(&format!("h2d {i}")),
                        size: upload_len,
                        usage: U::MAP_WRITE | U::COPY_SRC,
                        mapped_at_creation: true,
                    })
                })?;
                let readback =
                    buffer(&format!("d2h {i}"), readback_len, U::MAP_READ | U::COPY_DST)?;
                Ok::<_, GpuError>(Slot {
                    upload,
                    upload_state: Arc::new(AtomicU8::new(MAP_DONE)),
                    readback,
                    readback_state: Arc::new(AtomicU8::new(MAP_PENDING)),
                    job: None,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(f) = ctx.fault() {
            return Err(GpuError::Device {
                what: "building the chain".into(),
                reason: f,
            });
        }
        Ok(GpuChain {
            map_host: RangeDopplerMap {
                range_bins: n,
                doppler_bins: p,
                power: Vec::new(),
            },
            ctx,
            plan,
            recipe,
            params_buffer: params_buf,
            ci16_scale: 1.0,
            gather: Vec::new(),
            input,
            map_buffer,
            list,
            convert_cf32,
            convert_ci16,
            range,
            doppler_fft: (dop, dop_b),
            turn,
            power,
            cfar,
            slots,
            order: VecDeque::new(),
            timestamps,
            stage_ns: Vec::new(),
            overflows: 0,
            uploads: UploadStats::default(),
            dead: false,
        })
    }

    /// The plan this chain runs.
    pub fn plan(&self) -> &ChainPlan {
        &self.plan
    }

    /// Its GPU recipe.
    pub fn recipe(&self) -> &ChainRecipe {
        &self.recipe
    }

    /// The device context.
    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    /// Per stage in [`STAGES`] order, per dispatch, the `(binding, bytes)`
    /// of every buffer range its bind group holds, as the groups were made
    /// (for checking [`ChainRecipe::traffic`] against what the kernels get).
    pub fn bound_buffers(&self, upload: SampleUpload) -> Vec<Vec<Vec<(u32, u64)>>> {
        let convert = match upload {
            SampleUpload::Cf32 => &self.convert_cf32,
            SampleUpload::Ci16 => &self.convert_ci16,
        };
        let variant = usize::from(upload == SampleUpload::Ci16);
        vec![
            match &self.range {
                RangeStage::Separate { .. } => vec![convert.bound.clone()],
                RangeStage::Fused(_) => Vec::new(),
            },
            match &self.range {
                RangeStage::Separate { forward, .. } => forward.1.bound().to_vec(),
                RangeStage::Fused(f) => f.1.bound(variant).0,
            },
            match &self.range {
                RangeStage::Separate { inverse, .. } => inverse.1.bound().to_vec(),
                RangeStage::Fused(f) => f.1.bound(variant).1,
            },
            if self.recipe.turned_store() {
                Vec::new()
            } else {
                vec![self.turn.bound.clone()]
            },
            self.doppler_fft.1.bound().to_vec(),
            if self.recipe.doppler_power_fused {
                Vec::new()
            } else {
                vec![self.power.bound.clone()]
            },
            vec![self.cfar.bound.clone()],
        ]
    }

    /// CPIs whose crossings overflowed the device list so far.
    pub fn overflows(&self) -> u64 {
        self.overflows
    }

    /// CPIs submitted so far by upload form, and the sample bytes uploaded.
    pub fn uploads(&self) -> UploadStats {
        self.uploads
    }

    /// Kernel time per stage of the last collected CPI, nanoseconds, in
    /// [`STAGES`] order; empty without timestamps.
    pub fn stage_times_ns(&self) -> &[u64] {
        &self.stage_ns
    }

    /// True when a slot is free for [`GpuChain::submit`].
    pub fn has_free_slot(&self) -> bool {
        self.order.len() < self.slots.len()
    }

    /// CPIs submitted and not collected.
    pub fn in_flight(&self) -> usize {
        self.order.len()
    }

    fn fault(&mut self, error: GpuError) -> GpuFault {
        self.dead = true;
        let in_flight = self
            .order
            .drain(..)
            .filter_map(|s| self.slots[s].job.take().and_then(|j| j.cpi))
            .collect();
        GpuFault { error, in_flight }
    }

    fn check_fault(&mut self, what: &str) -> Result<(), GpuFault> {
        match self.ctx.fault() {
            Some(reason) => Err(self.fault(GpuError::Device {
                what: what.into(),
                reason,
            })),
            None => Ok(()),
        }
    }

    fn wait(&self, submission: &wgpu::SubmissionIndex) -> Result<(), GpuError> {
        self.ctx
            .device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission.clone()),
                timeout: Some(DEVICE_TIMEOUT),
            })
            .map(|_| ())
            .map_err(|e| GpuError::Device {
                what: "waiting for a CPI".into(),
                reason: super::context::one_line(&e.to_string()),
            })
    }

    /// Hands a CPI to the device: its detection channel, uploaded as ci16
    /// ([`SampleUpload::Ci16`], 4 bytes a sample, converted on the device)
    /// when the CPI holds raw counts ([`Cpi::ci16`]), as cf32 otherwise. The
    /// slot keeps the CPI until [`GpuChain::collect`] returns it (a fault
    /// hands it back, still ci16: the CPU converts it when it processes it).
    /// Needs a free slot: collect first when [`GpuChain::has_free_slot`] is
    /// false.
    pub fn submit(&mut self, cpi: Cpi) -> Result<(), GpuFault> {
        match self.submit_inner(Samples::Cpi(&cpi), cpi.meta.index) {
            Ok(s) => {
                if let Some(job) = self.slots[s].job.as_mut() {
                    job.cpi = Some(cpi);
                }
                Ok(())
            }
            Err(mut f) => {
                f.in_flight.push(cpi);
                Err(f)
            }
        }
    }

    /// Hands the detection channel of CPI `index` to the device as ci16
    /// (half the bytes of cf32): `iq` holds `P x N` interleaved (I, Q) pairs
    /// in host order, pulse-major, multiplied on the device by `scale`
    /// (2^-15 for full scale 1.0, as the SigMF reader scales; 1.0 for raw
    /// counts). No host copy is kept: after a fault the caller still has `iq`.
    pub fn submit_ci16(&mut self, index: u64, iq: &[i16], scale: f32) -> Result<(), GpuFault> {
        let want = 2 * self.plan.pulses * self.plan.samples;
        if iq.len() != want {
            return Err(GpuFault {
                error: GpuError::Plan(format!(
                    "CPI {index}: {} ci16 values given, the plan needs {want}",
                    iq.len()
                )),
                in_flight: Vec::new(),
            });
        }
        self.submit_inner(Samples::Ci16 { iq, scale }, index)
            .map(|_| ())
    }

    fn fail(&mut self, what: &str, reason: String) -> GpuFault {
        self.fault(GpuError::Device {
            what: what.into(),
            reason,
        })
    }

    /// Fills a free slot and submits; returns the slot.
    fn submit_inner(&mut self, samples: Samples<'_>, index: u64) -> Result<usize, GpuFault> {
        if self.dead {
            return Err(self.fail("submit", "the device failed earlier".into()));
        }
        if !self.has_free_slot() {
            return Err(GpuFault {
                error: GpuError::Plan(
                    "submit with every ring slot in flight: collect first".into(),
                ),
                in_flight: Vec::new(),
            });
        }
        let s = (0..self.slots.len())
            .find(|&i| self.slots[i].job.is_none())
            .expect("fewer jobs than slots");
        let mut reject = false;
        // A ci16 CPI goes up as its counts; no cf32 copy is made.
        let samples = match samples {
            Samples::Cpi(c) => match c.ci16_channel(self.plan.channel) {
                Some((iq, scale))
                    if c.dim().1 == self.plan.pulses && c.dim().2 == self.plan.samples =>
                {
                    // Every channel of a ci16 CPI is finite: nothing to reject.
                    Samples::Ci16 { iq, scale }
                }
                _ => Samples::Cpi(c),
            },
            s => s,
        };
        let upload = match &samples {
            Samples::Cpi(c) => {
                let (ch, p, n) = c.dim();
                if p != self.plan.pulses || n != self.plan.samples || self.plan.channel >= ch {
                    return Err(GpuFault {
                        error: GpuError::Plan(format!(
                            "CPI {index} has shape {:?}, the chain expects {} x {}",
                            (ch, p, n),
                            self.plan.pulses,
                            self.plan.samples
                        )),
                        in_flight: Vec::new(),
                    });
                }
                // Other channels (monopulse) are checked here, as the CPU
                // chain does; the detection channel on the device.
                reject = (0..ch)
                    .filter(|&k| k != self.plan.channel)
                    .any(|k| !c.channel_is_finite(k));
                SampleUpload::Cf32
            }
            Samples::Ci16 { .. } => SampleUpload::Ci16,
        };
        let bytes = self.recipe.upload_bytes(upload);
        // The slot's upload buffer is mapped again once its last CPI is done.
        if self.slots[s].upload_state.load(Ordering::Acquire) == MAP_PENDING
            && let Err(e) = self.ctx.device.poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: Some(DEVICE_TIMEOUT),
            })
        {
            return Err(self.fail("mapping an upload buffer", e.to_string()));
        }
        if !settle_map(&self.ctx.device, &self.slots[s].upload_state) {
            return Err(self.fail("mapping an upload buffer", "the map failed".into()));
        }
        // A CPI not in standard layout (no reader makes one) is gathered
        // into a scratch buffer kept across CPIs.
        if let Samples::Cpi(c) = &samples {
            let lane = c.channel(self.plan.channel);
            if lane.as_slice().is_none() {
                self.gather.clear();
                self.gather.extend(lane.iter());
            }
        }
        let written = {
            let src: &[u8] = match &samples {
                Samples::Cpi(c) => match c.channel(self.plan.channel).to_slice() {
                    Some(s) => bytemuck::cast_slice(s),
                    None => bytemuck::cast_slice(&self.gather),
                },
                Samples::Ci16 { iq, .. } => bytemuck::cast_slice(iq),
            };
            match self.slots[s].upload.get_mapped_range_mut(..bytes) {
                Ok(mut view) => {
                    view.copy_from_slice(src);
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        };
        if let Err(e) = written {
            return Err(self.fail("upload", e));
        }
        self.slots[s].upload.unmap();
        if let Samples::Ci16 { scale, .. } = samples
            && scale != self.ci16_scale
        {
            self.ctx.queue.write_buffer(
                &self.params_buffer,
                std::mem::offset_of!(ChainParams, sample_scale) as u64,
                bytemuck::bytes_of(&scale),
            );
            self.ci16_scale = scale;
        }
        let submission = self.record_and_submit(s, upload, bytes);
        let slot = &self.slots[s];
        map(&slot.readback, wgpu::MapMode::Read, &slot.readback_state);
        map(&slot.upload, wgpu::MapMode::Write, &slot.upload_state);
        self.slots[s].job = Some(Job {
            index,
            cpi: None,
            submission,
            reject,
        });
        self.order.push_back(s);
        self.check_fault("submit")?;
        // Counted once submitted without a fault.
        match upload {
            SampleUpload::Ci16 => self.uploads.ci16_cpis += 1,
            SampleUpload::Cf32 => self.uploads.cf32_cpis += 1,
        }
        self.uploads.bytes += bytes;
        Ok(s)
    }

    fn record_and_submit(
        &self,
        s: usize,
        upload: SampleUpload,
        bytes: u64,
    ) -> wgpu::SubmissionIndex {
        let slot = &self.slots[s];
        let mut encoder = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("cpi") });
        encoder.copy_buffer_to_buffer(&slot.upload, 0, &self.input, 0, bytes);
        encoder.clear_buffer(&self.list, 0, Some(DETECTION_RECORDS_OFFSET as u64));
        let ts = self.timestamps.as_ref();
        let writes = |i: u32| {
            ts.map(|t| wgpu::ComputePassTimestampWrites {
                query_set: &t.set,
                beginning_of_pass_write_index: Some(2 * i),
                end_of_pass_write_index: Some(2 * i + 1),
            })
        };
        let r = &self.recipe;
        let run = |encoder: &mut wgpu::CommandEncoder, k: &Kernel, i: u32, g: [u32; 2]| {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(STAGES[i as usize]),
                timestamp_writes: writes(i),
            });
            pass.set_pipeline(&k.pipeline);
            pass.set_bind_group(0, &k.group, &[]);
            pass.dispatch_workgroups(g[0], g[1], 1);
        };
        // A stage done inside another stage's kernel: an empty pass keeps
        // its timestamp pair meaningful (about zero).
        let fused = |encoder: &mut wgpu::CommandEncoder, i: u32| {
            drop(encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(STAGES[i as usize]),
                timestamp_writes: writes(i),
            }));
        };
        let convert = match upload {
            SampleUpload::Cf32 => &self.convert_cf32,
            SampleUpload::Ci16 => &self.convert_ci16,
        };
        match &self.range {
            RangeStage::Separate { forward, inverse } => {
                run(&mut encoder, convert, 0, r.convert_groups);
                forward.0.record_timed(&mut encoder, &forward.1, writes(1));
                inverse.0.record_timed(&mut encoder, &inverse.1, writes(2));
            }
            RangeStage::Fused(f) => {
                // The conversion is in the convolution's loads.
                fused(&mut encoder, 0);
                let variant = usize::from(upload == SampleUpload::Ci16);
                f.0.record_timed(&mut encoder, &f.1, variant, writes(1), writes(2));
            }
        }
        if r.turned_store() {
            // The turn is in the convolution's store.
            fused(&mut encoder, 3);
        } else {
            run(&mut encoder, &self.turn, 3, r.turn_groups);
        }
        let (d, db) = &self.doppler_fft;
        d.record_timed(&mut encoder, db, writes(4));
        if r.doppler_power_fused {
            // The power is in the Doppler FFT's store.
            fused(&mut encoder, 5);
        } else {
            run(&mut encoder, &self.power, 5, r.power_groups);
        }
        run(&mut encoder, &self.cfar, 6, r.cfar_groups);
        encoder.copy_buffer_to_buffer(&self.list, 0, &slot.readback, 0, r.readback_bytes());
        if let Some(t) = ts {
            let count = 2 * STAGES.len() as u32;
            encoder.resolve_query_set(&t.set, 0..count, &t.resolve, 0);
            encoder.copy_buffer_to_buffer(
                &t.resolve,
                0,
                &slot.readback,
                t.offset,
                count as u64 * 8,
            );
        }
        self.ctx.queue.submit([encoder.finish()])
    }

    /// Waits for the oldest CPI in flight and returns its detections
    /// (sorted into the CPU's range-major order), or `None` when nothing is
    /// in flight. A fault hands back every CPI still in flight.
    pub fn collect(&mut self) -> Result<Option<GpuCompleted>, GpuFault> {
        let Some(&s) = self.order.front() else {
            return Ok(None);
        };
        let submission = self.slots[s]
            .job
            .as_ref()
            .map(|j| j.submission.clone())
            .expect("a slot in flight has a job");
        if let Err(e) = self.wait(&submission) {
            return Err(self.fault(e));
        }
        self.check_fault("processing a CPI")?;
        if !settle_map(&self.ctx.device, &self.slots[s].readback_state) {
            return Err(self.fail("reading back detections", "the map failed".into()));
        }
        let capacity = self.recipe.capacity;
        let (header, detections, stage_ns) = {
            let slot = &self.slots[s];
            let view = match slot.readback.get_mapped_range(..) {
                Ok(v) => v,
                Err(e) => {
                    let reason = e.to_string();
                    return Err(self.fail("reading back detections", reason));
                }
            };
            let header: DetectionListHeader =
                bytemuck::pod_read_unaligned(&view[..DETECTION_RECORDS_OFFSET]);
            let stored = (header.count as usize).min(capacity);
            let end = DETECTION_RECORDS_OFFSET + stored * std::mem::size_of::<DetectionRecord>();
            let records: &[DetectionRecord] =
                bytemuck::cast_slice(&view[DETECTION_RECORDS_OFFSET..end]);
            let mut detections: Vec<Detection> = records
                .iter()
                .map(|r| Detection {
                    range_bin: r.range_bin,
                    doppler_bin: r.doppler_bin,
                    power: r.power,
                    noise: r.noise,
                    neighbours: r.neighbours,
                })
                .collect();
            // The atomic counter hands out slots in no fixed order.
            detections.sort_unstable_by_key(|d| (d.range_bin, d.doppler_bin));
            let stage_ns = self.timestamps.as_ref().map(|t| {
                let off = t.offset as usize;
                let ticks: &[u64] = bytemuck::cast_slice(&view[off..off + 16 * STAGES.len()]);
                ticks
                    .chunks_exact(2)
                    .map(|w| (w[1].saturating_sub(w[0]) as f64 * t.period_ns as f64) as u64)
                    .collect::<Vec<u64>>()
            });
            (header, detections, stage_ns)
        };
        self.slots[s].readback.unmap();
        self.order.pop_front();
        let job = self.slots[s]
            .job
            .take()
            .expect("a slot in flight has a job");
        if let Some(ns) = stage_ns {
            self.stage_ns = ns;
        }
        let result = if job.reject || header.non_finite > 0 {
            Err(ProcessError::NonFinite(job.index))
        } else if header.count as usize > capacity {
            self.overflows += 1;
            Err(ProcessError::DetectionOverflow {
                cpi: job.index,
                found: header.count as u64,
                capacity: capacity as u64,
            })
        } else {
            Ok(CpiDetections {
                detections,
                cells_tested: self.plan.cells_tested(),
            })
        };
        Ok(Some(GpuCompleted {
            cpi: job.cpi,
            index: job.index,
            result,
        }))
    }

    /// Processes CPI `index` from ci16 samples and waits for it (see
    /// [`GpuChain::submit_ci16`]).
    pub fn process_ci16(
        &mut self,
        index: u64,
        iq: &[i16],
        scale: f32,
    ) -> Result<CpiDetections, ProcessError> {
        self.drain_for_sync()?;
        self.submit_ci16(index, iq, scale).map_err(gpu_err)?;
        self.collect_one()
    }

    fn drain_for_sync(&mut self) -> Result<(), ProcessError> {
        if self.in_flight() > 0 {
            return Err(ProcessError::Gpu(
                "synchronous use of a GPU chain with CPIs in flight: collect them first".into(),
            ));
        }
        Ok(())
    }

    fn collect_one(&mut self) -> Result<CpiDetections, ProcessError> {
        match self.collect().map_err(gpu_err)? {
            Some(done) => done.result,
            None => Err(ProcessError::Gpu("no CPI in flight".into())),
        }
    }

    /// Reads the power map of the last CPI back (for `tews view`; the
    /// stream never does this). Valid after a synchronous `process`.
    pub fn fetch_map(&mut self) -> Result<&RangeDopplerMap, GpuError> {
        let bytes = self.map_buffer.size();
        let staging = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("map d2h"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.ctx.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&self.map_buffer, 0, &staging, 0, bytes);
        let index = self.ctx.queue.submit([encoder.finish()]);
        let state = Arc::new(AtomicU8::new(MAP_PENDING));
        map(&staging, wgpu::MapMode::Read, &state);
        self.wait(&index)?;
        if !settle_map(&self.ctx.device, &state) {
            return Err(GpuError::Readback(
                "the power map could not be mapped".into(),
            ));
        }
        let view = staging
            .get_mapped_range(..)
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        self.map_host.power = bytemuck::cast_slice::<u8, f32>(&view).to_vec();
        drop(view);
        staging.unmap();
        Ok(&self.map_host)
    }
}

fn gpu_err(f: GpuFault) -> ProcessError {
    ProcessError::Gpu(f.error.to_string())
}

enum Samples<'a> {
    Cpi(&'a Cpi),
    Ci16 { iq: &'a [i16], scale: f32 },
}

impl Backend for GpuChain {
    fn name(&self) -> &'static str {
        "gpu"
    }

    /// Synchronous: submit, wait, collect (the streaming form is
    /// [`GpuChain::submit`] / [`GpuChain::collect`], used by
    /// [`super::GpuBackend`]).
    fn process(&mut self, cpi: &Cpi) -> Result<CpiDetections, ProcessError> {
        self.drain_for_sync()?;
        self.submit_inner(Samples::Cpi(cpi), cpi.meta.index)
            .map_err(gpu_err)?;
        self.collect_one()
    }

    fn last_map(&self) -> Option<&RangeDopplerMap> {
        (!self.map_host.power.is_empty()).then_some(&self.map_host)
    }

    fn adapter(&self) -> Option<String> {
        Some(self.ctx.adapter_info().name.clone())
    }

    fn uploads(&self) -> Option<UploadStats> {
        Some(self.uploads)
    }

    fn takes_ci16(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::cfar::CfarKind;
    use crate::process::gpu::fft::FftSchedule;
    use crate::process::{CfarWindow, ProcessConfig};
    use crate::radar::{RadarParams, Waveform};

    fn plan(p: usize, n: usize, cfar: CfarKind, window: CfarWindow) -> ChainPlan {
        let params = RadarParams {
            sample_rate_hz: 1e6,
            pulses_per_cpi: p,
            samples_per_pulse: n,
            pri_s: 1e-3,
            window_delay_s: 0.0,
            waveform: Waveform::Rect {
                pulse_width_s: 5e-6,
            },
            num_channels: 1,
            sum_channel: 0,
            channel_names: vec![],
            monopulse: None,
        };
        let config = ProcessConfig {
            cfar,
            window,
            pfa: 1e-3,
            ..ProcessConfig::default()
        };
        ChainPlan::new(&params, &config).unwrap()
    }

    #[test]
    fn recipe_sizes_follow_the_plan() {
        let l = GpuLimits::webgpu_defaults();
        let pl = plan(32, 1000, CfarKind::Os, CfarWindow::default());
        let r = ChainRecipe::new(&pl, &GpuChainOptions::default(), &l).unwrap();
        assert_eq!(r.fft_len, 1024); // 1000 + 5 - 1 padded
        assert_eq!((r.range_forward.size, r.range_forward.batch), (1024, 32));
        assert_eq!((r.doppler.size, r.doppler.batch), (32, 1000));
        let tested = pl.cells_tested() as usize;
        assert_eq!(r.capacity, (tested / 64).max(1024).min(tested));
        let threads = |g: [u32; 2]| g[0] as usize * g[1] as usize * 64;
        assert!(threads(r.cfar_groups) >= tested);
        assert!(threads(r.convert_groups) >= 32 * 1024);
        assert_eq!(r.turn_groups, [63, 2]);
        assert_eq!(
            r.upload_bytes(SampleUpload::Ci16) * 2,
            r.upload_bytes(SampleUpload::Cf32)
        );
    }

    #[test]
    fn any_pulse_count_and_any_os_window_plan() {
        let l = GpuLimits::webgpu_defaults();
        let o = GpuChainOptions::default();
        for (p, bluestein) in [
            (24, false),
            (48, false),
            (96, false),
            (100, false),
            (127, true),
        ] {
            let r = ChainRecipe::new(&plan(p, 500, CfarKind::Ca, CfarWindow::default()), &o, &l)
                .unwrap();
            assert_eq!((r.doppler.size, r.doppler.batch), (p, 500));
            assert_eq!(
                matches!(r.doppler.schedule, FftSchedule::Bluestein { .. }),
                bluestein,
                "{p}"
            );
        }
        let wide = CfarWindow {
            train_range: 30,
            guard_range: 1,
            train_doppler: 4,
            guard_doppler: 1,
        };
        assert!(ChainRecipe::new(&plan(32, 500, CfarKind::Os, wide), &o, &l).is_ok());
    }

    #[test]
    fn shapes_the_gpu_cannot_take_are_clear_errors() {
        let l = GpuLimits::webgpu_defaults();
        let o = GpuChainOptions::default();
        let mut small = l;
        small.max_storage_buffer_binding_size = 1 << 16;
        let err = ChainRecipe::new(
            &plan(32, 500, CfarKind::Ca, CfarWindow::default()),
            &o,
            &small,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("max_storage_buffer_binding_size"),
            "{err}"
        );
    }

    #[test]
    fn matched_filter_is_the_cpu_pulse_compressor_filter() {
        // Against its definition with a naive f64 DFT.
        let pl = plan(16, 40, CfarKind::Ca, CfarWindow::default());
        let h = matched_filter(&pl);
        let m = pl.fft_len;
        for (k, z) in h.iter().enumerate() {
            let mut acc = rustfft::num_complex::Complex64::default();
            for (n, s) in pl.replica.iter().enumerate() {
                let ph = -2.0 * std::f64::consts::PI * (k * n) as f64 / m as f64;
                acc += rustfft::num_complex::Complex64::new(s.re as f64, s.im as f64)
                    * rustfft::num_complex::Complex64::from_polar(1.0, ph);
            }
            let want = acc.conj() / m as f64;
            assert!((z.re as f64 - want.re).abs() < 1e-6 && (z.im as f64 - want.im).abs() < 1e-6);
        }
    }
}
