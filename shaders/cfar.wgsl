// 2-D CFAR over the power map and detection compaction: one invocation per
// tested cell; a crossing takes a slot of the bounded list through an
// atomic counter (crossings past the capacity are counted, not stored).
// CPU twin: src/process/cpu/cfar.rs, operation for operation:
// - cross window (CfarWindow): range cells r -/+ (guard_range + i), Doppler
//   cells d -/+ (guard_doppler + i), Doppler wrapping, range not (the host
//   dispatches only rows with the whole window inside the map);
// - CA / GO / SO: four partial sums in the CPU's order (range lead, range
//   lag, Doppler lead, Doppler lag; nearest cell first, from 0.0), then
//   lead = range_lead + dop_lead, lag = range_lag + dop_lag;
//   CA (lead + lag) / N_ref, GO max(lead, lag) / (N_ref / 2), SO min;
//   detect when cut > alpha * statistic;
// - OS: detect when at least k reference cells x have alpha * x < cut (the
//   same test as alpha * T_k < cut); the statistic is T_k, the k-th
//   smallest reference value, selected only for the cells that pass (by
//   bisection over the bit patterns: any window size);
// - noise = statistic / noise_scale.

@group(0) @binding(0) var<uniform> params: ChainParams;
@group(0) @binding(1) var<storage, read> power: array<f32>;
@group(0) @binding(2) var<storage, read_write> list: DetectionList;

const WG: u32 = 64u;

fn at(r: u32, d: u32) -> f32 {
    return power[r * params.pulses + d];
}

// Doppler bin d - off and d + off, wrapped (off <= P by the plan).
fn dop_lo(d: u32, off: u32) -> u32 {
    return (d + params.pulses - off) % params.pulses;
}
fn dop_hi(d: u32, off: u32) -> u32 {
    return (d + off) % params.pulses;
}

// How many reference cells of (r, d) have a bit pattern <= t.
fn count_at_most(r: u32, d: u32, t: u32) -> u32 {
    var n = 0u;
    for (var i = 1u; i <= params.train_range; i++) {
        let off = params.guard_range + i;
        n += u32(bitcast<u32>(at(r - off, d)) <= t);
        n += u32(bitcast<u32>(at(r + off, d)) <= t);
    }
    for (var i = 1u; i <= params.train_doppler; i++) {
        let off = params.guard_doppler + i;
        n += u32(bitcast<u32>(at(r, dop_lo(d, off))) <= t);
        n += u32(bitcast<u32>(at(r, dop_hi(d, off))) <= t);
    }
    return n;
}

// The k-th smallest (1-based) of the reference cells of (r, d), for any
// window size and without holding the cells: powers are finite and >= +0,
// whose IEEE bit patterns order as the values do, so the smallest pattern
// t with at least k cells <= t is exactly the k-th smallest value (a
// bisection over the patterns, 31 counting sweeps over the window).
fn kth_reference(r: u32, d: u32) -> f32 {
    var lo = 0u;
    var hi = 0x7f800000u;
    while lo < hi {
        let mid = lo + (hi - lo) / 2u;
        if count_at_most(r, d, mid) >= params.os_k {
            hi = mid;
        } else {
            lo = mid + 1u;
        }
    }
    return bitcast<f32>(lo);
}

@compute @workgroup_size(WG)
fn main(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let p = params.pulses;
    let margin = params.train_range + params.guard_range;
    let t = linear_group(wid, nwg) * WG + lid;
    if t >= (params.samples - 2u * margin) * p {
        return;
    }
    let r = margin + t / p;
    let d = t % p;
    let cut = at(r, d);
    var stat = 0.0;
    var hit = false;
    if params.cfar_kind == CFAR_OS {
        var below = 0u;
        for (var i = 1u; i <= params.train_range; i++) {
            let off = params.guard_range + i;
            below += u32(params.alpha * at(r - off, d) < cut);
            below += u32(params.alpha * at(r + off, d) < cut);
        }
        for (var i = 1u; i <= params.train_doppler; i++) {
            let off = params.guard_doppler + i;
            below += u32(params.alpha * at(r, dop_lo(d, off)) < cut);
            below += u32(params.alpha * at(r, dop_hi(d, off)) < cut);
        }
        hit = below >= params.os_k;
        if hit {
            stat = kth_reference(r, d);
        }
    } else {
        var range_lead = 0.0;
        var range_lag = 0.0;
        for (var i = 1u; i <= params.train_range; i++) {
            let off = params.guard_range + i;
            range_lead += at(r - off, d);
            range_lag += at(r + off, d);
        }
        var dop_lead = 0.0;
        var dop_lag = 0.0;
        for (var i = 1u; i <= params.train_doppler; i++) {
            let off = params.guard_doppler + i;
            dop_lead += at(r, dop_lo(d, off));
            dop_lag += at(r, dop_hi(d, off));
        }
        let lead = range_lead + dop_lead;
        let lag = range_lag + dop_lag;
        let half_n = f32(params.reference_cells / 2u);
        if params.cfar_kind == CFAR_GO {
            stat = max(lead, lag) / half_n;
        } else if params.cfar_kind == CFAR_SO {
            stat = min(lead, lag) / half_n;
        } else {
            stat = (lead + lag) / f32(params.reference_cells);
        }
        hit = cut > params.alpha * stat;
    }
    if !hit {
        return;
    }
    let slot = atomicAdd(&list.count, 1u);
    if slot >= params.capacity {
        return;
    }
    var below_r = 0.0;
    if r > 0u {
        below_r = at(r - 1u, d);
    }
    var above_r = 0.0;
    if r + 1u < params.samples {
        above_r = at(r + 1u, d);
    }
    list.records[slot] = DetectionRecord(
        r,
        d,
        cut,
        stat / params.noise_scale,
        vec4<f32>(below_r, above_r, at(r, dop_lo(d, 1u)), at(r, dop_hi(d, 1u))),
    );
}
