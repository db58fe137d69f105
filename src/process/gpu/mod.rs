//! The GPU processing backend on wgpu: a device context, and one file per
//! stage mirroring `shaders/<stage>.wgsl`. Stages make their pipelines,
//! bind groups and buffers once per plan and *record* their dispatches into
//! a caller's command encoder, so a chain of stages runs as one submission.
//!
//! So far: the device context ([`context`]) and the batched FFT ([`fft`]);
//! the other stages and the [`crate::process::Backend`] follow.

pub mod context;
pub mod fft;
pub mod shaders;

pub use context::{AdapterInfoLine, GpuContext, GpuError, GpuLimits, GpuOptions, list_adapters};
