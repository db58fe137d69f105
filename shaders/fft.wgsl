// Batched complex FFT of any length: Stockham autosort (natural order in
// and out) with mixed radices 2, 3, 4, 5, 7 and 8, and Bluestein's chirp-z
// (through a power-of-two FFT) for lengths with other prime factors.
//
// Pass with stride ns (1, then times each pass's radix R), butterfly j in 0..N/R:
//   v[r]  = x[j + r*N/R] * w^(r * (j mod ns) * N/(ns*R)),  w = exp(SIGN*2*pi*i/N)
//   y[(j/ns)*ns*R + (j mod ns) + r*ns] = DFT_R(v)[r]
// Twiddles come from a host table computed in f64 (`tw[k] = w^k`); the
// radix-R DFT's own roots are w^(N/R * s), from the same table.
// The inverse is unnormalised (as rustfft's): SIGN = +1.
//
// Kernels, chosen by the host plan (src/process/gpu/fft.rs):
// - fft_shared: one dispatch, every pass in workgroup memory, FFTS_PER_GROUP
//   transforms per workgroup, THREADS per transform, each thread holding
//   at most 24 values between barriers. The radices, first pass first, are
//   packed four bits each into RADICES.
// - fft_columns / fft_rows: the two dispatches of a four-step transform,
//   each in workgroup memory, for lengths beyond one workgroup's memory
//   that split into two factors that fit.
// - fft_global: one dispatch per pass through global memory (radix RADIX,
//   stride from the pass uniform), where no split fits.
// - bluestein_pre / bluestein_post: around a power-of-two FFT of length
//   M_LEN >= 2N - 1 (two more plans, built by the host):
//   a[n] = x[n] * c[n] (n < N; zero up to M_LEN), A = FFT(a) * filt,
//   conv = IFFT(A), X[k] = conv[k] * c[k], where c[n] = exp(SIGN*pi*i*n^2/N)
//   and filt = FFT(b) / M_LEN, b[m] = conj(c[|m|]) for |m| < N (wrapped).
// The *_filtered twins multiply their output by filt[k] (the plan uses it
// for the last dispatch only: pulse compression fuses the spectrum
// product into the forward FFT this way).

// Transform length N.
override N: u32 = 1024u;
// Transforms in the batch.
override BATCH: u32 = 1u;
// -1: forward, +1: inverse.
override SIGN: f32 = -1.0;
// Workgroup size in x of the kernel.
override WG: u32 = 64u;
// fft_shared only: threads per transform, transforms per workgroup (WG =
// THREADS * FFTS_PER_GROUP), N * FFTS_PER_GROUP, and the radices.
override THREADS: u32 = 64u;
override FFTS_PER_GROUP: u32 = 1u;
// (Small default: the other kernels do not use `sh`.)
override SHARED_LEN: u32 = 64u;
override RADICES: u32 = 4u;
// fft_global only: the pass's radix.
override RADIX: u32 = 4u;
// bluestein_* only: the inner power-of-two length.
override M_LEN: u32 = 2u;

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
// matched filter's conj(replica spectrum) / N, see src/process/gpu/fft.rs;
// Bluestein's FFT(b) / M_LEN).
@group(0) @binding(4) var<storage, read> filt: array<vec2<f32>>;
// bluestein_* only: c[n], n < N.
@group(0) @binding(5) var<storage, read> chirp: array<vec2<f32>>;

// Radix-4 DFT of v[0..4], in place; SIGN selects the direction.
fn dft4(v: ptr<function, array<vec2<f32>, 8>>, o: u32, s: u32) {
    let x0 = (*v)[o];
    let x1 = (*v)[o + s];
    let x2 = (*v)[o + 2u * s];
    let x3 = (*v)[o + 3u * s];
    let a0 = x0 + x2;
    let a1 = x0 - x2;
    let a2 = x1 + x3;
    let a3 = quarter_turn(x1 - x3, SIGN);
    (*v)[o] = a0 + a2;
    (*v)[o + s] = a1 + a3;
    (*v)[o + 2u * s] = a0 - a2;
    (*v)[o + 3u * s] = a1 - a3;
}

const HALF_SQRT2: f32 = 0.70710678118654752;
const HALF_SQRT3: f32 = 0.86602540378443865;

