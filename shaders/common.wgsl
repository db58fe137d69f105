// Shared by every tews compute stage; prepended to each stage file at
// pipeline creation (src/process/gpu/shaders.rs). Complex samples are
// interleaved vec2<f32> (re, im), the layout of rustfft's Complex32.

// Complex product a * b.
fn cmul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

// Complex conjugate.
fn conj(a: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x, -a.y);
}

// a * (s * i) for s = +1 or -1: a quarter turn, exact (no multiply error).
fn quarter_turn(a: vec2<f32>, s: f32) -> vec2<f32> {
    return vec2<f32>(-s * a.y, s * a.x);
}

// Linear workgroup index of a dispatch that may be split over x and y
// because it exceeds max_compute_workgroups_per_dimension.
fn linear_group(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}
