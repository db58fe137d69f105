// Corner turn with the Doppler window: pulse-major compressed pulses
// (P rows of M, the first N of each valid) into range-major rows of P,
// each value times window[pulse]. The Doppler FFT (fft.wgsl, batch N of
// length P) then runs on contiguous rows.
// CPU twin: the corner turn in src/process/cpu/doppler.rs.
//
// Transpose rather than a strided FFT: it reuses the tested batched FFT
// unchanged, and a 16 x 16 tile through workgroup memory keeps both the
// reads (along range) and the writes (along pulses) contiguous.

@group(0) @binding(0) var<uniform> params: ChainParams;
@group(0) @binding(1) var<storage, read> compressed: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> window: array<f32>;
@group(0) @binding(3) var<storage, read_write> turned: array<vec2<f32>>;

const TILE: u32 = 16u;

// One padding column so the transposed reads hit distinct banks.
var<workgroup> tile: array<array<vec2<f32>, 17>, 16>;

@compute @workgroup_size(16, 16)
fn main(
    @builtin(local_invocation_id) l: vec3<u32>,
    @builtin(workgroup_id) w: vec3<u32>,
) {
    let p = params.pulses;
    let n = params.samples;
    let r0 = w.x * TILE;
    let m0 = w.y * TILE;
    let r = r0 + l.x;
    let m = m0 + l.y;
    if r < n && m < p {
        tile[l.y][l.x] = compressed[m * params.fft_len + r] * window[m];
    }
    workgroupBarrier();
    let r2 = r0 + l.y;
    let m2 = m0 + l.x;
    if r2 < n && m2 < p {
        turned[r2 * p + m2] = tile[l.x][l.y];
    }
}
