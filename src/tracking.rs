//! The tracking stage: plots -> tracks -> assessments -> warnings, behind
//! the detector's bounded hand-off.
//!
//! [`TrackingStage`] is a [`PlotSink`]: the fan-out gives it each CPI's
//! plots on its own thread behind its own bounded queue, like any output,
//! so tracking and assessment never run on the detector's thread. It is the
//! record of the run (tracks and warnings files), so it does not thin its
//! input: a full queue makes the detector wait (back-pressure), as a file
//! output does. What it costs per CPI is measured by `tews bench --tracks`.
//!
//! Per CPI (one look): the plots with measured angles (monopulse) become
//! [`Measurement`]s at the CPI's effective measurement time, the tracker
//! processes the look (well under a millisecond with 100 tracks: `tews
//! bench --tracks 100`) and its reports go to the tracks outputs. Each
//! ballistic track's state is handed for assessment at most once per
//! [`ASSESS_INTERVAL_S`] of data time to the assessor's own thread: an
//! assessment flies a few dozen sigma points and boosts (tens of
//! milliseconds), so it never runs on the tracker's thread. Its results
//! come back to the stage, where the warning rule ([`WarningRule`]) decides
//! whether each is issued.
//!
//! # Assessment queue
//! - **Recordings** ([`AssessMode::Every`]): every due assessment is made,
//!   in order, so a recording gives the same warnings on every machine;
//!   when the assessor falls [`ASSESS_QUEUE`] states behind, the stage
//!   waits (back-pressure, as a file output gives).
//! - **Live input** ([`AssessMode::Latest`]): a track's state waiting for
//!   the assessor is replaced by its newer one (counted in
//!   `assessments_superseded`): a warning is always made from the freshest
//!   state the assessor could take, and the stage never waits. One
//!   assessor keeps each of 30 ballistic tracks assessed about every
//!   second; with more, each is assessed less often, never later than one
//!   round of the queue.
//!
//! # Measurement time
//! A plot's range and angles come from the pulses of its CPI summed with a
//! symmetric Doppler window, so they are those of the mean transmit time of
//! its pulses, `first pulse + (P - 1) pri / 2`, which the tracker uses.
//! (formats.md §1 names `first pulse + P pri / 2`; the half PRI between the
//! two is a range bias of `v pri / 2`, 20 m at 3 km/s and a 12 ms PRI: more
//! than a plot's range sigma, so the tracker takes the exact one.)
//!
//! Plots that carry the beam's angles (no monopulse) are not tracked: the
//! beam only says the target is somewhere in it, not a Gaussian
//! measurement. They are counted (`plots_without_angles`).

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use serde::Serialize;
use time::OffsetDateTime;

use crate::assess::warning::{WarningIssuer, WarningPoint, WarningRule};
use crate::assess::{AssessError, Assessment, Assessor};
use crate::output::situation::SituationFiles;
use crate::output::{BeamPosition, OutputError, Overflow, PlotSink};
use crate::plots::{AngleSource, Plot};
use crate::track::{GaussianState, Measurement, RadarSite, TrackStatus, Tracker, TrackerConfig};

/// Shortest data time between two assessments of one track, s.
pub const ASSESS_INTERVAL_S: f64 = 1.0;

/// States a recording's assessor may have waiting before the stage waits.
pub const ASSESS_QUEUE: usize = 64;

/// How the assessment queue behaves (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssessMode {
    /// Every due state is assessed, in order (recordings).
    Every,
    /// A waiting state is replaced by its track's newer one (live input).
    Latest,
}

struct Queue {
    jobs: VecDeque<(u64, GaussianState)>,
    closed: bool,
    superseded: u64,
}

