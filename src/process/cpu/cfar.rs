//! 2-D CFAR over the range-Doppler power map (cross-shaped reference window,
//! see [`crate::process::CfarWindow`] for its shape and edge rule).
//!
//! Sums are taken directly, in a fixed order (range lead, range lag, Doppler
//! lead, Doppler lag; nearest cell first), so the GPU twin can reproduce them
//! operation for operation.
//!
//! The map is range-major (`power[range * P + doppler]`), so the reference
//! cells of a run of Doppler bins at one range are themselves runs: a
//! range-offset cell is the same run in another row, a Doppler-offset cell
//! the run shifted along a copy of the row padded with its wrapped ends. The
//! test is therefore made on `LANES` (64) adjacent Doppler bins at once, each
//! lane with its own sums in registers: per cell the same additions in the
//! same order as cell by cell, vectorised across Doppler.

use crate::dsp::cfar::CfarKind;
use crate::process::{ChainPlan, Detection};
use rayon::prelude::*;

/// Range rows per parallel work item.
const ROWS_PER_TASK: usize = 32;

/// Doppler bins tested together: eight 256-bit registers per running sum
/// (measured fastest of 16, 32, 64 and 128 on the development machine: long
/// enough runs amortise the loop overhead per reference row, short enough
/// to stay in registers and L1). The rest of a row is finished
/// [`TAIL_LANES`] and then one bin at a time by the same code.
const LANES: usize = 64;

/// Doppler bins tested together in the rest of a row.
const TAIL_LANES: usize = 8;

/// Runs the CFAR test on every testable cell of `power` (range-major,
/// `plan.pulses` Doppler bins per row) and returns the crossings in
/// range-major order.
pub fn detect(plan: &ChainPlan, power: &[f32]) -> Vec<Detection> {
    let p = plan.pulses;
    let rows = plan.samples;
    let margin = plan.window.range_margin();
    let tested = margin..rows - margin;
    let h = plan.window.guard_doppler + plan.window.train_doppler;

    let starts: Vec<usize> = tested.clone().step_by(ROWS_PER_TASK).collect();
    starts
        .par_iter()
        .map_init(
            || RowScratch {
                padded: vec![0.0; p + 2 * h],
                cells: vec![0.0; plan.reference_cells],
            },
            |scratch, &r_start| {
                let mut found = Vec::new();
                let rows = r_start..(r_start + ROWS_PER_TASK).min(tested.end);
                detect_rows(plan, power, rows, scratch, &mut found);
                found
            },
        )
        .collect::<Vec<_>>()
        .concat()
}

/// Per-thread buffers for one range row.
struct RowScratch {
    /// The row, Doppler-wrapped: `padded[j] = row[(j - h) mod P]`.
    padded: Vec<f32>,
    /// OS only: reference cells of one cell under test.
    cells: Vec<f32>,
}

/// Tests `rows` with the widest vector unit the CPU has: the build targets
/// baseline x86-64 (SSE2), so AVX2 is chosen at run time. Both paths run the
/// same code on the same operations (no FMA contraction in Rust), so they
/// give the same bits.
fn detect_rows(
    plan: &ChainPlan,
    power: &[f32],
    rows: std::ops::Range<usize>,
    s: &mut RowScratch,
    found: &mut Vec<Detection>,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        unsafe { detect_rows_avx2(plan, power, rows, s, found) };
        return;
    }
    detect_rows_portable(plan, power, rows, s, found);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn detect_rows_avx2(
    plan: &ChainPlan,
    power: &[f32],
    rows: std::ops::Range<usize>,
    s: &mut RowScratch,
    found: &mut Vec<Detection>,
) {
    detect_rows_portable(plan, power, rows, s, found);
}

#[inline(always)]
fn detect_rows_portable(
    plan: &ChainPlan,
    power: &[f32],
    rows: std::ops::Range<usize>,
    s: &mut RowScratch,
    found: &mut Vec<Detection>,
) {
    let half_n = (plan.reference_cells / 2) as f32;
    let n_ref = plan.reference_cells as f32;
    for r in rows {
        match plan.cfar {
            CfarKind::Os => detect_row(plan, power, r, s, found, Os),
            CfarKind::Ca => detect_row(
                plan,
                power,
                r,
                s,
                found,
                CellAveraging(|lead, lag| (lead + lag) / n_ref),
            ),
            CfarKind::Go => detect_row(
                plan,
                power,
                r,
                s,
                found,
                CellAveraging(|lead: f32, lag: f32| lead.max(lag) / half_n),
            ),
            CfarKind::So => detect_row(
                plan,
                power,
                r,
                s,
                found,
                CellAveraging(|lead: f32, lag: f32| lead.min(lag) / half_n),
            ),
        }
    }
}

