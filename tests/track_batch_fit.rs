//! tews's impact ellipse against an independent batch fit of the same plots
//! (issue 11: "within 2x of the batch fit's; both contain the truth at the
//! stated rate"; accuracy goal: within 1.5x of the Cramer-Rao bound at the
//! end of observation).
//!
//! Each seeded run flies a launch from tests/track_montecarlo.rs's family
//! (its radar and boost family; false plots off: this compares estimators,
//! not association), draws plot-level measurements with [`PlotRadar`], runs
//! tews's [`Tracker`] and [`Assessor`] to the end of observation (the last
//! look that updated the confirmed ballistic track, as track_montecarlo's
//! "last" check), and gives the same plots to tests/py/batch_fit.py: a
//! weighted nonlinear least-squares fit of the 6-D ECEF state with known
//! ballistic dynamics (its own SciPy J2 rotating-Earth propagator,
//! tests/py/ballistic_propagate.py, and pymap3d geometry; no tews code), its
//! covariance `(J' W J)^-1` (the Cramer-Rao bound of these measurements with
//! known dynamics, to first order) flown to impact by linearisation.
//!
//! Which plots the batch fit gets: those the track took (every object plot
//! but the rare one outside its gate, counted as "missed") from the true
//! burnout plus a margin (`TEWS_BATCH_MARGIN_S`, default 0 s) to the end of
//! observation. The fit assumes the dynamics exactly, so it must see no
//! thrust; in this simulation the flight after the true burnout time is
//! unpowered by construction (the boost is a simulator profile that ends
//! exactly then), so no margin is needed for validity, and each fit's
//! chi-square per degree of freedom is asserted to be ~1 (measured 0.91-1.10),
//! which it would not be with powered plots in it. A margin would make the
//! "bound" looser than what the ballistic plots allow: with 20 s dropped,
//! tews's ellipse is 0.57 of the fit's 60 s after burnout, because tews
//! used those 20 s. The time series below prints that fit beside the bound.
//!
//! Asserted: each batch fit converged with chi2/dof in [0.8, 1.25]; tews's
//! final 95% impact ellipse area is within [0.5, 2] of the batch fit's in
//! every run and on the mean over all runs (at most 5% of tracks unlatched in
//! ballistic flight); the number of runs whose true impact
//! point is inside each 95% ellipse (Mahalanobis d2 <= 5.991) is inside the
//! two-sided binomial 99% acceptance region of 0.95 for N runs. Printed: a
//! table per run (with the semi-major ratio 120 s after burnout), the mean
//! and extreme area and semi-major ratios (the accuracy goal's measure), and
//! for one representative run (the median final semi-major ratio) the
//! semi-major axes of both against time after burnout, the batch refitted on
//! the plots up to each time.
//!
//! `TEWS_BATCH_RUNS` (default 100: about 16 s on 2 cores in release,
//! measured) and `TEWS_BATCH_SEED` (default 3000) choose the runs. Needs
//! Python with numpy, scipy and pymap3d (`$TEWS_PYTHON`, else `python3`):
//! skipped locally without them, a failure under `TEWS_REQUIRE_EXTERNAL=1`.

mod common;

use std::process::Command;

use nalgebra::{Matrix2, Vector2, Vector3};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use tews::assess::{Assessment, Assessor, BoostFamily, K95};
use tews::geo::{Geodetic, LocalFrame};
use tews::sim::ballistic::{BallisticTruth, Launch, PlotRadar, fly};
use tews::track::{GaussianState, Measurement, RadarSite, TrackStatus, Tracker, TrackerConfig};

const EPOCH: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);
const LOOK_INTERVAL_S: f64 = 1.0;

/// tests/track_montecarlo.rs's radar, without false plots.
fn radar() -> PlotRadar {
    PlotRadar {
        site: RadarSite::new(40.0, 40.0, 100.0).unwrap(),
        range_sigma_m: 4.33,
        beamwidth_deg: 1.0,
        monopulse_slope: 1.6,
        reference_snr_db: 25.0,
        reference_range_m: 500e3,
        detection_threshold_db: 13.0,
        detection_probability: 0.9,
        min_elevation_deg: 0.5,
        false_plots_per_look: 0.0,
        false_range_window_m: (50e3, 1_500e3),
    }
}

