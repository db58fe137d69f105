//! The tracker: parts assembled per look (one CPI's plots, one time).
//!
//! Per look: predict every track (IMM) -> gate and assign (GNN) -> update or
//! coast -> initiate from plots no track took (two-point, M-of-N
//! confirmation) -> delete -> report. Bad plots are counted and skipped; a
//! track whose filter fails numerically is dropped; nothing panics.

use serde::Serialize;
use time::OffsetDateTime;

use super::TrackError;
use super::associate::assign;
use super::filter::{GaussianState, Predictor, Updater};
use super::imm::{BALLISTIC, ImmModel, ImmState, POWERED};
use super::initiator::{Candidate, two_point};
use super::measurement::{Measurement, RadarSite};
use crate::geo::Geodetic;
use crate::geo::gravity::GravityModel;
use crate::geo::propagate::Propagator;

/// Tracker settings. Every value has a reason in its doc.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerConfig {
    /// Ballistic model's acceleration noise density, m^2/s^3: covers RK4
    /// and linearisation error only. It must stay tiny: after a few minutes
    /// at 1 Hz a 4 m range sigma pins the range rate to ~2 mm/s, and
    /// measured on the Monte Carlo (tests/track_montecarlo.rs) 1e-4 already
    /// halves the NEES (a conservative filter); 1e-8 keeps it at ~6.
    pub ballistic_psd_m2_s3: f64,
    /// Powered model's density, m^2/s^3: a thrust of ~35 m/s^2 held over a
    /// 1 s revisit is matched by `sqrt(q dt) ~ 40 m/s` of velocity noise.
    pub powered_psd_m2_s3: f64,
    /// Mean remaining boost when powered, s (boosts last one to three minutes).
    pub powered_sojourn_s: f64,
    /// Mean time before a ballistic object is powered again, s: a
    /// single-stage boost ends once, so this is long; it only keeps the
    /// powered model alive (probability ~1e-5) for recovery, without its
    /// loose covariance leaking into the ballistic estimate.
    pub ballistic_sojourn_s: f64,
    /// Gate on the normalised innovation squared (3 dof); 16.27 is the
    /// 0.999 point: a true plot is lost once in a thousand looks.
    pub gate_chi2: f64,
    /// Fastest object to initiate on, m/s (a 10 000 km ICBM peaks near 7.5 km/s).
    pub max_speed_mps: f64,
    /// M of M-of-N: plots needed to confirm (the initial two count).
    pub confirm_hits: u32,
    /// N of M-of-N: looks within which they must come.
    pub confirm_looks: u32,
    /// Consecutive misses after which a confirmed track is dropped.
    pub max_misses: u32,
    /// Looks a lone plot waits for a partner.
    pub candidate_looks: u32,
    /// Ballistic-model probability needed for the `ballistic` flag.
    pub ballistic_probability: f64,
    /// Consecutive updates at that probability before the flag is set. Ten,
    /// not fewer: a young track's covariance is so loose that both models
    /// fit its first plots and the sharper ballistic one wins on likelihood
    /// alone; measured on the Monte Carlo, five let tracks latch during the
    /// boost and lose the object.
    pub ballistic_updates: u32,
    /// Longest RK4 step in prediction, s.
    pub max_step_s: f64,
}

