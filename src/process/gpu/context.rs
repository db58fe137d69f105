//! The wgpu device a GPU chain runs on: instance, adapter, device and queue,
//! made once, plus the adapter limits every pipeline is sized against.
//!
//! Nothing here assumes a desktop GPU: the limits are queried from the
//! adapter and requested in full, and stages size their workgroups and
//! shared memory from [`GpuLimits`], down to what Mesa's lavapipe (a CPU
//! Vulkan driver) or a small integrated GPU offers.

use std::fmt;
use std::sync::{Arc, Mutex};

/// Errors of the GPU layer. Each message is one line a site engineer can act on.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// No adapter at all, or none whose name contains the filter.
    #[error("{}", no_adapter_message(.filter, .found))]
    NoAdapter {
        /// The name filter asked for, if any.
        filter: Option<String>,
        /// Names of the adapters that were found (empty when none at all).
        found: Vec<String>,
    },
    /// The adapter exists but refused to open a device.
    #[error("GPU adapter \"{adapter}\": device request failed: {reason}")]
    RequestDevice {
        /// Adapter name.
        adapter: String,
        /// wgpu's reason.
        reason: String,
    },
    /// The adapter's limit is below what tews (or one plan) needs.
    #[error("GPU adapter \"{adapter}\": limit {limit} is {have}, {what} needs at least {need}")]
    LimitsInsufficient {
        /// Adapter name.
        adapter: String,
        /// The wgpu limit's name, e.g. `max_storage_buffer_binding_size`.
        limit: &'static str,
        /// The adapter's value.
        have: u64,
        /// The value needed.
        need: u64,
        /// What needs it ("tews", "FFT of 65536 x 512").
        what: String,
    },
    /// A size or shape that the GPU stages do not support.
    #[error("GPU plan: {0}")]
    Plan(String),
    /// wgpu reported a validation or out-of-memory error while making a
    /// pipeline or buffer (a bug in tews or a driver problem).
    #[error("GPU {what}: {reason}")]
    Device {
        /// What was being made.
        what: String,
        /// wgpu's message, on one line.
        reason: String,
    },
    /// Reading results back from the GPU failed.
    #[error("GPU readback failed: {0}")]
    Readback(String),
}

fn no_adapter_message(filter: &Option<String>, found: &[String]) -> String {
    match (filter, found.is_empty()) {
        (_, true) => "no GPU adapter found (on Linux without a GPU, install \
                      mesa-vulkan-drivers for the lavapipe software adapter)"
            .to_string(),
        (Some(f), false) => format!(
            "no GPU adapter name contains \"{f}\" (found: {})",
            found.join(", ")
        ),
        (None, false) => format!("no usable GPU adapter (found: {})", found.join(", ")),
    }
}

/// The adapter limits the GPU stages are sized against (a subset of
/// [`wgpu::Limits`], in the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct GpuLimits {
    /// Bytes of `var<workgroup>` memory one workgroup may use.
    pub max_compute_workgroup_storage_size: u32,
    /// Invocations in one workgroup (product of the three sizes).
    pub max_compute_invocations_per_workgroup: u32,
    /// Largest workgroup size in x.
    pub max_compute_workgroup_size_x: u32,
    /// Largest dispatch in any one dimension, in workgroups.
    pub max_compute_workgroups_per_dimension: u32,
    /// Storage buffers one shader stage may bind.
    pub max_storage_buffers_per_shader_stage: u32,
    /// Bytes one storage-buffer binding may span.
    pub max_storage_buffer_binding_size: u64,
    /// Bytes of the largest buffer.
    pub max_buffer_size: u64,
}

impl From<&wgpu::Limits> for GpuLimits {
    fn from(l: &wgpu::Limits) -> Self {
        GpuLimits {
            max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_compute_workgroup_size_x: l.max_compute_workgroup_size_x,
            max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
            max_storage_buffers_per_shader_stage: l.max_storage_buffers_per_shader_stage,
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_buffer_size: l.max_buffer_size,
        }
    }
}

impl GpuLimits {
    /// The WebGPU guaranteed minimums (what any conforming adapter offers).
    pub fn webgpu_defaults() -> Self {
        GpuLimits::from(&wgpu::Limits::defaults())
    }

    /// Workgroup size in x a kernel may use: invocations and x both bound it.
    pub fn max_workgroup_x(&self) -> u32 {
        self.max_compute_invocations_per_workgroup
            .min(self.max_compute_workgroup_size_x)
    }

    /// Largest storage binding, bounded by the largest buffer too.
    pub fn max_storage_bytes(&self) -> u64 {
        self.max_storage_buffer_binding_size
            .min(self.max_buffer_size)
    }

