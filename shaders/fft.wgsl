// Batched complex FFT, Stockham autosort (natural order in and out),
// radix 4 with one radix-2 pass first when log2(N) is odd.
//
// Pass with stride ns (1, then x2 or x4 each pass), butterfly j in 0..N/R:
//   v[r]  = x[j + r*N/R] * w^(r * (j mod ns) * N/(ns*R)),  w = exp(SIGN*2*pi*i/N)
//   y[(j/ns)*ns*R + (j mod ns) + r*ns] = DFT_R(v)[r]
// Twiddles come from a host table computed in f64 (`tw[k] = w^k`).
// The inverse is unnormalised (as rustfft's): SIGN = +1.
//
// Two kernels, chosen by the host plan (src/process/gpu/fft.rs):
// - fft_shared: one dispatch, all passes in workgroup memory, FFTS_PER_GROUP
//   transforms per workgroup, THREADS per transform, each thread holding at
//   most 16 values (4 radix-4 or 8 radix-2 butterflies) between barriers.
// - fft_global_radix4 / fft_global_radix2: one dispatch per pass through
//   global memory, for sizes beyond the workgroup storage.
// Each has a *_filtered twin that multiplies its output by filt[k]; the
// plan uses it for the last pass only (pulse compression fuses the
// spectrum product into the forward FFT this way).

// Transform length N (power of two).
override N: u32 = 1024u;
// log2(N).
override LOG2N: u32 = 10u;
// Transforms in the batch.
override BATCH: u32 = 1u;
// -1: forward, +1: inverse.
override SIGN: f32 = -1.0;
// Workgroup size in x of the kernel.
override WG: u32 = 64u;
// fft_shared only: threads per transform (>= N/16), transforms per
// workgroup (WG = THREADS * FFTS_PER_GROUP), and N * FFTS_PER_GROUP.
override THREADS: u32 = 64u;
override FFTS_PER_GROUP: u32 = 1u;
// (Small default: the global kernels do not use `sh`.)
override SHARED_LEN: u32 = 64u;