/// Looks in the NIS window of a latched ballistic track.
pub const NIS_WINDOW: usize = 10;
/// Unlatch when the window's NIS sum exceeds this: the 1 - 1e-5 point of
/// chi-square with `3 NIS_WINDOW = 30` dof (Wilson-Hilferty). A ballistic
/// track whose plots stop fitting (renewed thrust, a manoeuvre, a wrong
/// latch) gets its powered model back within ten looks: a 35 m/s^2 thrust
/// moves the plots by kilometres against metres of sigma. The window is
/// tested at every look, a few hundred times per flight, so the per-window
/// false rate must be far below one per flight: at the 0.999 point (59.70,
/// the first choice) 10-12 % of true ballistic flights were unlatched, and
/// the powered model's variance given back then inflated their impact
/// ellipses up to 1.9x the batch fit's (tests/track_batch_fit.rs); at
/// 1e-5 a flight of 500 looks is falsely unlatched well under 1 % of the
/// time (the windows overlap, so fewer still).
pub const NIS_WINDOW_LIMIT: f64 = 75.4;
/// Velocity variance given back to the powered model on unlatching,
/// (m/s)^2: five seconds of its process noise at the default density.
const UNLATCH_VELOCITY_VAR: f64 = 4000.0 * 5.0;

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            ballistic_psd_m2_s3: 1e-8,
            powered_psd_m2_s3: 4000.0,
            powered_sojourn_s: 60.0,
            ballistic_sojourn_s: 1e5,
            gate_chi2: 16.27,
            max_speed_mps: 8000.0,
            confirm_hits: 4,
            confirm_looks: 6,
            max_misses: 5,
            candidate_looks: 2,
            ballistic_probability: 0.99,
            ballistic_updates: 10,
            max_step_s: 2.0,
        }
    }
}

impl TrackerConfig {
    /// Rejects settings that would make the tracker meaningless.
    pub fn validate(&self) -> Result<(), TrackError> {
        let positive = [
            ("ballistic_psd_m2_s3", self.ballistic_psd_m2_s3),
            ("powered_psd_m2_s3", self.powered_psd_m2_s3),
            ("powered_sojourn_s", self.powered_sojourn_s),
            ("ballistic_sojourn_s", self.ballistic_sojourn_s),
            ("gate_chi2", self.gate_chi2),
            ("max_speed_mps", self.max_speed_mps),
            ("max_step_s", self.max_step_s),
        ];
        for (k, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(TrackError::BadConfig(format!("{k} = {v} must be positive")));
            }
        }
        if self.confirm_hits < 2 || self.confirm_looks < self.confirm_hits {
            return Err(TrackError::BadConfig(format!(
                "confirmation {} of {} looks: need 2 <= M <= N",
                self.confirm_hits, self.confirm_looks
            )));
        }
        if !(0.5..1.0).contains(&self.ballistic_probability) {
            return Err(TrackError::BadConfig(format!(
                "ballistic_probability = {} must be in [0.5, 1)",
                self.ballistic_probability
            )));
        }
        Ok(())
    }
}

/// Track status, formats.md §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackStatus {
    /// Initiated, not yet confirmed by M of N looks.
    Tentative,
    /// Confirmed and updated on this look.
    Confirmed,
    /// Confirmed, missed on this look, predicted.
    Coasting,
    /// Deleted on this look (its last report).
    Dropped,
}

/// One track.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// Track number, unique within the run.
    pub id: u64,
    /// Current status.
    pub status: TrackStatus,
    /// The IMM estimate.
    pub imm: ImmState,
    /// Plots associated so far.
    pub plots: u32,
    /// Looks since initiation, the initiating ones included.
    pub looks: u32,
    /// Consecutive misses.
    pub misses: u32,
    /// Consecutive updates with the ballistic model above the threshold.
    pub ballistic_streak: u32,
    /// Judged in unpowered flight; while set, the filter is latched to the
    /// ballistic model (see [`ImmModel::predict_latched`]).
    pub ballistic: bool,
    /// Normalised innovations squared of the last looks (latched tracks).
    pub recent_nis: std::collections::VecDeque<f64>,
    /// Time of the last associated plot, s since the epoch.
    pub last_update_s: f64,
    confirmed_once: bool,
}

impl Track {
    /// Combined (reported) estimate.
    pub fn estimate(&self) -> GaussianState {
        self.imm.combined()
    }
    /// The ballistic model's own estimate: what assessment propagates once
    /// the track is judged ballistic (conditioning on that judgement).
    pub fn ballistic_estimate(&self) -> GaussianState {
        self.imm.models[BALLISTIC]
    }
    /// Probability of the ballistic model.
    pub fn ballistic_probability(&self) -> f64 {
        self.imm.probabilities[BALLISTIC]
    }
    /// Confirmed at some point (confirmed or coasting, or dropped after).
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_once
    }
}