// Radix-R DFT of v[0..R], in place: 2, 3, 4, 8 written out, 5 and 7 from
// the twiddle table (w^(N/R * s) are the R-th roots of unity).
fn dft(v: ptr<function, array<vec2<f32>, 8>>, r: u32) {
    switch r {
        case 2u: {
            let a = (*v)[0];
            let b = (*v)[1];
            (*v)[0] = a + b;
            (*v)[1] = a - b;
        }
        case 3u: {
            let a = (*v)[0];
            let t = (*v)[1] + (*v)[2];
            let u = quarter_turn((*v)[1] - (*v)[2], SIGN) * HALF_SQRT3;
            let m = a - 0.5 * t;
            (*v)[0] = a + t;
            (*v)[1] = m + u;
            (*v)[2] = m - u;
        }
        case 4u: {
            dft4(v, 0u, 1u);
        }
        case 8u: {
            // Even and odd samples: two radix-4 DFTs, then one radix-2 layer.
            var e: array<vec2<f32>, 8>;
            for (var k = 0u; k < 4u; k++) {
                e[k] = (*v)[2u * k];
                e[k + 4u] = (*v)[2u * k + 1u];
            }
            dft4(&e, 0u, 1u);
            dft4(&e, 4u, 1u);
            let w1 = vec2<f32>(HALF_SQRT2, SIGN * HALF_SQRT2);
            let w3 = vec2<f32>(-HALF_SQRT2, SIGN * HALF_SQRT2);
            let o0 = e[4];
            let o1 = cmul(e[5], w1);
            let o2 = quarter_turn(e[6], SIGN);
            let o3 = cmul(e[7], w3);
            (*v)[0] = e[0] + o0;
            (*v)[4] = e[0] - o0;
            (*v)[1] = e[1] + o1;
            (*v)[5] = e[1] - o1;
            (*v)[2] = e[2] + o2;
            (*v)[6] = e[2] - o2;
            (*v)[3] = e[3] + o3;
            (*v)[7] = e[3] - o3;
        }
        default: {
            let step = N / r;
            var out: array<vec2<f32>, 8>;
            for (var k = 0u; k < r; k++) {
                var acc = (*v)[0];
                for (var s = 1u; s < r; s++) {
                    acc += cmul((*v)[s], tw[step * ((k * s) % r)]);
                }
                out[k] = acc;
            }
            for (var k = 0u; k < r; k++) {
                (*v)[k] = out[k];
            }
        }
    }
}

// ---------------------------------------------------------------- shared

var<workgroup> sh: array<vec2<f32>, SHARED_LEN>;

// Values a thread holds in one pass: R * ceil(N / (R * THREADS)) with
// THREADS >= N / 16 is at most 21 (R = 7).
const HELD: u32 = 24u;

// One radix-r pass with stride ns on the transform at sh[base..base+N].
fn shared_pass(base: u32, tid: u32, ns: u32, r: u32) {
    let q = N / r;
    let tw_step = N / (ns * r);
    var v: array<vec2<f32>, HELD>;
    var k = 0u;
    for (var j = tid; j < q; j += THREADS) {
        for (var i = 0u; i < r; i++) {
            v[k + i] = sh[base + j + i * q];
        }
        k += r;
    }
    workgroupBarrier();
    k = 0u;
    for (var j = tid; j < q; j += THREADS) {
        let m = j % ns;
        var b: array<vec2<f32>, 8>;
        b[0] = v[k];
        for (var i = 1u; i < r; i++) {
            b[i] = cmul(v[k + i], tw[i * m * tw_step]);
        }
        dft(&b, r);
        let d = base + (j / ns) * ns * r + m;
        for (var i = 0u; i < r; i++) {
            sh[d + i * ns] = b[i];
        }
        k += r;
    }
    workgroupBarrier();
}

// Every pass on the transform at sh[base..base+N].
fn shared_passes(base: u32, tid: u32) {
    var ns = 1u;
    var radices = RADICES;
    while radices != 0u {
        let r = radices & 15u;
        shared_pass(base, tid, ns, r);
        ns *= r;
        radices >>= 4u;
    }
}