struct Shared {
    queue: Mutex<Queue>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type AssessResult = (u64, Result<Assessment, AssessError>);

/// The assessor's thread and its queue.
struct AssessorThread {
    mode: AssessMode,
    shared: Arc<Shared>,
    results: Receiver<AssessResult>,
    worker: Option<JoinHandle<()>>,
}

impl AssessorThread {
    fn start(assessor: Assessor, mode: AssessMode) -> Self {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                closed: false,
                superseded: 0,
            }),
            changed: Condvar::new(),
        });
        let (tx, results): (Sender<AssessResult>, _) = channel();
        let worker_shared = Arc::clone(&shared);
        let worker = std::thread::Builder::new()
            .name("assessor".into())
            .spawn(move || {
                loop {
                    let job = {
                        let mut q = worker_shared.lock();
                        loop {
                            if let Some(job) = q.jobs.pop_front() {
                                break Some(job);
                            }
                            if q.closed {
                                break None;
                            }
                            q = worker_shared
                                .changed
                                .wait(q)
                                .unwrap_or_else(|e| e.into_inner());
                        }
                    };
                    worker_shared.changed.notify_all();
                    let Some((id, state)) = job else { break };
                    if tx.send((id, assessor.assess(&state))).is_err() {
                        break;
                    }
                }
            })
            .ok();
        AssessorThread {
            mode,
            shared,
            results,
            worker,
        }
    }

    /// Queues a state (module docs for what a full queue does).
    fn submit(&self, id: u64, state: GaussianState) {
        let mut q = self.shared.lock();
        match self.mode {
            AssessMode::Latest => {
                if let Some(job) = q.jobs.iter_mut().find(|(j, _)| *j == id) {
                    job.1 = state;
                    q.superseded += 1;
                    return;
                }
            }
            AssessMode::Every => {
                while q.jobs.len() >= ASSESS_QUEUE && self.worker.is_some() {
                    q = self
                        .shared
                        .changed
                        .wait(q)
                        .unwrap_or_else(|e| e.into_inner());
                }
            }
        }
        q.jobs.push_back((id, state));
        drop(q);
        self.shared.changed.notify_all();
    }

    /// Results ready now.
    fn ready(&self) -> Vec<AssessResult> {
        self.results.try_iter().collect()
    }

    /// Closes the queue, waits for what is in it, returns those results.
    fn finish(&mut self) -> Vec<AssessResult> {
        self.shared.lock().closed = true;
        self.shared.changed.notify_all();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
        self.results.try_iter().collect()
    }

    fn superseded(&self) -> u64 {
        self.shared.lock().superseded
    }
}

impl Drop for AssessorThread {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.changed.notify_all();
    }
}

/// The last issue of one warning, for the run summary.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WarningSummary {
    /// Warning id.
    pub warning: String,
    /// Its last sequence number.
    pub sequence: u32,
    /// Its last predicted impact (time, point, 95% ellipse).
    pub impact: WarningPoint,
    /// Its last estimated launch.
    pub launch: WarningPoint,
}

/// What the tracking stage did, for the run summary.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TrackingSummary {
    /// Looks (CPIs) processed by the tracker.
    pub looks: u64,
    /// Plots given to the tracker.
    pub plots_tracked: u64,
    /// Plots not tracked: they carry the beam's angles (no monopulse).
    pub plots_without_angles: u64,
    /// Plots the tracker refused as malformed.
    pub plots_rejected: u64,
    /// Tracks that were ever confirmed.
    pub tracks_confirmed: u64,
    /// Tracks that were ever judged ballistic.
    pub tracks_ballistic: u64,
    /// Assessments made.
    pub assessments: u64,
    /// Live input: states replaced in the assessor's queue by their
    /// track's newer one before they were assessed.
    pub assessments_superseded: u64,
    /// Assessments that failed (no ground crossing, a bad covariance).
    pub assessment_errors: u64,
    /// Warning issues (first issues and updates).
    pub warnings_issued: u64,
    /// Per warning, its last issue.
    pub warnings: Vec<WarningSummary>,
    /// Per NATS output (`nats://HOST:PORT`): tracks, warnings and CAP
    /// alerts sent and dropped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nats: Vec<(String, crate::output::nats::situation::SituationStats)>,
}

/// Who issues the warnings, and how.
#[derive(Debug, Clone)]
pub struct WarningIdentity {
    /// Nation token of the warning id.
    pub nation: String,
    /// Site token.
    pub site: String,
    /// Sensor token.
    pub sensor: String,
    /// Simulated input or a site in exercise mode.
    pub exercise: bool,
}