/// A track update as formats.md §6 writes it (field names exactly).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackReport {
    /// Track number.
    pub track: u64,
    /// Status.
    pub status: TrackStatus,
    /// Time of the state.
    #[serde(with = "time::serde::rfc3339")]
    pub time_utc: OffsetDateTime,
    /// ECEF position, m.
    pub position_ecef_m: [f64; 3],
    /// ECEF velocity, m/s.
    pub velocity_ecef_mps: [f64; 3],
    /// WGS-84 latitude, deg.
    pub latitude_deg: f64,
    /// WGS-84 longitude, deg.
    pub longitude_deg: f64,
    /// Height above the ellipsoid, m.
    pub height_m: f64,
    /// sqrt(trace) of the position covariance, m.
    pub position_sigma_m: f64,
    /// sqrt(trace) of the velocity covariance, m/s.
    pub velocity_sigma_mps: f64,
    /// Plots associated so far.
    pub plots: u32,
    /// Judged ballistic.
    pub ballistic: bool,
}

/// The assembled tracker for one site.
#[derive(Debug, Clone)]
pub struct Tracker {
    config: TrackerConfig,
    updater: Updater,
    model: ImmModel,
    epoch: Option<OffsetDateTime>,
    last_time_s: f64,
    tracks: Vec<Track>,
    candidates: Vec<Candidate>,
    next_id: u64,
    rejected_plots: u64,
}

impl Tracker {
    /// A tracker for plots measured at `site`.
    pub fn new(site: RadarSite, config: TrackerConfig) -> Result<Self, TrackError> {
        config.validate()?;
        let propagator = Propagator {
            model: GravityModel::J2,
            max_step_s: config.max_step_s,
        };
        let model = ImmModel {
            predictors: [
                Predictor {
                    propagator,
                    accel_psd_m2_s3: config.ballistic_psd_m2_s3,
                },
                Predictor {
                    propagator,
                    accel_psd_m2_s3: config.powered_psd_m2_s3,
                },
            ],
            powered_sojourn_s: config.powered_sojourn_s,
            ballistic_sojourn_s: config.ballistic_sojourn_s,
        };
        Ok(Tracker {
            config,
            updater: Updater { site },
            model,
            epoch: None,
            last_time_s: f64::NEG_INFINITY,
            tracks: Vec::new(),
            candidates: Vec::new(),
            next_id: 1,
            rejected_plots: 0,
        })
    }

    /// Live tracks (dropped ones are removed after their last report).
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// Plots refused as malformed so far.
    pub fn rejected_plots(&self) -> u64 {
        self.rejected_plots
    }

    /// The run's time origin (the first look's time), once there is one.
    pub fn epoch(&self) -> Option<OffsetDateTime> {
        self.epoch
    }

    /// Seconds of `t` since the epoch (setting the epoch on first use).
    pub fn seconds_since_epoch(&mut self, t: OffsetDateTime) -> f64 {
        let epoch = *self.epoch.get_or_insert(t);
        (t - epoch).as_seconds_f64()
    }