// Loads transform `fft` into sh[base..base+N] and runs every pass on it.
fn shared_transform(tid: u32, base: u32, g: u32, in_batch: bool) {
    for (var i = tid; i < N; i += THREADS) {
        if in_batch {
            sh[base + i] = src[g + i];
        }
    }
    workgroupBarrier();
    shared_passes(base, tid);
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

// ------------------------------------------------------------- four-step
// A long transform of length L = N1 * N2 (one BLOCK of the batch) as two
// workgroup-memory dispatches: fft_columns, N2 transforms of length N1
// down the columns (n = n2 + N2 * n1), each output k1 times w_L^(n2 k1),
// stored back in place; then fft_rows, N1 transforms of length N2 along
// the rows, output k2 stored at k1 + N1 * k2 (natural order). Overrides:
// transform t of the batch lies in block t / TPB as its j = t % TPB;
// element i at j * IN_T + i * IN_E of the block, output k at
// j * OUT_T + k * OUT_E.

override TPB: u32 = 1u;
override BLOCK: u32 = 1u;
override IN_T: u32 = 1u;
override IN_E: u32 = 1u;
override OUT_T: u32 = 1u;
override OUT_E: u32 = 1u;
// fft_rows only: outputs stored per block (the rest are not); BLOCK: all.
override KEEP: u32 = 4294967295u;

// fft_columns only: tw2[m] = w_L^m, m < L.
@group(0) @binding(6) var<storage, read> tw2: array<vec2<f32>>;

// Slot (transform of the workgroup) and element of load/store step e: the
// element index runs fastest when elements are contiguous in memory, the
// slot when the transforms are (so neighbouring threads touch neighbouring
// addresses either way).
fn strided_slot_elem(e: u32, elem_stride: u32) -> vec2<u32> {
    if elem_stride == 1u {
        return vec2<u32>(e / N, e % N);
    }
    return vec2<u32>(e % FFTS_PER_GROUP, e / FFTS_PER_GROUP);
}

// Loads the workgroup's transforms (from transform `first`) and runs every
// pass on them.
fn strided_transform(lid: u32, first: u32) {
    for (var e = lid; e < N * FFTS_PER_GROUP; e += WG) {
        let se = strided_slot_elem(e, IN_E);
        let t = first + se.x;
        if t < BATCH {
            sh[se.x * N + se.y] = src[(t / TPB) * BLOCK + (t % TPB) * IN_T + se.y * IN_E];
        }
    }
    workgroupBarrier();
    shared_passes((lid / THREADS) * N, lid % THREADS);
}

// fft_columns' store: output k1 of transform t times tw2[j k1], at its
// place in the block.
fn columns_store(lid: u32, first: u32) {
    for (var e = lid; e < N * FFTS_PER_GROUP; e += WG) {
        let se = strided_slot_elem(e, OUT_E);
        let t = first + se.x;
        if t < BATCH {
            let j = t % TPB;
            let v = cmul(sh[se.x * N + se.y], tw2[j * se.y]);
            dst[(t / TPB) * BLOCK + j * OUT_T + se.y * OUT_E] = v;
        }
    }
}

@compute @workgroup_size(WG)
fn fft_columns(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let first = linear_group(wid, nwg) * FFTS_PER_GROUP;
    strided_transform(lid, first);
    columns_store(lid, first);
}

// The chain's first dispatch (src/process/gpu/convolution.rs): fft_columns
// loading the uploaded samples themselves, VALID a row, zero beyond (the
// fast convolution's padding), so no padded copy is written or read. The
// conversion is convert.wgsl's, operation for operation: cf32 counts a
// non-finite sample into list.non_finite and uses 0 (the CPI is then
// rejected); ci16 sign-extends both halves of the packed u32 and scales by
// params.sample_scale.
override VALID: u32 = 1u;
@group(0) @binding(7) var<storage, read_write> list: DetectionList;
@group(0) @binding(8) var<storage, read> src_ci16: array<u32>;
@group(0) @binding(9) var<uniform> params: ChainParams;

// Uploaded cf32 sample i, with a non-finite one counted into the list and
// zeroed (the CPU rejects such a CPI; so does the host on the count).
fn cf32_sample(i: u32) -> vec2<f32> {
    let v = src[i];
    if !(is_finite(v.x) && is_finite(v.y)) {
        atomicAdd(&list.non_finite, 1u);
        return vec2<f32>(0.0, 0.0);
    }
    return v;
}

// Uploaded ci16 sample i (one u32 of two counts), in the chain's scale.
fn ci16_sample(i: u32) -> vec2<f32> {
    return ci16_counts(src_ci16[i]) * params.sample_scale;
}

// Block and in-block index of load step e's element (as strided_transform).
fn columns_source(e: u32, first: u32) -> vec3<u32> {
    let se = strided_slot_elem(e, IN_E);
    let t = first + se.x;
    let n = (t % TPB) * IN_T + se.y * IN_E;
    return vec3<u32>(t, n, se.x * N + se.y);
}

@compute @workgroup_size(WG)
fn fft_columns_cf32(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let first = linear_group(wid, nwg) * FFTS_PER_GROUP;
    for (var e = lid; e < N * FFTS_PER_GROUP; e += WG) {
        let s = columns_source(e, first);
        if s.x < BATCH {
            var v = vec2<f32>(0.0, 0.0);
            if s.y < VALID {
                v = cf32_sample((s.x / TPB) * VALID + s.y);
            }
            sh[s.z] = v;
        }
    }
    workgroupBarrier();
    shared_passes((lid / THREADS) * N, lid % THREADS);
    columns_store(lid, first);
}

@compute @workgroup_size(WG)
fn fft_columns_ci16(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let first = linear_group(wid, nwg) * FFTS_PER_GROUP;
    for (var e = lid; e < N * FFTS_PER_GROUP; e += WG) {
        let s = columns_source(e, first);
        if s.x < BATCH {
            var v = vec2<f32>(0.0, 0.0);
            if s.y < VALID {
                v = ci16_sample((s.x / TPB) * VALID + s.y);
            }
            sh[s.z] = v;
        }
    }
    workgroupBarrier();
    shared_passes((lid / THREADS) * N, lid % THREADS);
    columns_store(lid, first);
}

@compute @workgroup_size(WG)
fn fft_rows(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let first = linear_group(wid, nwg) * FFTS_PER_GROUP;
    strided_transform(lid, first);
    for (var e = lid; e < N * FFTS_PER_GROUP; e += WG) {
        let se = strided_slot_elem(e, OUT_E);
        let t = first + se.x;
        let k = (t % TPB) * OUT_T + se.y * OUT_E;
        // KEEP < BLOCK: only the first KEEP outputs of a block are wanted
        // (the fast convolution's valid samples); the rest is not stored.
        if t < BATCH && k < KEEP {
            dst[(t / TPB) * BLOCK + k] = sh[se.x * N + se.y];
        }
    }
}

// fft_rows with the output multiplied by filt[k], k the frequency bin.
@compute @workgroup_size(WG)
fn fft_rows_filtered(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let first = linear_group(wid, nwg) * FFTS_PER_GROUP;
    strided_transform(lid, first);
    for (var e = lid; e < N * FFTS_PER_GROUP; e += WG) {
        let se = strided_slot_elem(e, OUT_E);
        let t = first + se.x;
        if t < BATCH {
            let k = (t % TPB) * OUT_T + se.y * OUT_E;
            dst[(t / TPB) * BLOCK + k] = cmul(sh[se.x * N + se.y], filt[k]);
        }
    }
}

// fft_rows_convolve: the middle of a four-step fast convolution, one row
// k1 = t % TPB per transform: the forward row transform over n2 (SIGN must
// be -1), times filt at the natural bin k1 + N1 k2, then the inverse row
// transform over k2 (as conj(FFT(conj(.)))) times conj(tw2[n2 k1]) =
// w_L^(-n2 k1), stored back in the row's place. The inverse column
// transform (fft_rows with SIGN +1 and column strides) then gives
// IFFT(FFT(x) * filt) in natural order: the forward spectrum is never
// written out.
@compute @workgroup_size(WG)
fn fft_rows_convolve(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let first = linear_group(wid, nwg) * FFTS_PER_GROUP;
    strided_transform(lid, first);
    for (var e = lid; e < N * FFTS_PER_GROUP; e += WG) {
        let slot = e / N;
        let k2 = e % N;
        let t = first + slot;
        if t < BATCH {
            let bin = (t % TPB) + k2 * TPB;
            sh[slot * N + k2] = conj(cmul(sh[slot * N + k2], filt[bin]));
        }
    }
    workgroupBarrier();
    shared_passes((lid / THREADS) * N, lid % THREADS);
    for (var e = lid; e < N * FFTS_PER_GROUP; e += WG) {
        let se = strided_slot_elem(e, OUT_E);
        let t = first + se.x;
        if t < BATCH {
            let j = t % TPB;
            let v = conj(cmul(sh[se.x * N + se.y], tw2[j * se.y]));
            dst[(t / TPB) * BLOCK + j * OUT_T + se.y * OUT_E] = v;
        }
    }
}

// fft_shared storing the power |X[k]|^2, FFT-shifted (zero frequency at
// N/2, as numpy.fft.fftshift: out[d] = in[(d + N - N/2) % N], so bin k goes
// to (k + N/2) % N), into power_out: the chain's Doppler FFT with its shift
// and square-law stage fused into the store. CPU twin: the shift and
// norm_sqr in src/process/cpu/doppler.rs (and shaders/power.wgsl, which
// runs instead when the Doppler FFT does not fit one workgroup).
@group(0) @binding(10) var<storage, read_write> power_out: array<f32>;

@compute @workgroup_size(WG)
fn fft_shared_power(
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
            let z = sh[base + i];
            power_out[g + (i + N / 2u) % N] = z.x * z.x + z.y * z.y;
        }
    }
}

