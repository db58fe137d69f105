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

// ------------------------------------------------------------ chain structs
// Shared by the detection-chain stages (convert, doppler, power, cfar).
// Each has a #[repr(C)] Rust twin in src/process/gpu/layout.rs ("keep in
// sync"); a test there checks sizes and offsets against this file.

// The chain's uniform: the CPI shape and the CFAR recipe of the ChainPlan.
struct ChainParams {
    // P: pulses per CPI (Doppler bins).
    pulses: u32,
    // N: samples per pulse (range bins).
    samples: u32,
    // M: fast-convolution FFT length (power of two >= N + L - 1).
    fft_len: u32,
    // ci16 input: full-scale factor (2^-15, or 1 for raw counts).
    sample_scale: f32,
    // CFAR cross window (CfarWindow).
    train_range: u32,
    guard_range: u32,
    train_doppler: u32,
    guard_doppler: u32,
    // 0 CA, 1 GO, 2 SO, 3 OS (CFAR_* below).
    cfar_kind: u32,
    // OS order k (1-based).
    os_k: u32,
    // Reference cells N_ref = 2 (train_range + train_doppler).
    reference_cells: u32,
    // Records the detection list holds; crossings beyond are only counted.
    capacity: u32,
    // Threshold multiplier: detect when cut > alpha * statistic.
    alpha: f32,
    // noise = statistic / noise_scale.
    noise_scale: f32,
    _pad0: u32,
    _pad1: u32,
}

const CFAR_CA: u32 = 0u;
const CFAR_GO: u32 = 1u;
const CFAR_SO: u32 = 2u;
const CFAR_OS: u32 = 3u;

// One threshold crossing, as process::Detection.
struct DetectionRecord {
    range_bin: u32,
    doppler_bin: u32,
    power: f32,
    noise: f32,
    // [range - 1, range + 1, doppler - 1, doppler + 1] (Doppler wraps;
    // a range neighbour outside the map is 0).
    neighbours: vec4<f32>,
}

// What comes back to the host per CPI: counters, then the bounded list.
struct DetectionList {
    // Crossings found (may exceed capacity: the overflow is count - capacity).
    count: atomic<u32>,
    // Non-finite input samples seen by the conversion (the CPI is rejected).
    non_finite: atomic<u32>,
    _pad0: u32,
    _pad1: u32,
    records: array<DetectionRecord>,
}

// True when x is neither NaN nor infinite (exponent not all ones).
fn is_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// A ci16 sample packed in one u32 (I in the low half, Q in the high half:
// little-endian host order), sign-extended, as f32 counts (exact).
fn ci16_counts(w: u32) -> vec2<f32> {
    let re = bitcast<i32>(w << 16u) >> 16u;
    let im = bitcast<i32>(w) >> 16u;
    return vec2<f32>(f32(re), f32(im));
}
