//! Pure DSP math shared by the CPU and GPU backends: no I/O, no wgpu.
