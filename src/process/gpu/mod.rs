//! The GPU processing backend on wgpu: a device context, and one file per
//! stage mirroring `shaders/<stage>.wgsl`. Stages make their pipelines,
//! bind groups and buffers once per plan and *record* their dispatches into
//! a caller's command encoder, so a chain of stages runs as one submission.
//!
//! [`context`]: device, queue, limits, fault capture. [`fft`]: the batched
//! Stockham FFT. [`chain`]: the whole detection chain ([`GpuChain`]) with
//! its ring of upload/readback slots. [`failover`]: [`GpuBackend`], the
//! chain streamed with the CPU chain behind it. [`layout`]: Rust twins of
//! the shared WGSL structs.

pub mod chain;
pub mod context;
pub mod convolution;
pub mod failover;
pub mod fft;
pub mod layout;
pub mod shaders;

pub use chain::{ChainRecipe, GpuChain, GpuChainOptions};
pub use context::{AdapterInfoLine, GpuContext, GpuError, GpuLimits, GpuOptions, list_adapters};
pub use failover::GpuBackend;

/// The first hardware adapter (anything but a CPU/software adapter such as
/// lavapipe), for `--backend auto`: a software Vulkan driver runs the
/// shaders on the same cores the CPU chain would use, only slower.
pub fn hardware_adapter() -> Option<AdapterInfoLine> {
    list_adapters()
        .into_iter()
        .filter(|a| a.device_type != "Cpu")
        .min_by_key(|a| match a.device_type.as_str() {
            "DiscreteGpu" => 0,
            "IntegratedGpu" => 1,
            "VirtualGpu" => 2,
            _ => 3,
        })
}
