// FFT shift and square-law power: the Doppler spectra (range-major rows
// of P) into the range-Doppler power map, zero Doppler at bin P/2.
// CPU twin: the shift and norm_sqr in src/process/cpu/doppler.rs.

@group(0) @binding(0) var<uniform> params: ChainParams;
@group(0) @binding(1) var<storage, read> spectrum: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> power: array<f32>;

const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let t = linear_group(wid, nwg) * WG + lid;
    let p = params.pulses;
    if t >= p * params.samples {
        return;
    }
    let d = t % p;
    // out[d] = in[(d + shift) % P], shift = P - P/2 (numpy.fft.fftshift).
    let k = (d + p - p / 2u) % p;
    let z = spectrum[t - d + k];
    power[t] = z.x * z.x + z.y * z.y;
}