    /// Processes one look: all `plots` were measured at `time_utc`. Returns
    /// one report per track that exists after the look (and a last `dropped`
    /// report for each deleted track). Errors only when time runs backwards.
    pub fn process_look(
        &mut self,
        time_utc: OffsetDateTime,
        plots: &[Measurement],
    ) -> Result<Vec<TrackReport>, TrackError> {
        let t = self.seconds_since_epoch(time_utc);
        if t < self.last_time_s {
            return Err(TrackError::BadTime(format!(
                "look at {time_utc} is {} s before the previous one",
                self.last_time_s - t
            )));
        }
        self.last_time_s = t;
        let mut good: Vec<Measurement> = Vec::with_capacity(plots.len());
        for p in plots {
            match p.validate() {
                Ok(()) => good.push(*p),
                Err(_) => self.rejected_plots += 1,
            }
        }

        // Predict and gate.
        let mut predictions = Vec::with_capacity(self.tracks.len());
        let mut costs = Vec::with_capacity(self.tracks.len());
        for track in &self.tracks {
            let pred = if track.ballistic {
                self.model.predict_latched(&track.imm, t).ok()
            } else {
                self.model.predict(&track.imm, t).ok()
            };
            // Gate on the best-fitting model, not the mixture: while the
            // ballistic model dominates a boosting track, its prediction
            // drifts off the plots and a mixture gate would reject the very
            // plots that should revive the powered model (measured: tracks
            // lost in boost). Each model's predicted measurement is made
            // once for all plots.
            let gates: Vec<_> = pred
                .iter()
                .flat_map(|p| p.models.iter().filter_map(|g| self.updater.gate(g)))
                .collect();
            let row = good
                .iter()
                .map(|m| {
                    gates
                        .iter()
                        .filter_map(|g| g.mahalanobis2(m, self.config.gate_chi2))
                        .min_by(f64::total_cmp)
                })
                .collect::<Vec<_>>();
            predictions.push(pred);
            costs.push(row);
        }
        let assignment = assign(&costs, good.len(), self.config.gate_chi2);
        let mut used = vec![false; good.len()];
        let mut reports = Vec::new();
        let mut keep = Vec::with_capacity(self.tracks.len());
        for ((mut track, pred), plot) in self.tracks.drain(..).zip(predictions).zip(assignment) {
            let Some(pred) = pred else {
                track.status = TrackStatus::Dropped;
                reports.extend(report(&track, time_utc));
                continue;
            };
            track.looks = track.looks.saturating_add(1);
            let updated = plot.and_then(|j| {
                let r = self.model.update(&self.updater, &pred, &good[j]).ok()?;
                used[j] = true;
                Some(r)
            });
            match updated {
                Some((imm, innovation)) => {
                    track.imm = imm;
                    track.recent_nis.push_back(innovation.mahalanobis2);
                    if track.recent_nis.len() > NIS_WINDOW {
                        track.recent_nis.pop_front();
                    }
                    track.plots = track.plots.saturating_add(1);
                    track.misses = 0;
                    track.last_update_s = t;
                    if track.ballistic_probability() >= self.config.ballistic_probability {
                        track.ballistic_streak = track.ballistic_streak.saturating_add(1);
                    } else {
                        track.ballistic_streak = 0;
                    }
                    if track.ballistic
                        && track.recent_nis.len() == NIS_WINDOW
                        && track.recent_nis.iter().sum::<f64>() > NIS_WINDOW_LIMIT
                    {
                        unlatch(&mut track);
                    }
                }
                None => {
                    track.imm = self.model.coast(&pred);
                    track.misses = track.misses.saturating_add(1);
                }
            }
            let c = &self.config;
            let drop = match track.status {
                TrackStatus::Tentative => {
                    if track.plots >= c.confirm_hits {
                        track.status = TrackStatus::Confirmed;
                        track.confirmed_once = true;
                        false
                    } else {
                        // Can it still reach M within N?
                        let left = c.confirm_looks.saturating_sub(track.looks);
                        track.plots + left < c.confirm_hits
                    }
                }
                _ => {
                    track.status = if track.misses == 0 {
                        TrackStatus::Confirmed
                    } else {
                        TrackStatus::Coasting
                    };
                    track.misses >= c.max_misses
                }
            };
            if !track.ballistic
                && track.confirmed_once
                && track.ballistic_streak >= c.ballistic_updates
            {
                latch(&mut track);
            }
            if drop {
                track.status = TrackStatus::Dropped;
            }
            reports.extend(report(&track, time_utc));
            if !drop {
                keep.push(track);
            }
        }
        self.tracks = keep;
        self.initiate(t, time_utc, &good, &used, &mut reports);
        Ok(reports)
    }