// ------------------------------------------------- register-held convolution

// conv_registers*: the whole fast convolution IFFT(FFT(x) * filt) of one row
// of N points (a power of two) in one workgroup of THREADS, in one
// dispatch: the row is read once, the first KEEP outputs written once.
// Between passes each thread holds its N / THREADS values in registers;
// the exchange between passes goes through `ex`, N f32 (one component at a
// time, so N = 8192 needs 32 KB where complex values would need 64 KB).
//
// Thread tid holds, for a pass of radix r (q = N / r butterflies), the
// inputs of butterflies j = tid + b * THREADS, b < q / THREADS, input i of
// butterfly b in slot b * r + i (the Stockham pass's x[j + i * q]). A
// pass's last radix r_L leaves bin k = j + i * N / r_L in slot b * r_L + i,
// which is where the next transform's first pass wants its input when its
// first radix is r_L: the inverse runs the forward's radices in reverse
// order (RADICES_INV), so the filter is applied in registers and no
// exchange separates the two transforms. The inverse is conj(FFT(conj(.)))
// with the forward kernels (SIGN = -1). CPU twin: PulseCompressor in
// src/process/cpu/pulse_compression.rs (the same convolution).

override RADICES_INV: u32 = 4u;
override EX_LEN: u32 = 64u;
// Values a thread holds: N / THREADS <= 32 (the host plan ensures it).
const RHELD: u32 = 32u;

