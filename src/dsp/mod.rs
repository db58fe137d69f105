//! Pure DSP math shared by the CPU and GPU backends: no I/O, no wgpu.
//!
//! Everything here is deterministic arithmetic that can be checked against
//! theory (detection-theory.md) or a hand calculation.

pub mod cfar;
pub mod waveform;
pub mod window;