/// The reference-cell runs of `L` adjacent Doppler bins `d0 ..` at range
/// `r`: each run is the `L` bins of one reference offset.
struct Runs<'a> {
    power: &'a [f32],
    padded: &'a [f32],
    p: usize,
    r: usize,
    d0: usize,
}

impl<'a> Runs<'a> {
    /// The run `range_offset` rows away (same Doppler bins).
    #[inline(always)]
    fn range<const L: usize>(&self, range_offset: isize) -> &'a [f32; L] {
        let start = self.r.wrapping_add_signed(range_offset) * self.p + self.d0;
        self.power[start..start + L].try_into().unwrap()
    }
    /// The run `doppler_offset` bins away (same row, wrapped).
    #[inline(always)]
    fn doppler<const L: usize>(&self, h: usize, doppler_offset: isize) -> &'a [f32; L] {
        let start = (self.d0 + h).wrapping_add_signed(doppler_offset);
        self.padded[start..start + L].try_into().unwrap()
    }
}

/// One CFAR variant's test on a run of `L` cells.
trait RunTest {
    /// Calls `hit(lane, stat)` for each lane whose cell crosses the threshold,
    /// in lane order (`stat` is the CFAR statistic of that cell).
    fn test<const L: usize>(
        &self,
        plan: &ChainPlan,
        runs: &Runs<'_>,
        cells: &mut [f32],
        hit: impl FnMut(usize, f32),
    );
}

/// CA, GO, SO: the statistic from the lead and lag sums.
struct CellAveraging<F: Fn(f32, f32) -> f32>(F);

impl<F: Fn(f32, f32) -> f32> RunTest for CellAveraging<F> {
    #[inline(always)]
    fn test<const L: usize>(
        &self,
        plan: &ChainPlan,
        runs: &Runs<'_>,
        _cells: &mut [f32],
        mut hit: impl FnMut(usize, f32),
    ) {
        let w = plan.window;
        let h = w.guard_doppler + w.train_doppler;
        let (gr, gd) = (w.guard_range as isize, w.guard_doppler as isize);
        let range_lead = sum_runs::<L>(w.train_range, |i| runs.range(-gr - i));
        let range_lag = sum_runs::<L>(w.train_range, |i| runs.range(gr + i));
        let dop_lead = sum_runs::<L>(w.train_doppler, |i| runs.doppler(h, -gd - i));
        let dop_lag = sum_runs::<L>(w.train_doppler, |i| runs.doppler(h, gd + i));
        let cut = runs.range::<L>(0);
        let stat: [f32; L] = std::array::from_fn(|j| {
            (self.0)(range_lead[j] + dop_lead[j], range_lag[j] + dop_lag[j])
        });
        let crosses = |j: usize| cut[j] > plan.alpha * stat[j];
        if (0..L).fold(false, |any, j| any | crosses(j)) {
            for (j, &st) in stat.iter().enumerate() {
                if crosses(j) {
                    hit(j, st);
                }
            }
        }
    }
}

/// Per lane `((0 + x_1) + x_2) + ... + x_count`, `x_i = run(i)`: nearest
/// first, as a cell-by-cell sum would add them.
#[inline(always)]
fn sum_runs<'a, const L: usize>(count: usize, run: impl Fn(isize) -> &'a [f32; L]) -> [f32; L] {
    let mut acc = [0.0f32; L];
    for i in 1..=count as isize {
        for (a, v) in acc.iter_mut().zip(run(i)) {
            *a += v;
        }
    }
    acc
}

/// OS: the test without sorting. `alpha * T_k < cut` (`T_k` the k-th
/// smallest reference value) holds exactly when at least k reference values
/// x have `alpha * x < cut`, because rounding keeps `x -> alpha * x`
/// monotone. Counting is a branch-free pass across the run; the k-th value
/// itself (the noise estimate) is selected only for cells that pass.
struct Os;