    /// Pairs plots no track took with waiting candidates (nearest first) into
    /// tentative tracks; the rest wait as candidates.
    fn initiate(
        &mut self,
        t: f64,
        time_utc: OffsetDateTime,
        plots: &[Measurement],
        used: &[bool],
        reports: &mut Vec<TrackReport>,
    ) {
        let site = self.updater.site;
        let mut pairs = Vec::new();
        for (j, m) in plots.iter().enumerate().filter(|(j, _)| !used[*j]) {
            for (k, c) in self.candidates.iter().enumerate() {
                if let Some(s) =
                    two_point(&site, &c.plot, c.time_s, m, t, self.config.max_speed_mps)
                {
                    let dist = (site.plot_position(m).0 - site.plot_position(&c.plot).0).norm();
                    pairs.push((dist, j, k, s));
                }
            }
        }
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut plot_taken = used.to_vec();
        let mut cand_taken = vec![false; self.candidates.len()];
        for (_, j, k, state) in pairs {
            if plot_taken[j] || cand_taken[k] {
                continue;
            }
            plot_taken[j] = true;
            cand_taken[k] = true;
            let looks = self.candidates[k].age_looks.saturating_add(1);
            let track = Track {
                id: self.next_id,
                status: TrackStatus::Tentative,
                imm: ImmState {
                    models: [state, state],
                    probabilities: [0.5, 0.5],
                },
                plots: 2,
                looks,
                misses: 0,
                ballistic_streak: 0,
                ballistic: false,
                recent_nis: std::collections::VecDeque::with_capacity(NIS_WINDOW + 1),
                last_update_s: t,
                confirmed_once: false,
            };
            self.next_id = self.next_id.saturating_add(1);
            reports.extend(report(&track, time_utc));
            self.tracks.push(track);
        }
        let max_age = self.config.candidate_looks;
        let mut next: Vec<Candidate> = self
            .candidates
            .iter()
            .zip(&cand_taken)
            .filter(|(_, taken)| !**taken)
            .map(|(c, _)| Candidate {
                age_looks: c.age_looks.saturating_add(1),
                ..*c
            })
            .filter(|c| c.age_looks <= max_age)
            .collect();
        next.extend(
            plots
                .iter()
                .zip(&plot_taken)
                .filter(|(_, taken)| !**taken)
                .map(|(m, _)| Candidate {
                    plot: *m,
                    time_s: t,
                    age_looks: 0,
                }),
        );
        self.candidates = next;
    }
}

/// Judges the track ballistic and latches its filter to the ballistic model.
fn latch(track: &mut Track) {
    track.ballistic = true;
    track.recent_nis.clear();
    track.imm.models[POWERED] = track.imm.models[BALLISTIC];
    track.imm.probabilities = [1.0 - 1e-12, 1e-12];
}

/// Back to the IMM: the plots no longer fit unpowered flight.
fn unlatch(track: &mut Track) {
    track.ballistic = false;
    track.ballistic_streak = 0;
    track.recent_nis.clear();
    let mut powered = track.imm.models[BALLISTIC];
    for i in 3..6 {
        powered.covariance[(i, i)] += UNLATCH_VELOCITY_VAR;
    }
    track.imm.models[POWERED] = powered;
    track.imm.probabilities = [0.5, 0.5];
}