// Keep in sync with FftPassParams in src/process/gpu/fft.rs.
struct FftPassParams {
    // Stride of this pass (product of the radices of the passes before it).
    ns: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> src: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> tw: array<vec2<f32>>;
// *_filtered kernels only: per-bin factor applied to the output (the
// matched filter's conj(replica spectrum) / N, see src/process/gpu/fft.rs).
@group(0) @binding(4) var<storage, read> filt: array<vec2<f32>>;

// Radix-4 DFT of (a, b, c, d), in place; SIGN selects the direction.
fn dft4(v: ptr<function, array<vec2<f32>, 4>>) {
    let a0 = (*v)[0] + (*v)[2];
    let a1 = (*v)[0] - (*v)[2];
    let a2 = (*v)[1] + (*v)[3];
    let a3 = quarter_turn((*v)[1] - (*v)[3], SIGN);
    (*v)[0] = a0 + a2;
    (*v)[1] = a1 + a3;
    (*v)[2] = a0 - a2;
    (*v)[3] = a1 - a3;
}

// ---------------------------------------------------------------- shared

var<workgroup> sh: array<vec2<f32>, SHARED_LEN>;

// One radix-2 pass (stride 1) on the transform at sh[base..base+N].
fn shared_radix2(base: u32, tid: u32) {
    let half = N / 2u;
    var v: array<vec2<f32>, 16>;
    var k = 0u;
    for (var j = tid; j < half; j += THREADS) {
        v[k] = sh[base + j];
        v[k + 1u] = sh[base + j + half];
        k += 2u;
    }
    workgroupBarrier();
    k = 0u;
    for (var j = tid; j < half; j += THREADS) {
        // ns = 1: no twiddle; output index 2j, 2j+1.
        sh[base + 2u * j] = v[k] + v[k + 1u];
        sh[base + 2u * j + 1u] = v[k] - v[k + 1u];
        k += 2u;
    }
    workgroupBarrier();
}

// One radix-4 pass with stride ns on the transform at sh[base..base+N].
fn shared_radix4(base: u32, tid: u32, ns: u32) {
    let q = N / 4u;
    let tw_step = N / (ns * 4u);
    var v: array<vec2<f32>, 16>;
    var k = 0u;
    for (var j = tid; j < q; j += THREADS) {
        for (var r = 0u; r < 4u; r++) {
            v[k + r] = sh[base + j + r * q];
        }
        k += 4u;
    }
    workgroupBarrier();
    k = 0u;
    for (var j = tid; j < q; j += THREADS) {
        let m = j % ns;
        var b: array<vec2<f32>, 4>;
        b[0] = v[k];
        for (var r = 1u; r < 4u; r++) {
            b[r] = cmul(v[k + r], tw[r * m * tw_step]);
        }
        dft4(&b);
        let d = base + (j / ns) * ns * 4u + m;
        for (var r = 0u; r < 4u; r++) {
            sh[d + r * ns] = b[r];
        }
        k += 4u;
    }
    workgroupBarrier();
}

// Loads transform `fft` into sh[base..base+N] and runs every pass on it.
fn shared_transform(tid: u32, base: u32, g: u32, in_batch: bool) {
    for (var i = tid; i < N; i += THREADS) {
        if in_batch {
            sh[base + i] = src[g + i];
        }
    }
    workgroupBarrier();
    var ns = 1u;
    if (LOG2N & 1u) == 1u {
        shared_radix2(base, tid);
        ns = 2u;
    }
    while ns < N {
        shared_radix4(base, tid, ns);
        ns *= 4u;
    }
}

@compute @workgroup_size(WG)
fn fft_shared(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let slot = lid / THREADS;
    let tid = lid % THREADS;
    let fft = linear_group(wid, nwg) * FFTS_PER_GROUP + slot;
    // Idle slots of the last workgroup still meet every barrier.
    let in_batch = fft < BATCH;
    let base = slot * N;
    let g = fft * N;
    shared_transform(tid, base, g, in_batch);
    for (var i = tid; i < N; i += THREADS) {
        if in_batch {
            dst[g + i] = sh[base + i];
        }
    }
}

// fft_shared with the output multiplied by filt[k] (k the frequency bin):
// the matched filter's spectrum product fused into the forward FFT's store.
@compute @workgroup_size(WG)
fn fft_shared_filtered(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let slot = lid / THREADS;
    let tid = lid % THREADS;
    let fft = linear_group(wid, nwg) * FFTS_PER_GROUP + slot;
    let in_batch = fft < BATCH;
    let base = slot * N;
    let g = fft * N;
    shared_transform(tid, base, g, in_batch);
    for (var i = tid; i < N; i += THREADS) {
        if in_batch {
            dst[g + i] = cmul(sh[base + i], filt[i]);
        }
    }
}

// ---------------------------------------------------------------- global

@group(0) @binding(3) var<uniform> pass_params: FftPassParams;

// One radix-4 butterfly: its four outputs and where the first goes in the
// transform (the others follow at stride ns).
struct Butterfly4 {
    v: array<vec2<f32>, 4>,
    // Index within the transform of output 0.
    k: u32,
}

fn butterfly4(g: u32, j: u32) -> Butterfly4 {
    let q = N / 4u;
    let ns = pass_params.ns;
    let m = j % ns;
    let tw_step = N / (ns * 4u);
    var b: array<vec2<f32>, 4>;
    b[0] = src[g + j];
    for (var r = 1u; r < 4u; r++) {
        b[r] = cmul(src[g + j + r * q], tw[r * m * tw_step]);
    }
    dft4(&b);
    return Butterfly4(b, (j / ns) * ns * 4u + m);
}

// One thread per radix-4 butterfly over the whole batch.
@compute @workgroup_size(WG)
fn fft_global_radix4(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let q = N / 4u;
    let t = linear_group(wid, nwg) * WG + lid;
    if t >= BATCH * q {
        return;
    }
    let g = (t / q) * N;
    let b = butterfly4(g, t % q);
    for (var r = 0u; r < 4u; r++) {
        dst[g + b.k + r * pass_params.ns] = b.v[r];
    }
}

// fft_global_radix4 with the output multiplied by filt (last pass only).
@compute @workgroup_size(WG)
fn fft_global_radix4_filtered(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let q = N / 4u;
    let t = linear_group(wid, nwg) * WG + lid;
    if t >= BATCH * q {
        return;
    }
    let g = (t / q) * N;
    let b = butterfly4(g, t % q);
    for (var r = 0u; r < 4u; r++) {
        let k = b.k + r * pass_params.ns;
        dst[g + k] = cmul(b.v[r], filt[k]);
    }
}

// One radix-2 butterfly: outputs a (at k) and b (at k + ns).
struct Butterfly2 {
    a: vec2<f32>,
    b: vec2<f32>,
    k: u32,
}

fn butterfly2(g: u32, j: u32) -> Butterfly2 {
    let half = N / 2u;
    let ns = pass_params.ns;
    let m = j % ns;
    let a = src[g + j];
    let b = cmul(src[g + j + half], tw[m * (N / (ns * 2u))]);
    return Butterfly2(a + b, a - b, (j / ns) * ns * 2u + m);
}

// One thread per radix-2 butterfly over the whole batch.
@compute @workgroup_size(WG)
fn fft_global_radix2(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let half = N / 2u;
    let t = linear_group(wid, nwg) * WG + lid;
    if t >= BATCH * half {
        return;
    }
    let g = (t / half) * N;
    let b = butterfly2(g, t % half);
    dst[g + b.k] = b.a;
    dst[g + b.k + pass_params.ns] = b.b;
}

// fft_global_radix2 with the output multiplied by filt (last pass only).
@compute @workgroup_size(WG)
fn fft_global_radix2_filtered(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let half = N / 2u;
    let t = linear_group(wid, nwg) * WG + lid;
    if t >= BATCH * half {
        return;
    }
    let g = (t / half) * N;
    let b = butterfly2(g, t % half);
    let k2 = b.k + pass_params.ns;
    dst[g + b.k] = cmul(b.a, filt[b.k]);
    dst[g + k2] = cmul(b.b, filt[k2]);
}
