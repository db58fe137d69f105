//! Map cells to picture pixels (max-hold when shrinking, nearest neighbour
//! when growing) and power to colour on a clipped dB scale.

use crate::process::RangeDopplerMap;

/// Widest colour scale, dB: anything further below the strongest cell is
/// drawn in the bottom colour.
pub const MAX_SPAN_DB: f64 = 60.0;

/// How far below the median cell (the noise floor of a sparse scene) the
/// colour scale starts, dB, so the floor's texture stays visible.
pub const BELOW_MEDIAN_DB: f64 = 10.0;

/// The dB interval the colour map spans.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DbScale {
    /// Power drawn in the top colour (and anything above), dB.
    pub top_db: f64,
    /// Power drawn in the bottom colour (and anything below, including
    /// zero, negative and NaN power), dB.
    pub bottom_db: f64,
}

impl DbScale {
    /// Colour scale for `power`: top = the strongest finite positive cell;
    /// bottom = [`BELOW_MEDIAN_DB`] under the median finite positive cell,
    /// but never more than [`MAX_SPAN_DB`] under the top. The span is thus
    /// at least `BELOW_MEDIAN_DB` (a flat map is not divided by zero). With
    /// no finite positive cell at all, the scale is `[-60, 0]` dB.
    pub fn of_power(power: &[f32]) -> Self {
        let mut db: Vec<f64> = power
            .iter()
            .filter(|p| p.is_finite() && **p > 0.0)
            .map(|p| 10.0 * f64::from(*p).log10())
            .collect();
        if db.is_empty() {
            return DbScale {
                top_db: 0.0,
                bottom_db: -MAX_SPAN_DB,
            };
        }
        let top_db = db.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mid = db.len() / 2;
        let (_, median_db, _) = db.select_nth_unstable_by(mid, f64::total_cmp);
        let bottom_db = (top_db - MAX_SPAN_DB).max(*median_db - BELOW_MEDIAN_DB);
        DbScale { top_db, bottom_db }
    }

    /// Position of linear `power` on the scale, in `[0, 1]`; 0 for power
    /// that is zero, negative or NaN.
    pub fn unit(&self, power: f32) -> f64 {
        if power.is_nan() || power <= 0.0 {
            return 0.0;
        }
        let db = 10.0 * f64::from(power).log10();
        let t = (db - self.bottom_db) / (self.top_db - self.bottom_db);
        if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) }
    }
}

/// Source cells `[lo, hi)` that picture pixel `px` of `pixels` shows, out
/// of `bins` cells. Shrinking (`bins >= pixels`) splits the cells into
/// `pixels` runs, so each cell lands in exactly one pixel; growing picks the
/// one cell under the pixel's centre.
pub(crate) fn source_cells(px: usize, pixels: usize, bins: usize) -> (usize, usize) {
    let (px, pixels, bins) = (px as u128, pixels as u128, bins as u128);
    if bins >= pixels {
        (
            (px * bins / pixels) as usize,
            ((px + 1) * bins / pixels) as usize,
        )
    } else {
        let cell = ((2 * px + 1) * bins / (2 * pixels)) as usize;
        (cell, cell + 1)
    }
}

/// Linear power shown by each pixel of a `width_px` x `height_px` picture
/// with range across (left = range bin 0) and Doppler down (top = Doppler
/// bin 0): the maximum over the pixel's cells, ignoring NaN (NaN only if
/// every cell is NaN). Row-major, `out[y * width_px + x]`. The map's shape
/// must already be checked (`power.len() == range_bins * doppler_bins`, both
/// non-zero).
pub(crate) fn max_hold(map: &RangeDopplerMap, width_px: usize, height_px: usize) -> Vec<f32> {
    let cols: Vec<_> = (0..width_px)
        .map(|x| source_cells(x, width_px, map.range_bins))
        .collect();
    let rows: Vec<_> = (0..height_px)
        .map(|y| source_cells(y, height_px, map.doppler_bins))
        .collect();
    let mut out = vec![f32::NAN; width_px * height_px];
    for (x, &(r_lo, r_hi)) in cols.iter().enumerate() {
        for (y, &(d_lo, d_hi)) in rows.iter().enumerate() {
            let mut peak = f32::NAN;
            for r in r_lo..r_hi {
                let row = &map.power[r * map.doppler_bins..(r + 1) * map.doppler_bins];
                for &p in &row[d_lo..d_hi] {
                    // f32::max ignores a NaN operand.
                    peak = peak.max(p);
                }
            }
            out[y * width_px + x] = peak;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinking_visits_every_cell_once() {
        for (pixels, bins) in [(800, 2000), (800, 4096), (512, 512), (7, 9)] {
            let mut next = 0;
            for px in 0..pixels {
                let (lo, hi) = source_cells(px, pixels, bins);
                assert_eq!(lo, next);
                assert!(hi > lo);
                next = hi;
            }
            assert_eq!(next, bins);
        }
    }

    #[test]
    fn growing_is_nearest_neighbour() {
        // 64 cells on 512 px: 8 px per cell.
        assert_eq!(source_cells(0, 512, 64), (0, 1));
        assert_eq!(source_cells(7, 512, 64), (0, 1));
        assert_eq!(source_cells(8, 512, 64), (1, 2));
        assert_eq!(source_cells(511, 512, 64), (63, 64));
        assert_eq!(source_cells(300, 512, 1), (0, 1));
    }

    #[test]
    fn max_hold_keeps_a_single_hot_cell() {
        let mut map = RangeDopplerMap {
            range_bins: 4096,
            doppler_bins: 128,
            power: vec![1.0; 4096 * 128],
        };
        map.power[3001 * 128 + 77] = 1e6;
        map.power[5] = f32::NAN;
        let px = max_hold(&map, 800, 512);
        let hot = px.iter().filter(|p| **p == 1e6).count();
        // One range pixel; Doppler 128 -> 512 is 4 px per cell.
        assert_eq!(hot, 4);
        assert!(px.iter().all(|p| *p == 1.0 || *p == 1e6));
    }

    #[test]
    fn scale_clips_at_median_and_span() {
        let mut power = vec![1.0f32; 1000];
        power[0] = 1e3; // 30 dB over a 0 dB floor
        let s = DbScale::of_power(&power);
        assert!((s.top_db - 30.0).abs() < 1e-9 && (s.bottom_db + 10.0).abs() < 1e-9);
        power[0] = 1e9; // 90 dB: span limited to 60 dB
        let s = DbScale::of_power(&power);
        assert!((s.bottom_db - 30.0).abs() < 1e-9);
        assert_eq!(s.unit(0.0), 0.0);
        assert_eq!(s.unit(f32::NAN), 0.0);
        assert_eq!(s.unit(1e12), 1.0);
        let flat = DbScale::of_power(&[0.0, -1.0, f32::NAN]);
        assert_eq!(flat.top_db - flat.bottom_db, MAX_SPAN_DB);
    }
}