var<workgroup> ex: array<f32, EX_LEN>;

// The index a thread's held slot s stands for at the start of a pass of
// radix r, or at the end of a transform whose last radix is r: input i =
// s % r of butterfly j = tid + (s / r) * THREADS, x[j + i * N / r]. The
// row's samples before the forward's first pass (r1 = RADICES & 15) and
// after the inverse's last (the same radix), and the spectrum's bins
// between the two transforms.
fn reg_slot_index(tid: u32, s: u32, r: u32) -> u32 {
    return tid + (s / r) * THREADS + (s % r) * (N / r);
}

// The butterflies of one pass (stride ns, radix r) on the held values.
fn reg_pass(v: ptr<function, array<vec2<f32>, RHELD>>, tid: u32, ns: u32, r: u32) {
    let per = N / (r * THREADS);
    let tw_step = N / (ns * r);
    for (var b = 0u; b < per; b++) {
        let j = tid + b * THREADS;
        let m = j % ns;
        var x: array<vec2<f32>, 8>;
        x[0] = (*v)[b * r];
        for (var i = 1u; i < r; i++) {
            x[i] = cmul((*v)[b * r + i], tw[i * m * tw_step]);
        }
        dft(&x, r);
        for (var i = 0u; i < r; i++) {
            (*v)[b * r + i] = x[i];
        }
    }
}