fn at(t_s: f64) -> OffsetDateTime {
    EPOCH + time::Duration::seconds_f64(t_s)
}

/// tests/track_montecarlo.rs's launch family.
fn launch(rng: &mut ChaCha8Rng) -> Launch {
    Launch {
        latitude_deg: 37.5 + (rng.random::<f64>() - 0.5) * 0.5,
        longitude_deg: 43.0 + (rng.random::<f64>() - 0.5) * 0.5,
        azimuth_deg: 305.0 + 20.0 * rng.random::<f64>(),
        time_s: 10.0,
        boost: BoostFamily::default().sample(rng),
    }
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One tracked flight.
struct Run {
    seed: u64,
    truth: BallisticTruth,
    /// Offset of the tracker's epoch from `EPOCH`, s.
    offset_s: f64,
    /// Object plots the track took: (s since `EPOCH`, plot).
    plots: Vec<(f64, Measurement)>,
    /// Object plots after burnout the track did not take.
    missed_after_burnout: usize,
    /// Times (s after burnout) the track lost its ballistic flag (the NIS
    /// window's unlatching, tracker.rs) after having it.
    unlatched_s: Vec<f64>,
    /// The ballistic estimate at every look that updated the confirmed
    /// ballistic track: (look s since `EPOCH`, state in tracker time).
    states: Vec<(f64, GaussianState)>,
}

fn fly_and_track(seed: u64) -> Run {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let l = launch(&mut rng);
    let truth = fly(&l, LOOK_INTERVAL_S).expect("trajectory");
    let radar = radar();
    let mut tracker = Tracker::new(radar.site, TrackerConfig::default()).unwrap();
    let mut beam = (135.0, 5.0);
    let (mut plots, mut states, mut missed) = (Vec::new(), Vec::new(), 0);
    let mut track_plots = 0u32;
    let (mut was_ballistic, mut unlatched_s) = (false, Vec::new());
    for s in &truth.samples {
        let p: Vector3<f64> = s.state.fixed_rows::<3>(0).into();
        if let Some((_, az, el)) = radar.visible(&p) {
            beam = (az, el);
        }
        let look = radar.look(at(s.time_s), Some(&p), beam.0, beam.1, &mut rng);
        tracker.process_look(at(s.time_s), &look).expect("look");
        // No false plots: the one confirmed track is the object's.
        let Some(track) = tracker
            .tracks()
            .iter()
            .filter(|t| t.is_confirmed())
            .find(|t| (t.estimate().position() - p).norm() < 5e3)
        else {
            continue;
        };
        if was_ballistic && !track.ballistic {
            unlatched_s.push(s.time_s - truth.burnout.time_s);
        }
        was_ballistic = track.ballistic;
        let took = track.plots > track_plots;
        track_plots = track.plots;
        if let Some(m) = look.first() {
            if took {
                plots.push((s.time_s, *m));
            } else if s.time_s > truth.burnout.time_s {
                missed += 1;
            }
        }
        if track.ballistic && !s.powered && track.status == TrackStatus::Confirmed {
            states.push((s.time_s, track.ballistic_estimate()));
        }
    }
    Run {
        seed,
        offset_s: (tracker.epoch().expect("epoch") - EPOCH).as_seconds_f64(),
        truth,
        plots,
        missed_after_burnout: missed,
        unlatched_s,
        states,
    }
}

/// The batch fit's problem for `run`'s plots in `[from_s, to_s]` (s since `EPOCH`).
fn problem(run: &Run, from_s: f64, to_s: f64) -> Value {
    let g = radar().site.frame().origin;
    let plots: Vec<Value> = run
        .plots
        .iter()
        .filter(|(t, _)| *t >= from_s && *t <= to_s)
        .map(|(t, m)| {
            json!({
                "time_s": t,
                "range_m": m.range_m,
                "azimuth_deg": m.azimuth_deg,
                "elevation_deg": m.elevation_deg,
                "range_sigma_m": m.range_sigma_m,
                "azimuth_sigma_deg": m.azimuth_sigma_deg,
                "elevation_sigma_deg": m.elevation_sigma_deg,
            })
        })
        .collect();
    json!({
        "site": {
            "latitude_deg": g.latitude_deg,
            "longitude_deg": g.longitude_deg,
            "height_m": g.height_m,
        },
        "plots": plots,
    })
}

/// Runs tests/py/batch_fit.py on `problems`; one result per problem.
fn batch_fit(py: &std::path::Path, problems: Vec<Value>) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.json"), dir.path().join("out.json"));
    std::fs::write(&input, json!({ "problems": problems }).to_string()).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/batch_fit.py");
    let out = Command::new(py)
        .arg(&script)
        .arg(&input)
        .arg(&output)
        .output()
        .expect("start python");
    assert!(
        out.status.success(),
        "batch_fit.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply: Value = serde_json::from_slice(&std::fs::read(&output).unwrap()).unwrap();
    reply["results"].as_array().expect("results").clone()
}

/// The batch fit's impact: (95% ellipse semi-major m, semi-minor m, area m^2,
/// d2 of the true impact point, chi2 / dof, plots).
struct BatchImpact {
    a_m: f64,
    b_m: f64,
    area_m2: f64,
    d2: f64,
    chi2_dof: f64,
    plots: u64,
}

fn batch_impact(result: &Value, truth_ecef: &Vector3<f64>) -> BatchImpact {
    let f = |v: &Value| v.as_f64().expect("number");
    let imp = &result["impact"];
    let c = &imp["covariance_en_m2"];
    let cov = Matrix2::new(f(&c[0][0]), f(&c[0][1]), f(&c[1][0]), f(&c[1][1]));
    let frame = LocalFrame::new(Geodetic {
        latitude_deg: f(&imp["latitude_deg"]),
        longitude_deg: f(&imp["longitude_deg"]),
        height_m: 0.0,
    });
    let d = frame.ecef_to_enu(truth_ecef);
    let d = Vector2::new(d.x, d.y);
    let d2 = (d.transpose() * cov.try_inverse().expect("batch covariance") * d)[0];
    assert!(
        result["converged"].as_bool() == Some(true),
        "batch fit did not converge: {result}"
    );
    BatchImpact {
        a_m: f(&imp["ellipse"]["semi_major_m"]),
        b_m: f(&imp["ellipse"]["semi_minor_m"]),
        area_m2: f(&imp["ellipse"]["area_m2"]),
        d2,
        chi2_dof: f(&result["chi2"]) / f(&result["dof"]),
        plots: result["plots"].as_u64().unwrap(),
    }
}

/// The run's unlatching times after burnout, or "-".
fn unlatched(r: &Run) -> String {
    if r.unlatched_s.is_empty() {
        "-".into()
    } else {
        let t: Vec<String> = r.unlatched_s.iter().map(|t| format!("{t:.0}")).collect();
        t.join(",")
    }
}

fn assess(state: &GaussianState) -> Assessment {
    Assessor::default().assess(state).expect("assessment")
}

/// Two-sided 99% acceptance region `[lo, hi]` of the count of Bin(n, p).
fn binomial_99(n: usize, p: f64) -> (usize, usize) {
    let mut pmf = vec![(1.0 - p).powi(n as i32)];
    for k in 0..n {
        let next = pmf[k] * (n - k) as f64 / (k + 1) as f64 * p / (1.0 - p);
        pmf.push(next);
    }
    // lo: the largest k with P(K < k) <= 0.005; hi: the smallest with P(K > k) <= 0.005.
    let mut below = 0.0;
    let mut lo = 0;
    for (k, q) in pmf.iter().enumerate() {
        if below + q > 0.005 {
            lo = k;
            break;
        }
        below += q;
    }
    let mut above = 0.0;
    let mut hi = n;
    for k in (0..=n).rev() {
        if above + pmf[k] > 0.005 {
            hi = k;
            break;
        }
        above += pmf[k];
    }
    (lo, hi)
}

/// tews against the batch fit at one time of one run.
struct Compare {
    tews_a_m: f64,
    tews_b_m: f64,
    tews_d2: f64,
    batch: BatchImpact,
}

impl Compare {
    fn area_ratio(&self) -> f64 {
        std::f64::consts::PI * self.tews_a_m * self.tews_b_m / self.batch.area_m2
    }
    fn a_ratio(&self) -> f64 {
        self.tews_a_m / self.batch.a_m
    }
}

/// tews's last ballistic estimate at or before `t_s` (s since `EPOCH`).
fn tews_at(run: &Run, t_s: f64) -> Option<&GaussianState> {
    run.states
        .iter()
        .rev()
        .find(|(ts, _)| *ts <= t_s + 1e-9)
        .map(|(_, s)| s)
}

fn compare(state: &GaussianState, result: &Value, truth: &BallisticTruth) -> Compare {
    let a = assess(state);
    let impact_truth: Vector3<f64> = truth.impact.state.fixed_rows::<3>(0).into();
    Compare {
        tews_a_m: a.impact.ellipse.semi_major_m,
        tews_b_m: a.impact.ellipse.semi_minor_m,
        tews_d2: a.impact.mahalanobis2(&impact_truth),
        batch: batch_impact(result, &impact_truth),
    }
}

/// Mean, min and max of `v`.
fn stats(v: impl Iterator<Item = f64>) -> (f64, f64, f64) {
    let v: Vec<f64> = v.collect();
    let n = v.len() as f64;
    (
        v.iter().sum::<f64>() / n,
        v.iter().copied().fold(f64::INFINITY, f64::min),
        v.iter().copied().fold(0.0, f64::max),
    )
}

/// Time after burnout of the mid-course comparison, s.
const MID_S: f64 = 120.0;

#[test]
fn impact_ellipse_matches_an_independent_batch_fit() {
    let Some(py) = common::python_with(&["numpy", "scipy", "pymap3d"]) else {
        return;
    };
    let runs: u64 = env_or("TEWS_BATCH_RUNS", 100);
    let first_seed: u64 = env_or("TEWS_BATCH_SEED", 3000);
    let margin_s: f64 = env_or("TEWS_BATCH_MARGIN_S", 0.0);
    let started = std::time::Instant::now();
    let flights: Vec<Run> = (0..runs).map(|i| fly_and_track(first_seed + i)).collect();
    for r in &flights {
        assert!(
            !r.states.is_empty(),
            "seed {}: no confirmed ballistic track",
            r.seed
        );
        // Plots are recorded once the track is confirmed: confirmed in the
        // boost, the batch fit misses none of the ballistic ones it took.
        assert!(
            r.plots[0].0 < r.truth.burnout.time_s,
            "seed {}: track confirmed only after burnout",
            r.seed
        );
    }
    let end_s = |r: &Run| r.states.last().unwrap().0;
    let from_s = |r: &Run| r.truth.burnout.time_s + margin_s;
    let mid_s = |r: &Run| r.truth.burnout.time_s + MID_S;
    // One Python run: every run's final fit, then its mid-course fit.
    let mut problems: Vec<Value> = flights
        .iter()
        .map(|r| problem(r, from_s(r), end_s(r)))
        .collect();
    problems.extend(flights.iter().map(|r| problem(r, from_s(r), mid_s(r))));
    let results = batch_fit(&py, problems);
    let (finals, mids) = results.split_at(flights.len());

    eprintln!(
        "batch fit on the plots the track took from burnout + {margin_s} s; a95 b95: 95% impact ellipse semi-axes; \
         ratios tews / batch; d2: Mahalanobis distance^2 of the true impact point (inside the 95% ellipse when <= 5.99)"
    );
    eprintln!(
        " seed | end after bo s | plots | missed | unlatched at s | tews a95 b95 km | batch a95 b95 km | area ratio | a ratio | tews d2 | batch d2 | chi2/dof | a ratio at {MID_S} s"
    );
    let mut rows: Vec<(Compare, Option<Compare>)> = Vec::new();
    for ((r, fin), mid) in flights.iter().zip(finals).zip(mids) {
        let c = compare(&r.states.last().unwrap().1, fin, &r.truth);
        let m = tews_at(r, mid_s(r)).map(|s| compare(s, mid, &r.truth));
        eprintln!(
            " {:4} | {:14.0} | {:5} | {:6} | {:>14} | {:6.3} {:6.3}   | {:6.3} {:6.3}    | {:10.3} | {:7.3} | {:7.2} | {:8.2} | {:8.3} | {}",
            r.seed,
            end_s(r) - r.truth.burnout.time_s,
            c.batch.plots,
            r.missed_after_burnout,
            unlatched(r),
            c.tews_a_m / 1e3,
            c.tews_b_m / 1e3,
            c.batch.a_m / 1e3,
            c.batch.b_m / 1e3,
            c.area_ratio(),
            c.a_ratio(),
            c.tews_d2,
            c.batch.d2,
            c.batch.chi2_dof,
            m.as_ref()
                .map_or("not ballistic".into(), |m| format!("{:.3}", m.a_ratio())),
        );
        rows.push((c, m));
    }
    let area = stats(rows.iter().map(|r| r.0.area_ratio()));
    let major = stats(rows.iter().map(|r| r.0.a_ratio()));
    let mid_area = stats(
        rows.iter()
            .filter_map(|r| r.1.as_ref())
            .map(|m| m.area_ratio()),
    );
    let mid_major = stats(
        rows.iter()
            .filter_map(|r| r.1.as_ref())
            .map(|m| m.a_ratio()),
    );
    let clean = stats(
        rows.iter()
            .zip(&flights)
            .filter(|(_, f)| f.unlatched_s.is_empty())
            .map(|(r, _)| r.0.a_ratio()),
    );
    let n_unlatched = flights.iter().filter(|f| !f.unlatched_s.is_empty()).count();
    let over_goal = rows.iter().filter(|r| r.0.a_ratio() > 1.5).count();
    let k2 = K95 * K95;
    let tews_in = rows.iter().filter(|r| r.0.tews_d2 <= k2).count();
    let batch_in = rows.iter().filter(|r| r.0.batch.d2 <= k2).count();
    let (lo, hi) = binomial_99(rows.len(), 0.95);
    let n = rows.len();
    eprintln!(
        "\n{n} runs, end of observation: area ratio mean {:.3} min {:.3} max {:.3}; semi-major ratio mean {:.3} min {:.3} max {:.3} \
         ({over_goal} over the 1.5x goal; {} runs whose track never unlatched: mean {:.3} max {:.3}; {n_unlatched} runs unlatched); \
         {MID_S} s after burnout ({} runs): area ratio mean {:.3} max {:.3}, semi-major ratio mean {:.3} max {:.3}; \
         inside 95%: tews {tews_in}/{n}, batch {batch_in}/{n} (binomial 99% region [{lo}, {hi}]); batch chi2/dof mean {:.3}",
        area.0,
        area.1,
        area.2,
        major.0,
        major.1,
        major.2,
        n - n_unlatched,
        clean.0,
        clean.2,
        rows.iter().filter(|r| r.1.is_some()).count(),
        mid_area.0,
        mid_area.2,
        mid_major.0,
        mid_major.2,
        stats(rows.iter().map(|r| r.0.batch.chi2_dof)).0,
    );

    // The accuracy-goal figure: one representative run (the median final
    // semi-major ratio), tews and the batch fit every 60 s after burnout.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| rows[i].0.a_ratio().total_cmp(&rows[j].0.a_ratio()));
    let rep = &flights[order[n / 2]];
    let burnout = rep.truth.burnout.time_s;
    let rep_end = end_s(rep);
    let mut times: Vec<f64> = (1..)
        .map(|k| burnout + 60.0 * k as f64)
        .take_while(|t| *t < rep_end)
        .collect();
    times.push(rep_end);
    // Beside the bound, the fit without the first 20 s of ballistic plots.
    let late_s = 20.0;
    let series = batch_fit(
        &py,
        times
            .iter()
            .flat_map(|t| {
                [
                    problem(rep, from_s(rep), *t),
                    problem(rep, burnout + late_s, *t),
                ]
            })
            .collect(),
    );
    eprintln!(
        "\nImpact ellipse against time after burnout, run seed {} (the median final ratio; burnout {:.1} s after launch, \
         impact {:.0} s after burnout; the batch fit on the plots up to each time, from burnout + {margin_s} s (the bound) \
         and from burnout + {late_s} s):",
        rep.seed,
        burnout - rep.truth.launch.time_s,
        rep.truth.impact.time_s - burnout,
    );
    eprintln!(
        " time after burnout s | tews a95 km | batch a95 km | ratio | batch from +{late_s} s a95 km | ratio"
    );
    for (t, pair) in times.iter().zip(series.chunks(2)) {
        let label = if *t == rep_end {
            format!("{:.0} (end)", t - burnout)
        } else {
            format!("{:.0}", t - burnout)
        };
        match tews_at(rep, *t) {
            Some(s) => {
                let (c, late) = (
                    compare(s, &pair[0], &rep.truth),
                    compare(s, &pair[1], &rep.truth),
                );
                eprintln!(
                    " {label:>20} | {:11.3} | {:12.3} | {:5.2} | {:25.3} | {:5.2}",
                    c.tews_a_m / 1e3,
                    c.batch.a_m / 1e3,
                    c.a_ratio(),
                    late.batch.a_m / 1e3,
                    late.a_ratio(),
                )
            }
            None => eprintln!(" {label:>20} | not ballistic"),
        }
    }
    eprintln!(
        "\n(tracker offset {:.0} s; {:.1} s in all)",
        rep.offset_s,
        started.elapsed().as_secs_f64()
    );

    for (r, (c, _)) in flights.iter().zip(&rows) {
        assert!(
            (0.8..1.25).contains(&c.batch.chi2_dof),
            "seed {}: batch chi2/dof {:.3}: the known-dynamics model does not fit its plots",
            r.seed,
            c.batch.chi2_dof
        );
        // Every run within [0.5, 2]. History: with the NIS window's unlatch
        // test at the 0.999 point of chi-square 30 (tested at every look, a
        // few hundred chances per flight), 10 of these 100 runs were
        // unlatched in true ballistic flight and the powered model's
        // variance given back inflated their ellipses up to 8x in area
        // (1.9x in semi-major axis); at the 1 - 1e-5 point (tracker.rs,
        // NIS_WINDOW_LIMIT) 1 run of 100 unlatched and the worst area ratio
        // was 1.20.
        assert!(
            (0.5..=2.0).contains(&c.area_ratio()),
            "seed {}: tews/batch impact ellipse area ratio {:.3} outside [0.5, 2]",
            r.seed,
            c.area_ratio()
        );
    }
    // False unlatching in ballistic flight stays rare.
    let unlatched = flights.iter().filter(|r| !r.unlatched_s.is_empty()).count();
    assert!(
        unlatched * 100 <= 5 * flights.len(),
        "{unlatched} of {} tracks unlatched in ballistic flight",
        flights.len()
    );
    assert!(
        (0.5..=2.0).contains(&area.0),
        "mean tews/batch area ratio {:.3} outside [0.5, 2]",
        area.0
    );
    assert!(
        (lo..=hi).contains(&tews_in),
        "tews: {tews_in} of {n} true impacts inside the 95% ellipse, outside [{lo}, {hi}]"
    );
    assert!(
        (lo..=hi).contains(&batch_in),
        "batch: {batch_in} of {n} true impacts inside the 95% ellipse, outside [{lo}, {hi}]"
    );
}

#[test]
fn binomial_acceptance_region() {
    // Bin(20, 0.95): P(K <= 15) = 0.0026, P(K <= 16) = 0.016.
    assert_eq!(binomial_99(20, 0.95), (16, 20));
    let (lo, hi) = binomial_99(100, 0.5);
    assert!(
        (36..=38).contains(&lo) && (62..=64).contains(&hi),
        "{lo} {hi}"
    );
}
