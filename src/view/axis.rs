//! Axis scales: which physical value sits at each edge of the map, and where
//! round-numbered ticks go.

/// A linear axis across `pixels` pixels: `value_at_start` at pixel 0 (left
/// or top edge), `value_at_end` at pixel `pixels` (right or bottom edge).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LinearAxis {
    pub(crate) title: String,
    pub(crate) value_at_start: f64,
    pub(crate) value_at_end: f64,
    /// Smallest tick step: 1 on a bin-number axis (no "2.5" bins), else 0.
    pub(crate) min_step: f64,
}

impl LinearAxis {
    /// An axis over `bins` cells whose physical value at fractional bin `b`
    /// is `value_of_bin(b)`. Cell `i` spans `[i - 0.5, i + 0.5)`, so an
    /// interpolated bin lands where its cell is drawn. When the physical
    /// values are unusable (non-finite or all equal, e.g. a carrier of 0 Hz)
    /// the axis falls back to bin numbers under `fallback_title`.
    pub(crate) fn over_bins(
        bins: usize,
        value_of_bin: impl Fn(f64) -> f64,
        title: &str,
        fallback_title: &str,
    ) -> Self {
        let (first, last) = (-0.5, bins as f64 - 0.5);
        let (start, end) = (value_of_bin(first), value_of_bin(last));
        if start.is_finite() && end.is_finite() && start != end {
            LinearAxis {
                title: title.to_owned(),
                value_at_start: start,
                value_at_end: end,
                min_step: 0.0,
            }
        } else {
            LinearAxis {
                title: fallback_title.to_owned(),
                value_at_start: first,
                value_at_end: last,
                min_step: 1.0,
            }
        }
    }

    /// Offset in pixels from the axis start of `value`, on an axis `pixels` long.
    pub(crate) fn offset_px(&self, value: f64, pixels: f64) -> f64 {
        (value - self.value_at_start) / (self.value_at_end - self.value_at_start) * pixels
    }

    /// Round-numbered ticks inside the axis, at most about `max_ticks`, with
    /// their labels.
    pub(crate) fn ticks(&self, max_ticks: usize) -> Vec<(f64, String)> {
        let lo = self.value_at_start.min(self.value_at_end);
        let hi = self.value_at_start.max(self.value_at_end);
        nice_ticks(lo, hi, max_ticks, self.min_step)
    }
}

/// Ticks at multiples of a 1-2-5 step (at least `min_step`) covering
/// `[lo, hi]` with at most `max_ticks` of them, labelled with just enough decimals for the step.
/// Empty for a non-finite or empty interval.
pub(crate) fn nice_ticks(lo: f64, hi: f64, max_ticks: usize, min_step: f64) -> Vec<(f64, String)> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo || max_ticks == 0 {
        return Vec::new();
    }
    let rough = (hi - lo) / max_ticks as f64;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * magnitude)
        .max(min_step);
    if !(step.is_finite() && step > 0.0) {
        return Vec::new();
    }
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10()).ceil().clamp(0.0, 12.0) as usize
    };
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    // `take` guards against float rounding on extreme values, never needed otherwise.
    (first..=last)
        .take(max_ticks + 2)
        .map(|k| {
            let value = k as f64 * step;
            // `+ 0.0` turns -0 into 0 so the label never reads "-0".
            let label = format!("{:.*}", decimals, value + 0.0);
            let label = if label
                .trim_start_matches('-')
                .chars()
                .all(|c| c == '0' || c == '.')
            {
                label.trim_start_matches('-').to_owned()
            } else {
                label
            };
            (value, label)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(ticks: &[(f64, String)]) -> Vec<&str> {
        ticks.iter().map(|(_, l)| l.as_str()).collect()
    }

    #[test]
    fn ticks_use_round_steps() {
        assert_eq!(
            labels(&nice_ticks(-0.3, 30.2, 8, 0.0)),
            ["0", "5", "10", "15", "20", "25", "30"]
        );
        assert_eq!(
            labels(&nice_ticks(-76.2, 76.2, 8, 0.0)),
            ["-60", "-40", "-20", "0", "20", "40", "60"]
        );
        assert_eq!(
            labels(&nice_ticks(0.011, 0.049, 4, 0.0)),
            ["0.02", "0.03", "0.04"]
        );
    }

    #[test]
    fn ticks_of_degenerate_intervals_are_empty() {
        assert!(nice_ticks(1.0, 1.0, 5, 0.0).is_empty());
        assert!(nice_ticks(f64::NAN, 1.0, 5, 0.0).is_empty());
        assert!(nice_ticks(0.0, f64::INFINITY, 5, 0.0).is_empty());
        assert!(nice_ticks(0.0, 1.0, 0, 0.0).is_empty());
    }

    #[test]
    fn axis_falls_back_to_bins_when_physics_is_unusable() {
        let axis = LinearAxis::over_bins(64, |_| f64::NAN, "velocity", "bin");
        assert_eq!(axis.title, "bin");
        assert_eq!((axis.value_at_start, axis.value_at_end), (-0.5, 63.5));
        let few = LinearAxis::over_bins(4, |_| f64::NAN, "velocity", "bin");
        assert_eq!(labels(&few.ticks(8)), ["0", "1", "2", "3"]);
        // Cell 10 of 64 on a 512 px axis: centre at (10 + 0.5) * 8 = 84 px.
        assert_eq!(axis.offset_px(10.0, 512.0), 84.0);
    }
}