/// The §6 report of a track at `time_utc`; `None` if its state is not finite.
pub fn report(track: &Track, time_utc: OffsetDateTime) -> Option<TrackReport> {
    let est = track.estimate();
    let p = est.position();
    let v = est.velocity();
    if !est.mean.iter().all(|x| x.is_finite()) {
        return None;
    }
    let g = Geodetic::from_ecef(&p);
    Some(TrackReport {
        track: track.id,
        status: track.status,
        time_utc,
        position_ecef_m: [p.x, p.y, p.z],
        velocity_ecef_mps: [v.x, v.y, v.z],
        latitude_deg: g.latitude_deg,
        longitude_deg: g.longitude_deg,
        height_m: g.height_m,
        position_sigma_m: est.position_sigma_m(),
        velocity_sigma_mps: est.velocity_sigma_mps(),
        plots: track.plots,
        ballistic: track.ballistic,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::propagate::StateVector;
    use nalgebra::Vector3;
    use time::macros::datetime;

    /// A plot of an ECEF point from `site`, noise-free, with plausible sigmas.
    fn plot_of(site: &RadarSite, p: &Vector3<f64>, t: OffsetDateTime) -> Measurement {
        let z = site.measure(p).unwrap();
        Measurement {
            time_utc: t,
            range_m: z.x,
            azimuth_deg: z.y.to_degrees(),
            elevation_deg: z.z.to_degrees(),
            range_sigma_m: 5.0,
            azimuth_sigma_deg: 0.02,
            elevation_sigma_deg: 0.02,
        }
    }

    #[test]
    fn confirm_coast_drop_and_report_fields() {
        let site = RadarSite::new(40.0, 40.0, 0.0).unwrap();
        let mut tracker = Tracker::new(site, TrackerConfig::default()).unwrap();
        // An object 300 km out at 100 km height, flying ballistically.
        let start = site.frame().enu_to_ecef(&Vector3::new(200e3, 200e3, 100e3));
        let v = site
            .frame()
            .rotate_to_ecef(&Vector3::new(-1500.0, -1000.0, 500.0));
        let mut x = StateVector::zeros();
        x.fixed_rows_mut::<3>(0).copy_from(&start);
        x.fixed_rows_mut::<3>(3).copy_from(&v);
        let prop = Propagator::default();
        let t0 = datetime!(2026-01-01 00:00 UTC);
        let mut statuses = Vec::new();
        for k in 0..16 {
            let t = t0 + time::Duration::seconds(k);
            let xk = prop.propagate(&x, k as f64).unwrap();
            let p: Vector3<f64> = xk.fixed_rows::<3>(0).into();
            // Plots on looks 0-9, then none: 5 misses drop a confirmed track.
            let plots = if k < 10 {
                vec![plot_of(&site, &p, t)]
            } else {
                vec![]
            };
            let reports = tracker.process_look(t, &plots).unwrap();
            statuses.push(reports.first().map(|r| r.status));
            if k == 9 {
                let r = &reports[0];
                assert_eq!(r.plots, 10, "two-point start on looks 0-1, then 8 updates");
                assert!((Vector3::from(r.position_ecef_m) - p).norm() < 50.0);
                let json = serde_json::to_value(r).unwrap();
                for key in [
                    "track",
                    "status",
                    "time_utc",
                    "position_ecef_m",
                    "velocity_ecef_mps",
                    "latitude_deg",
                    "longitude_deg",
                    "height_m",
                    "position_sigma_m",
                    "velocity_sigma_mps",
                    "plots",
                    "ballistic",
                ] {
                    assert!(json.get(key).is_some(), "{key}");
                }
                assert_eq!(json["status"], "confirmed");
                assert_eq!(json["time_utc"], "2026-01-01T00:00:09Z");
            }
        }
        use TrackStatus::*;
        // Look 0: a lone plot (no track); 1: tentative (2 plots); 2: 3 plots;
        // 3: 4 plots confirm; 10-13 coast; 14 the fifth miss drops; 15 nothing.
        assert_eq!(statuses[0], None);
        assert_eq!(
            &statuses[1..4],
            &[Some(Tentative), Some(Tentative), Some(Confirmed)]
        );
        assert_eq!(&statuses[10..14], &[Some(Coasting); 4]);
        assert_eq!(statuses[14], Some(Dropped));
        assert_eq!(statuses[15], None);
        assert!(tracker.tracks().is_empty());
    }

    #[test]
    fn time_going_backwards_and_bad_plots_are_handled() {
        let site = RadarSite::new(40.0, 40.0, 0.0).unwrap();
        let mut tracker = Tracker::new(site, TrackerConfig::default()).unwrap();
        let t0 = datetime!(2026-01-01 00:00 UTC);
        let bad = Measurement {
            time_utc: t0,
            range_m: f64::NAN,
            azimuth_deg: 0.0,
            elevation_deg: 10.0,
            range_sigma_m: 5.0,
            azimuth_sigma_deg: 0.02,
            elevation_sigma_deg: 0.02,
        };
        assert!(tracker.process_look(t0, &[bad]).unwrap().is_empty());
        assert_eq!(tracker.rejected_plots(), 1);
        assert!(
            tracker
                .process_look(t0 - time::Duration::seconds(1), &[])
                .is_err()
        );
        let bad_config = TrackerConfig {
            confirm_hits: 1,
            ..TrackerConfig::default()
        };
        assert!(Tracker::new(site, bad_config).is_err());
    }
}
