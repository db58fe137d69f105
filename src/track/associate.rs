//! Hypothesiser and data associator: chi-square gating of each plot against
//! each track's predicted measurement, then one global nearest neighbour
//! assignment (Kuhn-Munkres from the `pathfinding` crate).
//!
//! The assignment problem is posed as a `tracks x (plots + tracks)` cost
//! matrix: column `plots + i` is track `i`'s "no plot this look" option,
//! priced at the gate, so an assignment inside the gate always beats a miss
//! and a plot outside the gate can never be taken. Costs are the normalised
//! innovation squared scaled to integers (the crate needs an `Ord` weight);
//! a millionth of a chi-square unit is far below any meaningful difference.

use pathfinding::kuhn_munkres::kuhn_munkres_min;
use pathfinding::matrix::Matrix;

/// Cost of an impossible pairing, in the integer units of [`assign`].
const FORBIDDEN: i64 = 1_000_000_000_000;
/// Integer units per chi-square unit.
const SCALE: f64 = 1e6;

/// Gated costs: `costs[i][j]` is track `i`'s normalised innovation squared
/// for plot `j`, or `None` outside the gate. Returns, per track, the plot
/// assigned to it (or `None` for a miss), minimising the summed cost.
/// `gate_chi2` must be positive and finite (callers check their config).
pub fn assign(costs: &[Vec<Option<f64>>], plots: usize, gate_chi2: f64) -> Vec<Option<usize>> {
    let tracks = costs.len();
    if tracks == 0 {
        return Vec::new();
    }
    if plots == 0 {
        return vec![None; tracks];
    }
    let columns = plots + tracks;
    let mut weights = vec![FORBIDDEN; tracks * columns];
    let to_int = |c: f64| (c.clamp(0.0, gate_chi2) * SCALE).round() as i64;
    for (i, row) in costs.iter().enumerate() {
        for (j, c) in row.iter().enumerate().take(plots) {
            if let Some(c) = c.filter(|c| c.is_finite() && *c <= gate_chi2) {
                weights[i * columns + j] = to_int(c);
            }
        }
        weights[i * columns + plots + i] = to_int(gate_chi2);
    }
    // Sizes are consistent by construction, so this cannot fail; a failure
    // would still degrade to "all missed" rather than a panic.
    let Ok(matrix) = Matrix::from_vec(tracks, columns, weights) else {
        return vec![None; tracks];
    };
    let (_, assignment) = kuhn_munkres_min(&matrix);
    assignment
        .into_iter()
        .map(|col| (col < plots).then_some(col))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_beats_greedy_and_gate_is_respected() {
        // Greedy would give plot 0 to track 0 (cost 1) and leave track 1 with
        // plot 1 at cost 9 (total 10); the global optimum is 2 + 3 = 5.
        let costs = vec![vec![Some(1.0), Some(2.0)], vec![Some(3.0), Some(9.0)]];
        assert_eq!(assign(&costs, 2, 16.0), vec![Some(1), Some(0)]);
        // Outside the gate: a miss.
        let costs = vec![vec![None, Some(20.0)]];
        assert_eq!(assign(&costs, 2, 16.0), vec![None]);
        // More tracks than plots: one must miss, the cheaper total wins.
        let costs = vec![vec![Some(4.0)], vec![Some(1.0)], vec![None]];
        assert_eq!(assign(&costs, 1, 16.0), vec![None, Some(0), None]);
        assert_eq!(assign(&costs, 0, 16.0), vec![None, None, None]);
        assert!(assign(&[], 3, 16.0).is_empty());
    }
}