/// The stage: see the module docs.
pub struct TrackingStage {
    tracker: Tracker,
    assessor: AssessorThread,
    identity: WarningIdentity,
    issuer: Option<WarningIssuer>,
    files: SituationFiles,
    /// `(P - 1) pri / 2`: first pulse to measurement time, s.
    measurement_delay_s: f64,
    last_assessed_s: HashMap<u64, f64>,
    confirmed: std::collections::HashSet<u64>,
    ballistic: std::collections::HashSet<u64>,
    summary: Arc<Mutex<TrackingSummary>>,
}

/// Why the stage cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    /// Tracking needs the site position.
    #[error(
        "tracks, warnings and CAP outputs need the radar's position (the recording's core:geolocation, or [site] latitude_deg/longitude_deg/height_m)"
    )]
    NoSite,
    /// The tracker refused its site or settings.
    #[error(transparent)]
    Track(#[from] crate::track::TrackError),
}

impl TrackingStage {
    /// A stage for plots measured at `site` by a radar of `pulses` pulses
    /// at `pri_s`, writing to `files`. Returns the stage and a handle on
    /// its summary (read it after the run).
    pub fn new(
        site: Option<crate::geo::Geodetic>,
        pulses: usize,
        pri_s: f64,
        identity: WarningIdentity,
        files: SituationFiles,
        mode: AssessMode,
    ) -> Result<(Self, Arc<Mutex<TrackingSummary>>), TrackingError> {
        let site = site.ok_or(TrackingError::NoSite)?;
        let tracker = Tracker::new(
            RadarSite::new(site.latitude_deg, site.longitude_deg, site.height_m)?,
            TrackerConfig::default(),
        )?;
        let summary = Arc::new(Mutex::new(TrackingSummary::default()));
        Ok((
            TrackingStage {
                tracker,
                assessor: AssessorThread::start(Assessor::default(), mode),
                identity,
                issuer: None,
                files,
                measurement_delay_s: (pulses.max(1) as f64 - 1.0) * pri_s / 2.0,
                last_assessed_s: HashMap::new(),
                confirmed: Default::default(),
                ballistic: Default::default(),
                summary: Arc::clone(&summary),
            },
            summary,
        ))
    }

    fn summary(&self) -> std::sync::MutexGuard<'_, TrackingSummary> {
        self.summary.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn look(&mut self, time_utc: OffsetDateTime, plots: &[Plot]) -> Result<(), OutputError> {
        let Some(t) = crate::cpi::add_seconds_checked(time_utc, self.measurement_delay_s) else {
            return Ok(());
        };
        let mut without_angles = 0;
        let measurements: Vec<Measurement> = plots
            .iter()
            .filter(|p| {
                let ok = p.angle_source == AngleSource::Monopulse
                    && p.azimuth_sigma_deg.is_some()
                    && p.elevation_sigma_deg.is_some();
                without_angles += u64::from(!ok);
                ok
            })
            .map(|p| Measurement {
                time_utc: t,
                range_m: p.range_m,
                azimuth_deg: p.azimuth_deg,
                elevation_deg: p.elevation_deg,
                range_sigma_m: p.range_sigma_m,
                azimuth_sigma_deg: p.azimuth_sigma_deg.unwrap_or(f64::NAN),
                elevation_sigma_deg: p.elevation_sigma_deg.unwrap_or(f64::NAN),
            })
            .collect();
        let reports = match self.tracker.process_look(t, &measurements) {
            Ok(r) => r,
            Err(e) => {
                // Time running backwards (a replayed or restarted input):
                // this look is skipped, the tracks stand.
                tracing::warn!("tracking: look at {t} skipped: {e}");
                return Ok(());
            }
        };
        self.files.write_tracks(&reports)?;
        let epoch = self.tracker.epoch().unwrap_or(t);
        let id = &self.identity;
        self.issuer.get_or_insert_with(|| {
            WarningIssuer::new(
                &id.nation,
                &id.site,
                &id.sensor,
                id.exercise,
                WarningRule::default(),
                epoch,
            )
        });
        for track in self.tracker.tracks() {
            if track.is_confirmed() {
                self.confirmed.insert(track.id);
            }
            if !track.ballistic || track.status != TrackStatus::Confirmed {
                continue;
            }
            self.ballistic.insert(track.id);
            let state = track.ballistic_estimate();
            let due = self
                .last_assessed_s
                .get(&track.id)
                .is_none_or(|&last| state.time_s - last >= ASSESS_INTERVAL_S);
            if due {
                self.last_assessed_s.insert(track.id, state.time_s);
                self.assessor.submit(track.id, state);
            }
        }
        let live: std::collections::HashSet<u64> =
            self.tracker.tracks().iter().map(|t| t.id).collect();
        self.last_assessed_s.retain(|id, _| live.contains(id));
        let results = self.assessor.ready();
        self.issue(results)?;
        let rejected = self.tracker.rejected_plots();
        let (confirmed, ballistic) = (self.confirmed.len() as u64, self.ballistic.len() as u64);
        let mut s = self.summary();
        s.looks += 1;
        s.plots_tracked += measurements.len() as u64;
        s.plots_without_angles += without_angles;
        s.plots_rejected = rejected;
        s.tracks_confirmed = confirmed;
        s.tracks_ballistic = ballistic;
        Ok(())
    }