    /// The first limit below the floor tews needs, as
    /// `(name, have, need)`.
    fn first_shortfall(&self) -> Option<(&'static str, u64, u64)> {
        // Floors: the smallest compute kernels use 64 invocations in x and
        // bind at most 4 storage buffers; everything else scales down.
        let checks: [(&'static str, u64, u64); 4] = [
            (
                "max_compute_invocations_per_workgroup",
                self.max_compute_invocations_per_workgroup.into(),
                MIN_WORKGROUP_X.into(),
            ),
            (
                "max_compute_workgroup_size_x",
                self.max_compute_workgroup_size_x.into(),
                MIN_WORKGROUP_X.into(),
            ),
            (
                "max_storage_buffers_per_shader_stage",
                self.max_storage_buffers_per_shader_stage.into(),
                4,
            ),
            (
                "max_compute_workgroups_per_dimension",
                self.max_compute_workgroups_per_dimension.into(),
                1024,
            ),
        ];
        checks.into_iter().find(|&(_, have, need)| have < need)
    }
}

/// Smallest workgroup size in x that every tews kernel may rely on.
pub const MIN_WORKGROUP_X: u32 = 64;

/// How to choose the adapter.
#[derive(Debug, Clone, Default)]
pub struct GpuOptions {
    /// Use the first adapter whose name contains this (case-insensitive),
    /// e.g. "llvmpipe" or "RTX". `None`: the best kind (discrete, integrated,
    /// virtual, then CPU).
    pub adapter_filter: Option<String>,
}

/// One adapter, as `tews info` prints it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AdapterInfoLine {
    /// Adapter name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub name: String,
    /// Graphics API: "vulkan", "metal", "dx12".
    pub backend: String,
    /// "DiscreteGpu", "IntegratedGpu", "VirtualGpu", "Cpu", "Other".
    pub device_type: String,
    /// Driver name and version string.
    pub driver: String,
    /// The limits tews sizes its kernels against.
    pub limits: GpuLimits,
}

impl fmt::Display for AdapterInfoLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{} {}] driver {}",
            self.name, self.backend, self.device_type, self.driver
        )
    }
}

fn info_line(adapter: &wgpu::Adapter) -> AdapterInfoLine {
    let info = adapter.get_info();
    let driver = match (info.driver.is_empty(), info.driver_info.is_empty()) {
        (false, false) => format!("{} {}", info.driver, info.driver_info),
        (false, true) => info.driver.clone(),
        (true, false) => info.driver_info.clone(),
        (true, true) => "-".to_string(),
    };
    AdapterInfoLine {
        name: info.name,
        backend: info.backend.to_string(),
        device_type: format!("{:?}", info.device_type),
        driver,
        limits: GpuLimits::from(&adapter.limits()),
    }
}

fn new_instance() -> wgpu::Instance {
    // `WGPU_BACKEND` and friends still apply, for site debugging.
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

fn enumerate(instance: &wgpu::Instance) -> Vec<wgpu::Adapter> {
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
}

/// Every adapter wgpu can see on this machine, for `tews info`.
pub fn list_adapters() -> Vec<AdapterInfoLine> {
    enumerate(&new_instance()).iter().map(info_line).collect()
}

/// Preference among adapter kinds: lower is better.
fn kind_rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    }
}

/// An open GPU device with its queue and limits.
pub struct GpuContext {
    /// Kept alive for the device's lifetime.
    _instance: wgpu::Instance,
    adapter: wgpu::Adapter,
    /// The device pipelines and buffers are made on.
    pub device: wgpu::Device,
    /// The queue work is submitted to.
    pub queue: wgpu::Queue,
    info: AdapterInfoLine,
    limits: GpuLimits,
    /// The first error wgpu reported outside an error scope, or the device
    /// loss: set by wgpu's callbacks (which would otherwise panic), read by
    /// the chain after each submission so a fault becomes a CPU fallback.
    fault: Arc<Mutex<Option<String>>>,
    timestamps: bool,
    /// Pipelines made so far, by stage file, entry point and constants:
    /// plans of the same shape (and Bluestein's inner transforms, shared by
    /// many lengths) compile once.
    pipelines: Mutex<PipelineCache>,
}

/// Stage file, entry point, and the constants' names and values (as bits).
type PipelineKey = (&'static str, String, Vec<(String, u64)>);

#[derive(Default)]
struct PipelineCache {
    modules: std::collections::HashMap<&'static str, wgpu::ShaderModule>,
    pipelines: std::collections::HashMap<PipelineKey, wgpu::ComputePipeline>,
}

impl fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.info)
            .finish_non_exhaustive()
    }
}

