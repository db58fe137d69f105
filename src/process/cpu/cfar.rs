//! 2-D CFAR over the range-Doppler power map (cross-shaped reference window,
//! see [`crate::process::CfarWindow`] for its shape and edge rule).
//!
//! Sums are taken directly, in a fixed order (range lead, range lag, Doppler
//! lead, Doppler lag; nearest cell first), so the GPU twin can reproduce them
//! operation for operation.

use crate::dsp::cfar::CfarKind;
use crate::process::{ChainPlan, Detection};
use rayon::prelude::*;

/// Range rows per parallel work item.
const ROWS_PER_TASK: usize = 32;

/// Runs the CFAR test on every testable cell of `power` (range-major,
/// `plan.pulses` Doppler bins per row) and returns the crossings in
/// range-major order.
///
/// For the CA family the four partial sums are formed a whole row at a time
/// (contiguous, vectorisable adds across Doppler), nearest training cell
/// first; the result is the same as summing cell by cell in that order.
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
                count: vec![0; p],
                sums: [vec![0.0; p], vec![0.0; p], vec![0.0; p], vec![0.0; p]],
                stat: vec![0.0; p],
            },
            |scratch, &r_start| {
                let mut found = Vec::new();
                for r in r_start..(r_start + ROWS_PER_TASK).min(tested.end) {
                    detect_row(plan, power, r, scratch, &mut found);
                }
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
    /// OS only: reference values with alpha * x < cut, per Doppler bin.
    count: Vec<u32>,
    /// Range lead, range lag, Doppler lead, Doppler lag sums per Doppler bin
    /// (four separate rows so the adds vectorise).
    sums: [Vec<f32>; 4],
    /// CFAR statistic per Doppler bin.
    stat: Vec<f32>,
}

fn detect_row(
    plan: &ChainPlan,
    power: &[f32],
    r: usize,
    s: &mut RowScratch,
    found: &mut Vec<Detection>,
) {
    let p = plan.pulses;
    let w = plan.window;
    let h = w.guard_doppler + w.train_doppler;
    let row = &power[r * p..(r + 1) * p];
    // Doppler wrap: the last h bins before the row, the first h after it.
    s.padded[..h].copy_from_slice(&row[p - h..]);
    s.padded[h..h + p].copy_from_slice(row);
    s.padded[h + p..].copy_from_slice(&row[..h]);
    if plan.cfar == CfarKind::Os {
        // OS test without sorting: alpha * T_k < cut (T_k the k-th smallest
        // reference value) holds exactly when at least k reference values x
        // have alpha * x < cut, because rounding keeps x -> alpha * x monotone.
        // Counting is a branch-free pass across the row; the k-th value itself
        // (the noise estimate) is selected only for cells that pass.
        for (t, &c) in s.stat.iter_mut().zip(row) {
            *t = c; // stat holds the cell under test while counting
        }
        s.count.fill(0);
        let alpha = plan.alpha;
        for i in 1..=w.train_range {
            let off = w.guard_range + i;
            count_below(
                &mut s.count,
                &power[(r - off) * p..(r - off + 1) * p],
                &s.stat,
                alpha,
            );
            count_below(
                &mut s.count,
                &power[(r + off) * p..(r + off + 1) * p],
                &s.stat,
                alpha,
            );
        }
        for i in 1..=w.train_doppler {
            let off = w.guard_doppler + i;
            count_below(
                &mut s.count,
                &s.padded[h - off..h - off + p],
                &s.stat,
                alpha,
            );
            count_below(
                &mut s.count,
                &s.padded[h + off..h + off + p],
                &s.stat,
                alpha,
            );
        }
        let k = plan.os_k as u32;
        for d in 0..p {
            if s.count[d] >= k {
                gather(plan, power, &s.padded, r, d, &mut s.cells);
                let (_, kth, _) = s
                    .cells
                    .select_nth_unstable_by(plan.os_k - 1, f32::total_cmp);
                push_detection(plan, power, &s.padded, r, d, *kth, found);
            }
        }
        return;
    } else {
        let [range_lead, range_lag, dop_lead, dop_lag] = &mut s.sums;
        for v in [
            &mut *range_lead,
            &mut *range_lag,
            &mut *dop_lead,
            &mut *dop_lag,
        ] {
            v.fill(0.0);
        }
        for i in 1..=w.train_range {
            let off = w.guard_range + i;
            add_row(range_lead, &power[(r - off) * p..(r - off + 1) * p]);
            add_row(range_lag, &power[(r + off) * p..(r + off + 1) * p]);
        }
        for i in 1..=w.train_doppler {
            let off = w.guard_doppler + i;
            add_row(dop_lead, &s.padded[h - off..h - off + p]);
            add_row(dop_lag, &s.padded[h + off..h + off + p]);
        }
        let half_n = (plan.reference_cells / 2) as f32;
        let n_ref = plan.reference_cells as f32;
        for (d, st) in s.stat.iter_mut().enumerate() {
            let lead = range_lead[d] + dop_lead[d];
            let lag = range_lag[d] + dop_lag[d];
            *st = match plan.cfar {
                CfarKind::Go => lead.max(lag) / half_n,
                CfarKind::So => lead.min(lag) / half_n,
                _ => (lead + lag) / n_ref,
            };
        }
    }
    for (d, (&cut, &stat)) in row.iter().zip(&s.stat).enumerate() {
        if cut > plan.alpha * stat {
            push_detection(plan, power, &s.padded, r, d, stat, found);
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

#[inline]
fn add_row(acc: &mut [f32], row: &[f32]) {
    for (a, v) in acc.iter_mut().zip(row) {
        *a += v;
    }
}

/// `count[d] += 1` where `alpha * row[d] < cut[d]` (branch-free).
#[inline]
fn count_below(count: &mut [u32], row: &[f32], cut: &[f32], alpha: f32) {
    for ((n, &x), &c) in count.iter_mut().zip(row).zip(cut) {
        *n += u32::from(alpha * x < c);
    }
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
        };
        let config = ProcessConfig {
            cfar: kind,
            pfa: 1e-2,
            window: w,
            os_k: None,
            range_window: Window::None,
            doppler_window: Window::None,
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