impl RunTest for Os {
    #[inline(always)]
    fn test<const L: usize>(
        &self,
        plan: &ChainPlan,
        runs: &Runs<'_>,
        cells: &mut [f32],
        mut hit: impl FnMut(usize, f32),
    ) {
        let w = plan.window;
        let h = w.guard_doppler + w.train_doppler;
        let alpha = plan.alpha;
        let cut = runs.range::<L>(0);
        let (gr, gd) = (w.guard_range as isize, w.guard_doppler as isize);
        let range_lead = count_runs::<L>(w.train_range, |i| runs.range(-gr - i), cut, alpha);
        let range_lag = count_runs::<L>(w.train_range, |i| runs.range(gr + i), cut, alpha);
        let k = plan.os_k as f32;
        // Early out, exact: a cell needs k counted cells and the Doppler
        // cells add at most 2 * train_doppler, so when no lane's range
        // count reaches k - 2 * train_doppler no lane can cross. On noise
        // that is nearly every run, which skips a third of the work at the
        // default window.
        let ranged: [f32; L] = std::array::from_fn(|j| range_lead[j] + range_lag[j]);
        let need = k - (2 * w.train_doppler) as f32;
        if !ranged.iter().fold(false, |any, &n| any | (n >= need)) {
            return;
        }
        let dop_lead = count_runs::<L>(w.train_doppler, |i| runs.doppler(h, -gd - i), cut, alpha);
        let dop_lag = count_runs::<L>(w.train_doppler, |i| runs.doppler(h, gd + i), cut, alpha);
        let count: [f32; L] = std::array::from_fn(|j| ranged[j] + dop_lead[j] + dop_lag[j]);
        if count.iter().fold(false, |any, &n| any | (n >= k)) {
            for (j, &n) in count.iter().enumerate() {
                if n >= k {
                    gather(plan, runs.power, runs.padded, runs.r, runs.d0 + j, cells);
                    let (_, kth, _) = cells.select_nth_unstable_by(plan.os_k - 1, f32::total_cmp);
                    hit(j, *kth);
                }
            }
        }
    }
}

// Inlined so that it is compiled for the caller's target features.
#[inline(always)]
fn detect_row<T: RunTest>(
    plan: &ChainPlan,
    power: &[f32],
    r: usize,
    s: &mut RowScratch,
    found: &mut Vec<Detection>,
    kind: T,
) {
    let p = plan.pulses;
    let w = plan.window;
    let h = w.guard_doppler + w.train_doppler;
    let row = &power[r * p..(r + 1) * p];
    // Doppler wrap: the last h bins before the row, the first h after it.
    s.padded[..h].copy_from_slice(&row[p - h..]);
    s.padded[h..h + p].copy_from_slice(row);
    s.padded[h + p..].copy_from_slice(&row[..h]);
    let padded = &s.padded;
    let mut d0 = 0;
    while d0 < p {
        let runs = Runs {
            power,
            padded,
            p,
            r,
            d0,
        };
        let push =
            |j: usize, stat: f32| push_detection(plan, power, padded, r, d0 + j, stat, found);
        if d0 + LANES <= p {
            kind.test::<LANES>(plan, &runs, &mut s.cells, push);
            d0 += LANES;
        } else if d0 + TAIL_LANES <= p {
            kind.test::<TAIL_LANES>(plan, &runs, &mut s.cells, push);
            d0 += TAIL_LANES;
        } else {
            kind.test::<1>(plan, &runs, &mut s.cells, push);
            d0 += 1;
        }
    }
}

/// Records the crossing at `(r, d)` with CFAR statistic `stat`.
fn push_detection(
    plan: &ChainPlan,
    power: &[f32],
    padded: &[f32],
    r: usize,
    d: usize,
    stat: f32,
    found: &mut Vec<Detection>,
) {
    let p = plan.pulses;
    let h = plan.window.guard_doppler + plan.window.train_doppler;
    let below = if r > 0 { power[(r - 1) * p + d] } else { 0.0 };
    let above = power.get((r + 1) * p + d).copied().unwrap_or(0.0);
    found.push(Detection {
        range_bin: r as u32,
        doppler_bin: d as u32,
        power: power[r * p + d],
        noise: stat / plan.noise_scale,
        neighbours: [below, above, padded[d + h - 1], padded[d + h + 1]],
    });
}

/// Per lane, how many of `run(1) .. run(count)` have `alpha * x < cut`
/// (branch-free). The counts are small whole numbers, exact in f32, which
/// keeps every lane operation a float one (compare, mask, add) so the loop
/// vectorises like [`sum_runs`].
#[inline(always)]
fn count_runs<'a, const L: usize>(
    count: usize,
    run: impl Fn(isize) -> &'a [f32; L],
    cut: &[f32; L],
    alpha: f32,
) -> [f32; L] {
    let mut acc = [0.0f32; L];
    for i in 1..=count as isize {
        for ((a, &x), &c) in acc.iter_mut().zip(run(i)).zip(cut) {
            *a += if alpha * x < c { 1.0 } else { 0.0 };
        }
    }
    acc
}

