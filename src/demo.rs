//! `tews demo`: simulate the built-in scenario, process it, and show the
//! plots beside the simulator's truth.

use crate::plots::Plot;
use crate::sim::TargetTruth;

/// A truth target of one CPI and the plot that matched it, if any.
#[derive(Debug, Clone)]
pub struct Match<'a> {
    /// The simulated target.
    pub truth: &'a TargetTruth,
    /// The nearest plot within the gate, if any.
    pub plot: Option<&'a Plot>,
}

/// Gate for matching, in bins (range and Doppler each).
pub const MATCH_GATE_BINS: f64 = 2.0;

/// Pairs each in-window truth target of `cpi` with the nearest plot of that
/// CPI within [`MATCH_GATE_BINS`] in range and Doppler (Doppler compared
/// modulo `pulses`). Returns the matches and the plots no target claimed.
pub fn match_cpi<'a>(
    cpi: u64,
    truth: &'a [TargetTruth],
    plots: &'a [Plot],
    pulses: usize,
) -> (Vec<Match<'a>>, Vec<&'a Plot>) {
    let p = pulses as f64;
    let dop_dist = |a: f64, b: f64| {
        let d = (a - b).rem_euclid(p);
        d.min(p - d)
    };
    let cpi_plots: Vec<&Plot> = plots.iter().filter(|pl| pl.cpi == cpi).collect();
    let mut used = vec![false; cpi_plots.len()];
    let mut matches = Vec::new();
    for t in truth.iter().filter(|t| t.cpi == cpi && t.in_window) {
        let best = cpi_plots
            .iter()
            .enumerate()
            .filter(|(i, pl)| {
                !used[*i]
                    && (pl.range_bin - t.range_bin).abs() <= MATCH_GATE_BINS
                    && dop_dist(pl.doppler_bin, t.doppler_bin) <= MATCH_GATE_BINS
            })
            .min_by(|(_, a), (_, b)| {
                let da = (a.range_bin - t.range_bin).hypot(dop_dist(a.doppler_bin, t.doppler_bin));
                let db = (b.range_bin - t.range_bin).hypot(dop_dist(b.doppler_bin, t.doppler_bin));
                da.total_cmp(&db)
            })
            .map(|(i, _)| i);
        if let Some(i) = best {
            used[i] = true;
        }
        matches.push(Match {
            truth: t,
            plot: best.map(|i| cpi_plots[i]),
        });
    }
    let unmatched = cpi_plots
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(p, _)| *p)
        .collect();
    (matches, unmatched)
}