// Moves the outputs of pass (ns, r) into the input slots of the next pass
// (radix r2), through `ex`: the real parts, then the imaginary parts.
fn reg_exchange(v: ptr<function, array<vec2<f32>, RHELD>>, tid: u32, ns: u32, r: u32, r2: u32) {
    let per = N / (r * THREADS);
    let per2 = N / (r2 * THREADS);
    let q2 = N / r2;
    for (var c = 0u; c < 2u; c++) {
        for (var b = 0u; b < per; b++) {
            let j = tid + b * THREADS;
            let d = (j / ns) * ns * r + j % ns;
            for (var i = 0u; i < r; i++) {
                let z = (*v)[b * r + i];
                ex[d + i * ns] = select(z.y, z.x, c == 0u);
            }
        }
        workgroupBarrier();
        for (var b = 0u; b < per2; b++) {
            let j = tid + b * THREADS;
            for (var i = 0u; i < r2; i++) {
                let e = ex[j + i * q2];
                let s = b * r2 + i;
                if c == 0u {
                    (*v)[s].x = e;
                } else {
                    (*v)[s].y = e;
                }
            }
        }
        workgroupBarrier();
    }
}

// Every pass of one transform (radices packed four bits each, first pass
// first), from the first pass's slots to the last pass's.
fn reg_transform(v: ptr<function, array<vec2<f32>, RHELD>>, tid: u32, radices: u32) {
    var ns = 1u;
    var rs = radices;
    loop {
        let r = rs & 15u;
        reg_pass(v, tid, ns, r);
        rs >>= 4u;
        if rs == 0u {
            break;
        }
        reg_exchange(v, tid, ns, r, rs & 15u);
        ns *= r;
    }
}

// The held row (in the first pass's slots): forward transform, times
// filt, inverse transform; the result is left in the inverse's last
// pass's slots (reg_store_rows / reg_store_chain store it).
fn reg_convolve(v: ptr<function, array<vec2<f32>, RHELD>>, tid: u32) {
    reg_transform(v, tid, RADICES);
    // The forward's last radix is the inverse's first.
    let rl = RADICES_INV & 15u;
    for (var s = 0u; s < N / THREADS; s++) {
        (*v)[s] = conj(cmul((*v)[s], filt[reg_slot_index(tid, s, rl)]));
    }
    reg_transform(v, tid, RADICES_INV);
}

// Stores the first KEEP samples of the row to dst's row.
fn reg_store_rows(v: ptr<function, array<vec2<f32>, RHELD>>, tid: u32, row: u32) {
    for (var s = 0u; s < N / THREADS; s++) {
        let n = reg_slot_index(tid, s, RADICES & 15u);
        if n < KEEP {
            dst[row * N + n] = conj((*v)[s]);
        }
    }
}

// The chain's store: as reg_store_rows, or with TURN = 1 already corner
// turned with the Doppler window (dst[n * BATCH + row] = x[n] * dwin[row],
// as doppler.wgsl's turn would make it: no turn dispatch, scattered
// stores).
override TURN: u32 = 0u;
@group(0) @binding(11) var<storage, read> dwin: array<f32>;
fn reg_store_chain(v: ptr<function, array<vec2<f32>, RHELD>>, tid: u32, row: u32) {
    let w = dwin[row];
    for (var s = 0u; s < N / THREADS; s++) {
        let n = reg_slot_index(tid, s, RADICES & 15u);
        if n < KEEP {
            if TURN == 1u {
                dst[n * BATCH + row] = conj((*v)[s]) * w;
            } else {
                dst[row * N + n] = conj((*v)[s]);
            }
        }
    }
}


// A padded batch (rows of N in src).
@compute @workgroup_size(WG)
fn conv_registers(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let row = linear_group(wid, nwg);
    if row >= BATCH {
        return;
    }
    var v: array<vec2<f32>, RHELD>;
    for (var s = 0u; s < N / THREADS; s++) {
        v[s] = src[row * N + reg_slot_index(lid, s, RADICES & 15u)];
    }
    reg_convolve(&v, lid);
    reg_store_rows(&v, lid, row);
}