/// All reference cells of `(r, d)` into `cells` (OS noise estimate).
fn gather(plan: &ChainPlan, power: &[f32], padded: &[f32], r: usize, d: usize, cells: &mut [f32]) {
    let p = plan.pulses;
    let w = plan.window;
    let h = w.guard_doppler + w.train_doppler;
    let mut i = 0;
    for t in 1..=w.train_range {
        let off = w.guard_range + t;
        cells[i] = power[(r - off) * p + d];
        cells[i + 1] = power[(r + off) * p + d];
        i += 2;
    }
    for t in 1..=w.train_doppler {
        let off = w.guard_doppler + t;
        cells[i] = padded[d + h - off];
        cells[i + 1] = padded[d + h + off];
        i += 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::window::Window;
    use crate::process::{CfarWindow, ProcessConfig};
    use crate::radar::{RadarParams, Waveform};

    fn plan(kind: CfarKind, p: usize, n: usize, w: CfarWindow) -> ChainPlan {
        let params = RadarParams {
            sample_rate_hz: 1e6,
            pulses_per_cpi: p,
            samples_per_pulse: n,
            pri_s: 1e-3,
            window_delay_s: 0.0,
            waveform: Waveform::Rect {
                pulse_width_s: 1e-6,
            },
            num_channels: 1,
            sum_channel: 0,
            channel_names: vec![],
            monopulse: None,
        };
        let config = ProcessConfig {
            cfar: kind,
            pfa: 1e-2,
            window: w,
            os_k: None,
            range_window: Window::None,
            doppler_window: Window::None,
            auto_range_guard: false,
        };
        ChainPlan::new(&params, &config).unwrap()
    }

    /// The CFAR written straight from its definition: list the reference
    /// cells with explicit modular arithmetic, no padding, no shared sums.
    fn naive(plan: &ChainPlan, power: &[f32]) -> Vec<(u32, u32, f32)> {
        let (p, n, w) = (plan.pulses as i64, plan.samples as i64, plan.window);
        let at = |r: i64, d: i64| power[(r * p + d.rem_euclid(p)) as usize] as f64;
        let mut out = vec![];
        for r in 0..n {
            let m = w.range_margin() as i64;
            if r < m || r >= n - m {
                continue;
            }
            for d in 0..p {
                let (mut lead, mut lag) = (vec![], vec![]);
                for i in 1..=w.train_range as i64 {
                    lead.push(at(r - w.guard_range as i64 - i, d));
                    lag.push(at(r + w.guard_range as i64 + i, d));
                }
                for i in 1..=w.train_doppler as i64 {
                    lead.push(at(r, d - w.guard_doppler as i64 - i));
                    lag.push(at(r, d + w.guard_doppler as i64 + i));
                }
                let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
                let mut all: Vec<f64> = lead.iter().chain(&lag).copied().collect();
                all.sort_by(f64::total_cmp);
                let stat = match plan.cfar {
                    CfarKind::Ca => mean(&all),
                    CfarKind::Go => mean(&lead).max(mean(&lag)),
                    CfarKind::So => mean(&lead).min(mean(&lag)),
                    CfarKind::Os => all[plan.os_k - 1],
                };
                if at(r, d) > plan.alpha as f64 * stat {
                    out.push((r as u32, d as u32, (stat / plan.noise_scale as f64) as f32));
                }
            }
        }
        out
    }

    #[test]
    fn matches_the_definition_including_edges_and_doppler_wrap() {
        let w = CfarWindow {
            train_range: 3,
            guard_range: 1,
            train_doppler: 2,
            guard_doppler: 1,
        };
        // Exponential-looking noise from a fixed LCG, plus bright cells at the
        // Doppler edges and next to the untested range margin.
        let (p, n) = (9usize, 40usize);
        let mut s: u32 = 12345;
        let mut power: Vec<f32> = (0..p * n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                -(((s >> 8) as f32 + 0.5) / (1u32 << 24) as f32).ln()
            })
            .collect();
        for &(r, d) in &[(4usize, 0usize), (4, 8), (20, 0), (35, 8), (2, 3), (37, 5)] {
            power[r * p + d] = 40.0;
        }
        for kind in [CfarKind::Ca, CfarKind::Go, CfarKind::So, CfarKind::Os] {
            let plan = plan(kind, p, n, w);
            let got: Vec<(u32, u32, f32)> = detect(&plan, &power)
                .iter()
                .map(|d| (d.range_bin, d.doppler_bin, d.noise))
                .collect();
            let want = naive(&plan, &power);
            assert_eq!(got.len(), want.len(), "{kind}: {got:?} vs {want:?}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!((g.0, g.1), (w.0, w.1), "{kind}");
                assert!(
                    (g.2 - w.2).abs() <= 1e-5 * w.2,
                    "{kind}: noise {} vs {}",
                    g.2,
                    w.2
                );
            }
            // Cells in the untested range margin never detect.
            assert!(got.iter().all(|g| g.0 >= 4 && g.0 < 36));
            // The bright cells inside the tested region are found.
            assert!(got.iter().any(|g| (g.0, g.1) == (20, 0)), "{kind}");
            assert!(got.iter().any(|g| (g.0, g.1) == (35, 8)), "{kind}");
        }
    }
}
