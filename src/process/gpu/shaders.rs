//! The WGSL sources, compiled into the binary, and the one include rule:
//! every stage file is prefixed with `shaders/common.wgsl`.

/// Shared helpers (complex arithmetic, dispatch indexing).
pub const COMMON: &str = include_str!("../../../shaders/common.wgsl");

/// Every stage file in `shaders/` as `(file name, source)`, without the
/// common prefix. A test checks this list against the directory.
pub const STAGES: &[(&str, &str)] = &[
    ("cfar.wgsl", include_str!("../../../shaders/cfar.wgsl")),
    (
        "convert.wgsl",
        include_str!("../../../shaders/convert.wgsl"),
    ),
    (
        "doppler.wgsl",
        include_str!("../../../shaders/doppler.wgsl"),
    ),
    ("fft.wgsl", include_str!("../../../shaders/fft.wgsl")),
    ("power.wgsl", include_str!("../../../shaders/power.wgsl")),
];

/// The full source of the stage `file` (`common.wgsl` + the stage), or
/// `None` for an unknown file.
pub fn source(file: &str) -> Option<String> {
    STAGES
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, text)| compose(text))
}

/// `common.wgsl` followed by `stage`, with a marker so that line numbers in
/// compiler messages can be traced back to the stage file.
pub fn compose(stage: &str) -> String {
    format!("{COMMON}\n// ---- stage file begins ----\n{stage}")
}

/// Makes the shader module of stage `file`.
pub(crate) fn module(
    ctx: &super::GpuContext,
    file: &str,
) -> Result<wgpu::ShaderModule, super::GpuError> {
    let text = source(file)
        .ok_or_else(|| super::GpuError::Plan(format!("no shader stage named {file}")))?;
    ctx.checked(&format!("shader {file}"), || {
        ctx.device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(file),
                source: wgpu::ShaderSource::Wgsl(text.into()),
            })
    })
}
