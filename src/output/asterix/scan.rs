//! CAT034 service messages from the beam's movement: a north marker when the
//! beam azimuth passes north, a sector crossing when it passes the start of
//! one of [`DEFAULT_SECTORS`] equal sectors.
//!
//! tews sees the beam once per CPI (its azimuth for the whole dwell), so a
//! boundary is crossed between two consecutive CPIs whose azimuths bracket
//! it, and the message carries the time of the first CPI past it: from that
//! time on the reports come from the new sector. Only clockwise movement of
//! less than half a turn between two CPIs counts as the antenna turning
//! (the rotation of a surveillance radar): a beam that stands still, steps
//! back, jumps half a turn or more (an electronically steered revisit), or
//! has no known azimuth gives no message, since no crossing can be said to
//! have happened. Several boundaries passed in one step give one message
//! each, in azimuth order. North replaces the crossing into sector 0 (a
//! north marker is that crossing).

use super::cat034::ServiceMessage;
use crate::output::BeamPosition;

/// Sectors per turn: 32 of 11.25 deg, each start a whole number of I034/020
/// LSBs (360/2^8 deg), so every sector number is exact.
pub const DEFAULT_SECTORS: u16 = 32;

/// Tolerance for an azimuth exactly on a boundary, degrees.
const EPS_DEG: f64 = 1e-9;

/// Turns successive beam positions into CAT034 messages.
#[derive(Debug, Clone)]
pub struct ScanTracker {
    sector_width_deg: f64,
    last_azimuth_deg: Option<f64>,
}

impl ScanTracker {
    /// A tracker for `sectors` equal sectors per turn (1..=256; clamped).
    pub fn new(sectors: u16) -> Self {
        ScanTracker {
            sector_width_deg: 360.0 / f64::from(sectors.clamp(1, 256)),
            last_azimuth_deg: None,
        }
    }

    /// Appends the messages for the beam's move to `beam` (none for the first
    /// position seen) to `out`.
    pub fn advance(&mut self, beam: &BeamPosition, out: &mut Vec<ServiceMessage>) {
        if !beam.azimuth_deg.is_finite() {
            return;
        }
        let now = beam.azimuth_deg.rem_euclid(360.0);
        let Some(prev) = self.last_azimuth_deg.replace(now) else {
            return;
        };
        let step = (now - prev).rem_euclid(360.0);
        if step <= EPS_DEG || step >= 180.0 {
            return;
        }
        let w = self.sector_width_deg;
        // Boundaries j*w in (prev, prev + step], j counted from north.
        let mut j = ((prev + EPS_DEG) / w).floor() + 1.0;
        while j * w <= prev + step + EPS_DEG {
            let start_deg = (j * w).rem_euclid(360.0);
            let at_north = start_deg < EPS_DEG || 360.0 - start_deg < EPS_DEG;
            out.push(if at_north {
                ServiceMessage::NorthMarker {
                    time_utc: beam.time_utc,
                }
            } else {
                ServiceMessage::SectorCrossing {
                    time_utc: beam.time_utc,
                    sector_start_deg: start_deg,
                }
            });
            j += 1.0;
        }
    }
}

impl Default for ScanTracker {
    fn default() -> Self {
        ScanTracker::new(DEFAULT_SECTORS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn beam(cpi: u64, azimuth_deg: f64) -> BeamPosition {
        BeamPosition {
            cpi,
            time_utc: datetime!(2025-01-01 00:00:00 UTC) + time::Duration::seconds(cpi as i64),
            azimuth_deg,
        }
    }

    /// What each step gave: (north markers, sector starts in degrees).
    fn run(sectors: u16, azimuths: &[f64]) -> Vec<(usize, Vec<f64>)> {
        let mut t = ScanTracker::new(sectors);
        azimuths
            .iter()
            .enumerate()
            .map(|(k, &az)| {
                let mut out = Vec::new();
                t.advance(&beam(k as u64, az), &mut out);
                for m in &out {
                    let time = match m {
                        ServiceMessage::NorthMarker { time_utc }
                        | ServiceMessage::SectorCrossing { time_utc, .. } => *time_utc,
                    };
                    assert_eq!(time, beam(k as u64, az).time_utc, "time of the CPI past it");
                }
                let north = out
                    .iter()
                    .filter(|m| matches!(m, ServiceMessage::NorthMarker { .. }))
                    .count();
                let starts = out
                    .iter()
                    .filter_map(|m| match m {
                        ServiceMessage::SectorCrossing {
                            sector_start_deg, ..
                        } => Some(*sector_start_deg),
                        ServiceMessage::NorthMarker { .. } => None,
                    })
                    .collect();
                (north, starts)
            })
            .collect()
    }

    #[test]
    fn a_turning_beam_crosses_each_boundary_once() {
        // 4 sectors of 90 deg; steps of 50 deg over two turns.
        let az: Vec<f64> = (0..16).map(|k| f64::from(k) * 50.0 + 10.0).collect();
        let got = run(4, &az);
        let north: usize = got.iter().map(|g| g.0).sum();
        let starts: Vec<f64> = got.iter().flat_map(|g| g.1.clone()).collect();
        // From 10 deg to 760 deg: north at 360 and 720, sectors at 90, 180,
        // 270, 450, 540, 630.
        assert_eq!(north, 2);
        assert_eq!(starts, vec![90.0, 180.0, 270.0, 90.0, 180.0, 270.0]);
        // The step from 310 to 360 (= 0) reaches north exactly: counted there.
        assert_eq!(got[7], (1, vec![]), "{got:?}");
        assert_eq!(got[8], (0, vec![]), "north not counted twice");
    }

    #[test]
    fn several_boundaries_in_one_step_in_order() {
        let got = run(32, &[350.0, 20.0]);
        assert_eq!(got[1], (1, vec![11.25]));
        let got = run(32, &[0.0, 40.0]);
        assert_eq!(got[1], (0, vec![11.25, 22.5, 33.75]));
    }

    #[test]
    fn no_message_without_a_clockwise_turn() {
        // Standing still, stepping back, jumping half a turn or more, unknown.
        for az in [
            vec![100.0, 100.0],
            vec![100.0, 80.0],
            vec![0.0, 180.0],
            vec![10.0, 300.0],
            vec![f64::NAN, 100.0],
        ] {
            let got = run(32, &az);
            assert!(
                got.iter().all(|g| g.0 == 0 && g.1.is_empty()),
                "{az:?}: {got:?}"
            );
        }
        // An unknown azimuth in between keeps the last known one.
        let got = run(32, &[5.0, f64::NAN, 15.0]);
        assert_eq!(got[2], (0, vec![11.25]));
    }

    #[test]
    fn matches_a_brute_force_count_on_a_random_scan() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(34);
        let mut az = vec![rng.random_range(0.0..360.0)];
        for _ in 0..500 {
            let step: f64 = rng.random_range(0.0..40.0);
            az.push(az[az.len() - 1] + step);
        }
        let wrapped: Vec<f64> = az.iter().map(|a| a.rem_euclid(360.0)).collect();
        let got = run(32, &wrapped);
        // Brute force on the unwrapped angle: boundaries k*11.25 passed.
        for k in 1..az.len() {
            let passed = |a: f64| (a / 11.25).floor() as i64;
            let n = (passed(az[k]) - passed(az[k - 1])) as usize;
            assert_eq!(got[k].0 + got[k].1.len(), n, "step {k}");
            let turns = |a: f64| (a / 360.0).floor() as i64;
            assert_eq!(
                got[k].0 as i64,
                turns(az[k]) - turns(az[k - 1]),
                "north at {k}"
            );
        }
    }
}