    /// Issues the warnings the rule wants from these assessment results,
    /// writes them, and counts.
    fn issue(&mut self, results: Vec<AssessResult>) -> Result<(), OutputError> {
        if results.is_empty() {
            return Ok(());
        }
        let mut issued = Vec::new();
        let (mut assessments, mut errors) = (0, 0);
        for (id, result) in results {
            assessments += 1;
            let Some(issuer) = self.issuer.as_mut() else {
                continue;
            };
            match result.map(|a| issuer.consider(id, &a)) {
                Ok(Ok(Some(w))) => issued.push(w),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => {
                    errors += 1;
                    tracing::warn!("track {id}: warning not issued: {e}");
                }
                Err(e) => {
                    errors += 1;
                    tracing::debug!("track {id}: assessment failed: {e}");
                }
            }
        }
        for w in &issued {
            self.files.write_warning(w)?;
            if w.sequence == 1 {
                tracing::info!(
                    "warning {}: impact {:.3} {:.3} at {} (95% ellipse {:.1} x {:.1} km), launch {:.3} {:.3}",
                    w.warning,
                    w.impact.latitude_deg,
                    w.impact.longitude_deg,
                    w.impact.time_utc,
                    w.impact.ellipse_95.semi_major_m / 1e3,
                    w.impact.ellipse_95.semi_minor_m / 1e3,
                    w.launch.latitude_deg,
                    w.launch.longitude_deg,
                );
            }
        }
        let superseded = self.assessor.superseded();
        let mut s = self.summary();
        s.assessments += assessments;
        s.assessment_errors += errors;
        s.assessments_superseded = superseded;
        for w in issued {
            s.warnings_issued += 1;
            let entry = WarningSummary {
                warning: w.warning.clone(),
                sequence: w.sequence,
                impact: w.impact,
                launch: w.launch,
            };
            match s.warnings.iter_mut().find(|x| x.warning == w.warning) {
                Some(x) => *x = entry,
                None => s.warnings.push(entry),
            }
        }
        Ok(())
    }
}

impl PlotSink for TrackingStage {
    fn name(&self) -> &str {
        "tracking"
    }

    /// Tracks need every look, and its files are the record of the run.
    fn overflow(&self) -> Overflow {
        Overflow::Block
    }

    fn write(&mut self, plots: &[Plot]) -> Result<(), OutputError> {
        // Without a beam position the look's time is the plots' own.
        match plots.first() {
            Some(p) => self.look(p.time_utc, plots),
            None => Ok(()),
        }
    }

    fn write_cpi(&mut self, beam: &BeamPosition, plots: &[Plot]) -> Result<(), OutputError> {
        self.look(beam.time_utc, plots)
    }

    fn finish(&mut self) -> Result<(), OutputError> {
        self.finish_uncommitted()?;
        self.commit()
    }

    fn finish_uncommitted(&mut self) -> Result<(), OutputError> {
        // The states still queued are assessed and their warnings written.
        let results = self.assessor.finish();
        self.issue(results)?;
        self.files.flush()
    }

    fn commit(&mut self) -> Result<(), OutputError> {
        self.files.commit()
    }
}