// The chain's cf32 upload (VALID samples a row), converted and zero-padded
// on load as fft_columns_cf32 does (non-finite samples counted, zeroed).
@compute @workgroup_size(WG)
fn conv_registers_cf32(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let row = linear_group(wid, nwg);
    if row >= BATCH {
        return;
    }
    var v: array<vec2<f32>, RHELD>;
    for (var s = 0u; s < N / THREADS; s++) {
        let n = reg_slot_index(lid, s, RADICES & 15u);
        var z = vec2<f32>(0.0, 0.0);
        if n < VALID {
            z = cf32_sample(row * VALID + n);
        }
        v[s] = z;
    }
    reg_convolve(&v, lid);
    reg_store_chain(&v, lid, row);
}

// The chain's ci16 upload (one u32 a sample, VALID a row), scaled by the
// chain's uniform as fft_columns_ci16 does.
@compute @workgroup_size(WG)
fn conv_registers_ci16(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let row = linear_group(wid, nwg);
    if row >= BATCH {
        return;
    }
    var v: array<vec2<f32>, RHELD>;
    for (var s = 0u; s < N / THREADS; s++) {
        let n = reg_slot_index(lid, s, RADICES & 15u);
        var z = vec2<f32>(0.0, 0.0);
        if n < VALID {
            z = ci16_sample(row * VALID + n);
        }
        v[s] = z;
    }
    reg_convolve(&v, lid);
    reg_store_chain(&v, lid, row);
}

// ---------------------------------------------------------------- global

@group(0) @binding(3) var<uniform> pass_params: FftPassParams;

// One radix-RADIX butterfly: its outputs and where the first goes in the
// transform (the others follow at stride ns).
struct Butterfly {
    v: array<vec2<f32>, 8>,
    // Index within the transform of output 0.
    k: u32,
}

fn butterfly(g: u32, j: u32) -> Butterfly {
    let q = N / RADIX;
    let ns = pass_params.ns;
    let m = j % ns;
    let tw_step = N / (ns * RADIX);
    var b: array<vec2<f32>, 8>;
    b[0] = src[g + j];
    for (var r = 1u; r < RADIX; r++) {
        b[r] = cmul(src[g + j + r * q], tw[r * m * tw_step]);
    }
    dft(&b, RADIX);
    return Butterfly(b, (j / ns) * ns * RADIX + m);
}

// One thread per butterfly over the whole batch.
@compute @workgroup_size(WG)
fn fft_global(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let q = N / RADIX;
    let t = linear_group(wid, nwg) * WG + lid;
    if t >= BATCH * q {
        return;
    }
    let g = (t / q) * N;
    let b = butterfly(g, t % q);
    for (var r = 0u; r < RADIX; r++) {
        dst[g + b.k + r * pass_params.ns] = b.v[r];
    }
}

// fft_global with the output multiplied by filt (last pass only).
@compute @workgroup_size(WG)
fn fft_global_filtered(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let q = N / RADIX;
    let t = linear_group(wid, nwg) * WG + lid;
    if t >= BATCH * q {
        return;
    }
    let g = (t / q) * N;
    let b = butterfly(g, t % q);
    for (var r = 0u; r < RADIX; r++) {
        let k = b.k + r * pass_params.ns;
        dst[g + k] = cmul(b.v[r], filt[k]);
    }
}

// ------------------------------------------------------------- Bluestein

// a[b][n] = x[b][n] * c[n] for n < N, 0 up to M_LEN: one thread per a value.
@compute @workgroup_size(WG)
fn bluestein_pre(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let t = linear_group(wid, nwg) * WG + lid;
    if t >= BATCH * M_LEN {
        return;
    }
    let b = t / M_LEN;
    let n = t % M_LEN;
    var a = vec2<f32>(0.0, 0.0);
    if n < N {
        a = cmul(src[b * N + n], chirp[n]);
    }
    dst[t] = a;
}

// X[b][k] = conv[b][k] * c[k], k < N: one thread per output.
@compute @workgroup_size(WG)
fn bluestein_post(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let t = linear_group(wid, nwg) * WG + lid;
    if t >= BATCH * N {
        return;
    }
    let k = t % N;
    dst[t] = cmul(src[(t / N) * M_LEN + k], chirp[k]);
}

// bluestein_post with the output multiplied by filt[k].
@compute @workgroup_size(WG)
fn bluestein_post_filtered(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let t = linear_group(wid, nwg) * WG + lid;
    if t >= BATCH * N {
        return;
    }
    let k = t % N;
    dst[t] = cmul(cmul(src[(t / N) * M_LEN + k], chirp[k]), filt[k]);
}