impl GpuContext {
    /// Opens a device on the adapter `options` selects, requesting the
    /// adapter's own limits (not WebGPU's defaults) so that kernels can use
    /// what the hardware offers.
    pub fn new(options: &GpuOptions) -> Result<Self, GpuError> {
        let instance = new_instance();
        let adapters = enumerate(&instance);
        let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
        let filter = options.adapter_filter.as_ref().map(|f| f.to_lowercase());
        let adapter = adapters
            .into_iter()
            .filter(|a| {
                filter
                    .as_ref()
                    .is_none_or(|f| a.get_info().name.to_lowercase().contains(f))
            })
            .min_by_key(|a| kind_rank(a.get_info().device_type))
            .ok_or_else(|| GpuError::NoAdapter {
                filter: options.adapter_filter.clone(),
                found: names,
            })?;
        let info = info_line(&adapter);
        let limits = info.limits;
        if let Some((limit, have, need)) = limits.first_shortfall() {
            return Err(GpuError::LimitsInsufficient {
                adapter: info.name,
                limit,
                have,
                need,
                what: "tews".into(),
            });
        }
        // Per-stage kernel times for `tews bench`, where the adapter has them.
        let timestamps = adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY);
        let required_features = if timestamps {
            wgpu::Features::TIMESTAMP_QUERY
        } else {
            wgpu::Features::empty()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("tews"),
            required_features,
            required_limits: adapter.limits(),
            ..Default::default()
        }))
        .map_err(|e| GpuError::RequestDevice {
            adapter: info.name.clone(),
            reason: one_line(&e.to_string()),
        })?;
        tracing::debug!("GPU device open on {info}");
        let fault: Arc<Mutex<Option<String>>> = Arc::default();
        let sink = fault.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let text = one_line(&e.to_string());
            tracing::error!("GPU error: {text}");
            let mut f = sink.lock().unwrap_or_else(|p| p.into_inner());
            f.get_or_insert(text);
        }));
        let sink = fault.clone();
        device.set_device_lost_callback(move |reason, message| {
            let text = format!("device lost ({reason:?}): {}", one_line(&message));
            let mut f = sink.lock().unwrap_or_else(|p| p.into_inner());
            f.get_or_insert(text);
        });
        Ok(GpuContext {
            _instance: instance,
            adapter,
            device,
            queue,
            info,
            limits,
            fault,
            timestamps,
            pipelines: Mutex::default(),
        })
    }

    /// The compute pipeline of `entry` in stage `file` with the override
    /// `constants` (auto layout), made once per context and then shared.
    pub fn compute_pipeline(
        &self,
        file: &'static str,
        entry: &str,
        constants: &[(&str, f64)],
    ) -> Result<wgpu::ComputePipeline, GpuError> {
        let key: PipelineKey = (
            file,
            entry.to_string(),
            constants
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_bits()))
                .collect(),
        );
        let mut cache = self.pipelines.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = cache.pipelines.get(&key) {
            return Ok(p.clone());
        }
        let module = match cache.modules.get(file) {
            Some(m) => m.clone(),
            None => {
                let m = super::shaders::module(self, file)?;
                cache.modules.insert(file, m.clone());
                m
            }
        };
        let pipeline = self.checked(&format!("pipeline {file} {entry}"), || {
            self.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(entry),
                    layout: None,
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants,
                        // Every kernel writes its workgroup memory before
                        // reading it.
                        zero_initialize_workgroup_memory: false,
                    },
                    cache: None,
                })
        })?;
        cache.pipelines.insert(key, pipeline.clone());
        Ok(pipeline)
    }

    /// The adapter this context runs on.
    pub fn adapter_info(&self) -> &AdapterInfoLine {
        &self.info
    }

    /// The wgpu adapter (for features beyond this module).
    pub fn adapter(&self) -> &wgpu::Adapter {
        &self.adapter
    }

    /// The limits the device was opened with.
    pub fn limits(&self) -> &GpuLimits {
        &self.limits
    }

    /// True when the device was opened with `TIMESTAMP_QUERY`.
    pub fn has_timestamps(&self) -> bool {
        self.timestamps
    }

    /// The first uncaptured wgpu error or the device loss, if any happened:
    /// once set the device is not trusted again.
    pub fn fault(&self) -> Option<String> {
        self.fault.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Fails like a real device loss would (tests of the CPU fallback).
    #[doc(hidden)]
    pub fn destroy_for_test(&self) {
        self.device.destroy();
    }

    /// Runs `make` inside a validation and an out-of-memory error scope, so
    /// that a bad pipeline or buffer is an error value, not a panic.
    pub fn checked<T>(&self, what: &str, make: impl FnOnce() -> T) -> Result<T, GpuError> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let value = make();
        let v = pollster::block_on(validation.pop());
        let o = pollster::block_on(oom.pop());
        match v.or(o) {
            None => Ok(value),
            Some(e) => Err(GpuError::Device {
                what: what.to_string(),
                reason: one_line(&e.to_string()),
            }),
        }
    }

    /// Blocks until all submitted work is done.
    pub fn wait_idle(&self) -> Result<(), GpuError> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| GpuError::Device {
                what: "wait".into(),
                reason: one_line(&e.to_string()),
            })
    }
}

/// wgpu messages span lines; errors here are one line.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
