// Sample conversion: the detection channel's P x N samples, as uploaded,
// into P rows of M complex f32 (zero-padded for the fast convolution).
// CPU twin: the copy into the FFT buffer in src/process/cpu/pulse_compression.rs
// (and the ci16 decode in src/ingest/sigmf.rs).
//
// convert_cf32: interleaved f32 pairs; counts non-finite samples into
//   list.non_finite (the CPI is then rejected, as the CPU chain does).
// convert_ci16: ci16 pairs packed in one u32 (I in the low half, Q in the
//   high half: little-endian host order), times params.sample_scale. Half
//   the bytes of cf32 over the bus; an i16 is exact in f32 and the scale a
//   power of two, so the result equals the CPU's decode bit for bit.

@group(0) @binding(0) var<uniform> params: ChainParams;
@group(0) @binding(1) var<storage, read> src_cf32: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> src_ci16: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> list: DetectionList;

const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn convert_cf32(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let t = linear_group(wid, nwg) * WG + lid;
    let m = params.fft_len;
    if t >= params.pulses * m {
        return;
    }
    let n = t % m;
    var v = vec2<f32>(0.0, 0.0);
    if n < params.samples {
        v = src_cf32[(t / m) * params.samples + n];
        if !(is_finite(v.x) && is_finite(v.y)) {
            atomicAdd(&list.non_finite, 1u);
            v = vec2<f32>(0.0, 0.0);
        }
    }
    dst[t] = v;
}

@compute @workgroup_size(WG)
fn convert_ci16(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let t = linear_group(wid, nwg) * WG + lid;
    let m = params.fft_len;
    if t >= params.pulses * m {
        return;
    }
    let n = t % m;
    var v = vec2<f32>(0.0, 0.0);
    if n < params.samples {
        let w = src_ci16[(t / m) * params.samples + n];
        v = ci16_counts(w) * params.sample_scale;
    }
    dst[t] = v;
}
