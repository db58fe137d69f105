//! `tews bench --tracks N`: the tracker's time per look with N ballistic
//! objects in view, and the assessor's time per assessment.
//!
//! N single-stage missiles (boosts drawn from [`BoostFamily`], launch
//! points spread over 2 x 2 deg, azimuths 290-330 deg, launches staggered
//! over 20 s) watched by a plot-level radar ([`PlotRadar`]: monopulse
//! angles, 1 s looks, false plots at Pfa 1e-6). The tracker's
//! `process_look` is timed on every look from the 40th (all tracks
//! initiated) while at least 90% of the objects are still flying; the
//! assessor is timed on the ballistic tracks at the end.

use nalgebra::Vector3;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::time::Instant;
use time::OffsetDateTime;

use crate::assess::{Assessor, BoostFamily};
use crate::sim::ballistic::{BallisticTruth, Launch, PlotRadar, fly};
use crate::track::{RadarSite, Tracker, TrackerConfig};

/// The result (`tews bench --tracks N --json`).
#[derive(Debug, Clone, Serialize)]
pub struct TrackingBench {
    /// Objects simulated.
    pub objects: usize,
    /// Looks timed.
    pub looks_timed: usize,
    /// Mean tracks held on the timed looks.
    pub mean_tracks: f64,
    /// Median tracker time per look, microseconds.
    pub tracker_us_p50: f64,
    /// 99th percentile, microseconds.
    pub tracker_us_p99: f64,
    /// Longest, microseconds.
    pub tracker_us_max: f64,
    /// Assessments timed.
    pub assessments: usize,
    /// Mean assessment time, milliseconds.
    pub assess_ms_mean: f64,
    /// Longest assessment, milliseconds.
    pub assess_ms_max: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the benchmark with `objects` missiles (seeded, repeatable).
pub fn bench_tracking(objects: usize) -> Result<TrackingBench, String> {
    let objects = objects.clamp(1, 1000);
    let mut rng = ChaCha8Rng::seed_from_u64(20261204);
    let site = RadarSite::new(40.0, 40.0, 100.0).map_err(|e| e.to_string())?;
    let radar = PlotRadar {
        site,
        range_sigma_m: 10.0,
        beamwidth_deg: 2.0,
        monopulse_slope: 1.6,
        reference_snr_db: 25.0,
        reference_range_m: 500e3,
        detection_threshold_db: 13.0,
        detection_probability: 0.95,
        min_elevation_deg: 0.5,
        false_plots_per_look: 1e-6 * 5e5,
        false_range_window_m: (50e3, 1_500e3),
    };
    let family = BoostFamily::default();
    let flights: Vec<BallisticTruth> = (0..objects)
        .map(|k| {
            let launch = Launch {
                latitude_deg: 36.5 + 2.0 * rng.random::<f64>(),
                longitude_deg: 42.0 + 2.0 * rng.random::<f64>(),
                azimuth_deg: 290.0 + 40.0 * rng.random::<f64>(),
                time_s: (k % 20) as f64,
                boost: family.sample(&mut rng),
            };
            fly(&launch, 1.0).map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    let epoch = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    let mut tracker = Tracker::new(site, TrackerConfig::default()).map_err(|e| e.to_string())?;
    let end_s = flights
        .iter()
        .map(|f| f.impact.time_s)
        .fold(f64::INFINITY, f64::min);
    let mut times = Vec::new();
    let mut held = 0usize;
    for look in 0..(end_s as usize) {
        let t = look as f64;
        let time_utc = epoch + time::Duration::seconds(look as i64);
        let mut plots = Vec::new();
        let mut first: Option<Vector3<f64>> = None;
        for f in &flights {
            let k = ((t - f.launch.time_s).round()) as i64;
            let Some(s) = usize::try_from(k).ok().and_then(|k| f.samples.get(k)) else {
                continue;
            };
            let r: Vector3<f64> = s.state.fixed_rows::<3>(0).into();
            first.get_or_insert(r);
            let quiet = PlotRadar {
                false_plots_per_look: 0.0,
                ..radar
            };
            plots.extend(quiet.look(time_utc, Some(&r), 0.0, 0.0, &mut rng));
        }
        let (beam_az, beam_el) = first
            .and_then(|r| site.measure(&r))
            .map_or((300.0, 10.0), |z| (z.y.to_degrees(), z.z.to_degrees()));
        plots.extend(radar.look(time_utc, None, beam_az, beam_el, &mut rng));
        let start = Instant::now();
        tracker
            .process_look(time_utc, &plots)
            .map_err(|e| e.to_string())?;
        let us = start.elapsed().as_secs_f64() * 1e6;
        if look >= 40 && tracker.tracks().len() * 10 >= objects * 9 {
            times.push(us);
            held += tracker.tracks().len();
        }
    }
    let looks_timed = times.len();
    times.sort_by(f64::total_cmp);
    let assessor = Assessor::default();
    let mut assess_ms = Vec::new();
    for track in tracker.tracks().iter().filter(|t| t.ballistic).take(20) {
        let start = Instant::now();
        let _ = std::hint::black_box(assessor.assess(&track.ballistic_estimate()));
        assess_ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    Ok(TrackingBench {
        objects,
        looks_timed,
        mean_tracks: held as f64 / looks_timed.max(1) as f64,
        tracker_us_p50: percentile(&times, 0.5),
        tracker_us_p99: percentile(&times, 0.99),
        tracker_us_max: times.last().copied().unwrap_or(f64::NAN),
        assessments: assess_ms.len(),
        assess_ms_mean: assess_ms.iter().sum::<f64>() / assess_ms.len().max(1) as f64,
        assess_ms_max: assess_ms.iter().copied().fold(f64::NAN, f64::max),
    })
}
