//! Tracks, warnings and CAP alerts onto the partners' NATS fabric: a
//! [`SituationSink`] beside the plot output ([`super::NatsSink`]), with the
//! same `[site]`, `[sharing]` and `[[partner]]` settings.
//!
//! # Subjects
//! With `[site] nation = N, name = S, sensor = R` and partners `P`:
//!
//! | subject | payload, one message per report |
//! | --- | --- |
//! | `tews.tracks.N.S.R` | every track report: its formats.md §6 JSON line (no newline), exactly as `tracks:PATH` writes it |
//! | `tews.warnings.N.S.R` | every warning issue: its §7 JSON line, exactly as `warnings:PATH` writes it |
//! | `tews.cap.N.S.R` | every warning issue's CAP 1.2 alert ([`crate::output::cap`]), UTF-8 XML, as `cap:DIR` writes it |
//! | `tews.release.P.N.S.R.tracks` | the track reports P's policy releases, unchanged |
//! | `tews.release.P.N.S.R.warnings` | the warnings P's policy releases, unchanged |
//! | `tews.release.P.N.S.R.cap` | the CAP alerts of those warnings, unchanged |
//!
//! The national subjects are `tews.<kind>.N.S.R` like the plots', so they
//! stay in the nation's account. The releases sit under the plot releases'
//! `tews.release.P.N.S.R` with the kind as a last token: the partner still
//! comes right after `release`, so the account export `tews.release.P.N.>`
//! (see `deploy/nats/`) carries a partner's tracks, warnings and alerts
//! with its plots and nothing of anyone else's, and no new export is
//! needed. A partner subscribes `tews.release.P.N.S.R.*` for all three or
//! one kind by name. Released reports are not thinned or edited: a partner
//! gets a report whole or not at all, the same bytes as the nation.
//!
//! # Release policy
//! Per partner ([`super::policy`], "Tracks and warnings"):
//! `release_warnings = true` (default) releases every warning and its CAP
//! alert; `release_tracks = "sector"` (default) releases a track report when
//! the track's position, seen from the site, is inside the partner's
//! `azimuth_sectors_deg` and range limits (where it gets the plots), `"all"`
//! or `"none"` otherwise. The site position is `[site] latitude_deg`,
//! `longitude_deg`, `height_m` ([`NatsSituationSink::open`]) or the one the
//! tracker uses ([`NatsSituationSink::open_with`]; for recorded input,
//! the recording's). Without one, a partner limited by sector or range gets
//! no tracks (withheld, not guessed; said once at start), an unlimited one
//! gets them all.
//!
//! # CAP
//! One [`CapWriter`] per output numbers each warning's issues (`Alert`,
//! then `Update`s referring to the issue before) and writes one document
//! per issue, the same bytes on every subject. The default context
//! ([`default_cap_context`]) is the one `cap:DIR` uses: sender
//! `R.S.N.tews`, restriction "partners of the sharing network". An issue
//! the writer refuses (an update of a warning it never saw) has no alert;
//! its JSON still goes out, and it is counted (`alerts_refused`).
//!
//! # Delivery: never blocking the tracking stage
//! The sink is called on the tracking stage's thread, which must never
//! wait for a network. Each call only turns its reports into messages
//! (serialisation, the policy, the CAP document: microseconds to a
//! millisecond) and queues them, one queue entry per report (a track
//! report, a warning or its alert, with all of its subjects' messages);
//! a background task on this output's own tokio runtime (one worker
//! thread, its own NATS connection, made and remade in the background
//! exactly as the plot output's) takes up to [`BATCH_REPORTS`] entries at
//! a time and sends them. Nothing the caller does waits on it, except
//! [`SituationSink::flush`] at the end of the run (at most
//! [`DEFAULT_DRAIN_TIMEOUT`]).
//!
//! - The queue holds [`QUEUE_REPORTS`] entries. When it is full the oldest
//!   *track report* is dropped and counted, so a burst of tracks never
//!   costs a warning; a warning or alert is dropped (the oldest) only when
//!   the queue holds nothing else.
//! - A batch has `[sharing] publish_timeout_s` to go out (only
//!   [`OUTAGE_WAIT`] while the server is known to be away, as for plots);
//!   what is not delivered by then is counted dropped. "Delivered" is as
//!   for plots: core NATS, every message of the report handed to a
//!   connected client *and* the client's flush towards the socket done
//!   within the time (at most once); JetStream, every message acknowledged
//!   by the stream (re-sent until the time is up, each with a `Nats-Msg-Id`
//!   unique to the run so a re-send is stored once).
//! - At the end of the run ([`SituationSink::flush`]) the queue has
//!   [`DEFAULT_DRAIN_TIMEOUT`] to empty; what is left is counted dropped.
//!
//! The counters ([`SituationStats`]) are read with
//! [`NatsSituationSink::stats`], or from another thread (after the sink is
//! handed to [`crate::output::situation::SituationFiles`]) with a
//! [`SituationMonitor`]; the end of the run logs them. At any time,
//! `sent + dropped + queued` is the number of reports written, per kind.
//!
//! A problem that cannot go away (a credentials file that cannot be read,
//! an existing JetStream stream that does not capture
//! `tews.release.*.N.S.R.*`) is returned by the next call, once; after it
//! every report is counted dropped.
//!
//! # JetStream
//! With `[sharing] jetstream = true` the messages go into the site's stream
//! (`TEWS-N-S-R` or `[sharing] stream`), created with every filter of
//! [`super::Subjects::stream_filters`] by whichever output comes first;
//! this output requires `tews.*.N.S.R` and `tews.release.*.N.S.R.*` of it.
//! A stream made by a tews from before this output captures only the first
//! two filters: the plots still go into it, and this output refuses it,
//! naming the filter (add it, e.g. `nats stream edit STREAM --subjects ...`,
//! or remove the stream).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream;
use bytes::Bytes;
use serde::Serialize;
use tokio::time::timeout_at;

use super::policy::PartnerPolicy;
use super::{
    NatsSettings, OUTAGE_WAIT, Subjects, connect, default_stream_name, ensure_stream, known_away,
};
use crate::assess::warning::WarningReport;
use crate::geo::{Geodetic, LocalFrame, azimuth_elevation_range};
use crate::output::OutputError;
use crate::output::cap::{CapContext, CapWriter};
use crate::output::fanout::DEFAULT_DRAIN_TIMEOUT;
use crate::output::identity::SiteIdentity;
use crate::output::situation::SituationSink;
use crate::track::TrackReport;

/// Reports (track reports, warnings, alerts) the queue holds.
pub const QUEUE_REPORTS: usize = 4096;

/// Reports the background task sends as one batch, under one deadline.
pub const BATCH_REPORTS: usize = 256;

/// Said once per outage: the output keeps trying and its reports are counted.
const RETRYING: &str =
    "retrying in the background; tracks and warnings not delivered meanwhile are counted dropped";

/// The subjects of one sensor's tracks, warnings and alerts (module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SituationSubjects {
    /// `tews.tracks.N.S.R`.
    pub tracks: String,
    /// `tews.warnings.N.S.R`.
    pub warnings: String,
    /// `tews.cap.N.S.R`.
    pub cap: String,
    /// Per partner, in `[[partner]]` order.
    pub release: Vec<ReleaseSubjects>,
}

/// One partner's release subjects of the tracking stage's reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseSubjects {
    /// `tews.release.P.N.S.R.tracks`.
    pub tracks: String,
    /// `tews.release.P.N.S.R.warnings`.
    pub warnings: String,
    /// `tews.release.P.N.S.R.cap`.
    pub cap: String,
}

impl SituationSubjects {
    /// The subjects for `site` and `partners`.
    pub fn new(site: &SiteIdentity, partners: &[PartnerPolicy]) -> Self {
        let tail = format!("{}.{}.{}", site.nation, site.name, site.sensor);
        let plots = Subjects::new(site, partners);
        SituationSubjects {
            tracks: format!("tews.tracks.{tail}"),
            warnings: format!("tews.warnings.{tail}"),
            cap: format!("tews.cap.{tail}"),
            release: plots
                .release
                .iter()
                .map(|r| ReleaseSubjects {
                    tracks: format!("{r}.tracks"),
                    warnings: format!("{r}.warnings"),
                    cap: format!("{r}.cap"),
                })
                .collect(),
        }
    }
}

/// The CAP context `cap:DIR` uses for a site: sender `R.S.N.tews`,
/// restriction "partners of the sharing network".
pub fn default_cap_context(site: &SiteIdentity) -> CapContext {
    CapContext {
        sender: format!("{}.{}.{}.tews", site.sensor, site.name, site.nation),
        releasability: "partners of the sharing network".into(),
    }
}

/// The site's position from `[site]` (all three keys, a valid position),
/// else `None`.
pub fn site_position(site: &SiteIdentity) -> Option<Geodetic> {
    match (site.latitude_deg, site.longitude_deg, site.height_m) {
        (Some(lat), Some(lon), Some(h)) => Geodetic::site(lat, lon, h).ok(),
        _ => None,
    }
}

/// What this output did, per kind of report (module docs, "Delivery").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SituationStats {
    /// Track reports delivered (on every subject they go to).
    pub tracks_sent: u64,
    /// Track reports not delivered (queue full, timed out, failed).
    pub tracks_dropped: u64,
    /// Warning issues delivered (their JSON).
    pub warnings_sent: u64,
    /// Warning issues not delivered.
    pub warnings_dropped: u64,
    /// CAP alerts delivered.
    pub alerts_sent: u64,
    /// CAP alerts not delivered.
    pub alerts_dropped: u64,
    /// Warning issues the CAP writer refused (no alert; the JSON still goes).
    pub alerts_refused: u64,
    /// Reports (of any kind) queued or being sent now.
    pub queued: u64,
    /// Per `[[partner]]`, in order: what was released to it and delivered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub releases: Vec<PartnerSituationRelease>,
}

/// The track reports, warnings and CAP alerts released to one partner and
/// delivered on its release subjects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PartnerSituationRelease {
    /// The partner's name (`[[partner]] name`).
    pub partner: String,
    /// Track reports delivered to the partner.
    pub tracks: u64,
    /// Warning issues delivered to the partner.
    pub warnings: u64,
    /// CAP alerts delivered to the partner.
    pub alerts: u64,
}

/// Reads an output's [`SituationStats`] from any thread.
#[derive(Clone)]
pub struct SituationMonitor(Arc<Shared>);

impl SituationMonitor {
    /// The counters now.
    pub fn stats(&self) -> SituationStats {
        self.0.lock().stats()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Track = 0,
    Warning = 1,
    Alert = 2,
}

struct Message {
    /// The partner of a release message (index into `[[partner]]`).
    partner: Option<usize>,
    subject: String,
    payload: Bytes,
    /// `Nats-Msg-Id` (JetStream only).
    id: Option<String>,
}

/// One report and all of its messages.
struct Entry {
    kind: Kind,
    messages: Vec<Message>,
}

struct State {
    queue: VecDeque<Entry>,
    /// Per kind, the entries of the batch the worker holds.
    in_flight: [u64; 3],
    /// The batch the worker holds (counts up from 1; 0: none yet).
    batch: u64,
    busy: bool,
    /// The batch given up by the end of the run's drain: its result is
    /// already counted dropped.
    abandoned: Option<u64>,
    closed: bool,
    /// A problem that cannot go away; `reported` once returned.
    failed: Option<String>,
    reported: bool,
    /// No batch waits past this (the end of the run's drain).
    drain_deadline: Option<Instant>,
    /// The queue overflowed and has not emptied since (said once).
    overflowing: bool,
    sent: [u64; 3],
    dropped: [u64; 3],
    alerts_refused: u64,
    /// Per partner, per kind: release messages delivered.
    released: Vec<[u64; 3]>,
    partner_names: Vec<String>,
}

impl State {
    fn stats(&self) -> SituationStats {
        let in_flight: u64 = self.in_flight.iter().sum();
        SituationStats {
            tracks_sent: self.sent[0],
            tracks_dropped: self.dropped[0],
            warnings_sent: self.sent[1],
            warnings_dropped: self.dropped[1],
            alerts_sent: self.sent[2],
            alerts_dropped: self.dropped[2],
            alerts_refused: self.alerts_refused,
            queued: self.queue.len() as u64 + in_flight,
            releases: self
                .partner_names
                .iter()
                .zip(&self.released)
                .map(|(partner, r)| PartnerSituationRelease {
                    partner: partner.clone(),
                    tracks: r[Kind::Track as usize],
                    warnings: r[Kind::Warning as usize],
                    alerts: r[Kind::Alert as usize],
                })
                .collect(),
        }
    }

    fn drop_queued(&mut self) -> u64 {
        let n = self.queue.len() as u64;
        for e in self.queue.drain(..) {
            self.dropped[e.kind as usize] += 1;
        }
        n
    }
}

struct Shared {
    state: Mutex<State>,
    /// The worker finished a batch (or failed): [`SituationSink::flush`] waits on it.
    done: Condvar,
    /// Entries were queued, or the sink closes.
    wake: tokio::sync::Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fail(&self, name: &str, problem: String) {
        tracing::error!("{name}: tracks and warnings: {problem}");
        let mut st = self.lock();
        st.drop_queued();
        st.failed.get_or_insert(problem);
        self.done.notify_all();
    }
}

/// The NATS output of tracks, warnings and CAP alerts (see the module docs).
pub struct NatsSituationSink {
    name: String,
    shared: Arc<Shared>,
    rt: Option<tokio::runtime::Runtime>,
    subjects: SituationSubjects,
    partners: Vec<PartnerPolicy>,
    frame: Option<LocalFrame>,
    cap: CapWriter,
    jetstream: bool,
    /// `Nats-Msg-Id` prefix unique to this run and output.
    run_id: String,
    next_id: u64,
}

impl NatsSituationSink {
    /// Opens the output with the site position of `[site]` (if given) and
    /// the default CAP context ([`default_cap_context`]); starts the runtime
    /// and the background connection, never waits for the server.
    pub fn open(settings: NatsSettings) -> Result<Self, OutputError> {
        let position = site_position(&settings.site);
        let cap = default_cap_context(&settings.site);
        Self::open_with(settings, position, cap)
    }

    /// As [`NatsSituationSink::open`], with the site `position` tracks are
    /// seen from for their release (give the tracker's, e.g. the
    /// recording's) and the CAP `cap` context.
    pub fn open_with(
        settings: NatsSettings,
        position: Option<Geodetic>,
        cap: CapContext,
    ) -> Result<Self, OutputError> {
        let name = format!("nats://{}", settings.server);
        let cap = CapWriter::new(cap).map_err(|e| OutputError::Spec {
            spec: name.clone(),
            problem: e.to_string(),
        })?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tews-nats-tracks")
            .enable_all()
            .build()
            .map_err(|source| OutputError::Io {
                name: name.clone(),
                source,
            })?;
        if position.is_none() {
            for p in &settings.partners {
                if p.release_tracks == super::TrackRelease::Sector && p.limits_geometry() {
                    tracing::warn!(
                        "{name}: partner {}: no site position (give [site] latitude_deg, longitude_deg, height_m), so its sector- or range-limited tracks are withheld",
                        p.name
                    );
                }
            }
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::with_capacity(QUEUE_REPORTS),
                in_flight: [0; 3],
                batch: 0,
                busy: false,
                abandoned: None,
                closed: false,
                failed: None,
                reported: false,
                drain_deadline: None,
                overflowing: false,
                sent: [0; 3],
                dropped: [0; 3],
                alerts_refused: 0,
                released: vec![[0; 3]; settings.partners.len()],
                partner_names: settings.partners.iter().map(|p| p.name.clone()).collect(),
            }),
            done: Condvar::new(),
            wake: tokio::sync::Notify::new(),
        });
        let run_id = format!(
            "{}-{}-t",
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
            std::process::id()
        );
        let subjects = SituationSubjects::new(&settings.site, &settings.partners);
        let partners = settings.partners.clone();
        let jetstream = settings.sharing.jetstream;
        rt.spawn(worker(Arc::clone(&shared), settings, name.clone()));
        Ok(NatsSituationSink {
            name,
            shared,
            rt: Some(rt),
            subjects,
            partners,
            frame: position.map(LocalFrame::new),
            cap,
            jetstream,
            run_id,
            next_id: 0,
        })
    }

    /// The subjects this output publishes to.
    pub fn subjects(&self) -> &SituationSubjects {
        &self.subjects
    }

    /// The counters now.
    pub fn stats(&self) -> SituationStats {
        self.shared.lock().stats()
    }

    /// A handle on the counters that outlives handing the sink over.
    pub fn monitor(&self) -> SituationMonitor {
        SituationMonitor(Arc::clone(&self.shared))
    }

    /// The failure, the first time it is asked after it happened.
    fn take_failure(&self) -> Result<(), OutputError> {
        let mut st = self.shared.lock();
        match st.failed.clone() {
            Some(problem) if !st.reported => {
                st.reported = true;
                Err(OutputError::Io {
                    name: self.name.clone(),
                    source: std::io::Error::other(format!("tracks and warnings: {problem}")),
                })
            }
            _ => Ok(()),
        }
    }

    fn message(&mut self, subject: &str, partner: Option<usize>, payload: &Bytes) -> Message {
        let id = self.jetstream.then(|| {
            self.next_id += 1;
            format!("{}-{}", self.run_id, self.next_id)
        });
        Message {
            partner,
            subject: subject.to_string(),
            payload: payload.clone(),
            id,
        }
    }

    /// Queues `entries` (never waits): drops the oldest track report, else
    /// the oldest entry, when the queue is full.
    fn enqueue(&self, entries: Vec<Entry>) {
        if entries.is_empty() {
            return;
        }
        let mut st = self.shared.lock();
        for entry in entries {
            if st.failed.is_some() {
                st.dropped[entry.kind as usize] += 1;
                continue;
            }
            if st.queue.len() >= QUEUE_REPORTS {
                let oldest = st
                    .queue
                    .iter()
                    .position(|e| e.kind == Kind::Track)
                    .unwrap_or(0);
                if let Some(old) = st.queue.remove(oldest) {
                    st.dropped[old.kind as usize] += 1;
                }
                if !st.overflowing {
                    st.overflowing = true;
                    tracing::warn!(
                        "{}: tracks and warnings: queue full ({QUEUE_REPORTS} reports), dropping the oldest track reports",
                        self.name
                    );
                }
            }
            st.queue.push_back(entry);
        }
        drop(st);
        self.shared.wake.notify_one();
    }
}

impl SituationSink for NatsSituationSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn write_tracks(&mut self, reports: &[TrackReport]) -> Result<(), OutputError> {
        self.take_failure()?;
        let mut entries = Vec::with_capacity(reports.len());
        for r in reports {
            // Numbers, a status and a valid time: serialisation cannot fail.
            let json = Bytes::from(serde_json::to_string(r).unwrap_or_default());
            let seen = self.frame.map(|frame| {
                let p = &r.position_ecef_m;
                let enu = frame.ecef_to_enu(&nalgebra::Vector3::new(p[0], p[1], p[2]));
                let (azimuth_deg, _, range_m) = azimuth_elevation_range(&enu);
                (azimuth_deg, range_m)
            });
            let mut messages = vec![self.message(&self.subjects.tracks.clone(), None, &json)];
            for k in 0..self.partners.len() {
                if self.partners[k].releases_track(seen) {
                    let subject = self.subjects.release[k].tracks.clone();
                    messages.push(self.message(&subject, Some(k), &json));
                }
            }
            entries.push(Entry {
                kind: Kind::Track,
                messages,
            });
        }
        self.enqueue(entries);
        Ok(())
    }

    fn write_warning(&mut self, warning: &WarningReport) -> Result<(), OutputError> {
        self.take_failure()?;
        let released: Vec<usize> = (0..self.partners.len())
            .filter(|&k| self.partners[k].release_warnings)
            .collect();
        let entry = |sink: &mut Self, kind: Kind, payload: Bytes| {
            let national = match kind {
                Kind::Alert => sink.subjects.cap.clone(),
                _ => sink.subjects.warnings.clone(),
            };
            let mut messages = vec![sink.message(&national, None, &payload)];
            for &k in &released {
                let r = &sink.subjects.release[k];
                let subject = match kind {
                    Kind::Alert => r.cap.clone(),
                    _ => r.warnings.clone(),
                };
                messages.push(sink.message(&subject, Some(k), &payload));
            }
            Entry { kind, messages }
        };
        let json = Bytes::from(serde_json::to_string(warning).unwrap_or_default());
        let mut entries = vec![entry(self, Kind::Warning, json)];
        match self.cap.write(warning) {
            Ok(alert) => entries.push(entry(self, Kind::Alert, Bytes::from(alert.xml))),
            Err(e) => {
                tracing::warn!(
                    "{}: no CAP alert for warning {} issue {}: {e}",
                    self.name,
                    warning.warning,
                    warning.sequence
                );
                self.shared.lock().alerts_refused += 1;
            }
        }
        self.enqueue(entries);
        Ok(())
    }

    /// Gives the queue [`DEFAULT_DRAIN_TIMEOUT`] to go out; what is left
    /// then is counted dropped. Logs the counters.
    fn flush(&mut self) -> Result<(), OutputError> {
        let deadline = Instant::now() + DEFAULT_DRAIN_TIMEOUT;
        let mut st = self.shared.lock();
        st.drain_deadline = Some(deadline);
        drop(st);
        self.shared.wake.notify_one();
        let mut st = self.shared.lock();
        while (!st.queue.is_empty() || st.busy) && st.failed.is_none() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = self
                .shared
                .done
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let mut left = st.drop_queued();
        if st.busy {
            let in_flight = std::mem::take(&mut st.in_flight);
            for (dropped, n) in st.dropped.iter_mut().zip(in_flight) {
                *dropped += n;
                left += n;
            }
            st.abandoned = Some(st.batch);
        }
        st.drain_deadline = None;
        let stats = st.stats();
        drop(st);
        if left > 0 {
            tracing::warn!(
                "{}: tracks and warnings: {left} reports not delivered by the end of the run",
                self.name
            );
        }
        tracing::info!(
            "{}: tracks sent {} dropped {}, warnings sent {} dropped {}, CAP alerts sent {} dropped {} refused {}",
            self.name,
            stats.tracks_sent,
            stats.tracks_dropped,
            stats.warnings_sent,
            stats.warnings_dropped,
            stats.alerts_sent,
            stats.alerts_dropped,
            stats.alerts_refused
        );
        for r in &stats.releases {
            tracing::info!(
                "{}: partner {}: {} track reports, {} warnings, {} CAP alerts released",
                self.name,
                r.partner,
                r.tracks,
                r.warnings,
                r.alerts
            );
        }
        self.take_failure()
    }
}

impl Drop for NatsSituationSink {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        // Never wait for the connection (or its TCP probe) to end.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// The background task: connects, then sends batches until closed.
async fn worker(shared: Arc<Shared>, settings: NatsSettings, name: String) {
    let conn_state = Arc::new(Mutex::new(String::new()));
    let client = match connect(settings.clone(), name.clone(), conn_state.clone(), RETRYING).await {
        Ok(client) => client,
        Err(problem) => return shared.fail(&name, problem),
    };
    let sharing = &settings.sharing;
    let js = sharing.jetstream.then(|| {
        let mut js = jetstream::new(client.clone());
        js.set_timeout(sharing.publish_timeout().min(Duration::from_secs(2)));
        js
    });
    let stream = sharing
        .stream
        .clone()
        .unwrap_or_else(|| default_stream_name(&settings.site));
    let [national, _, releases] = Subjects::stream_filters(&settings.site);
    let required = [national, releases];
    let mut stream_ready = false;
    let mut outage = false;
    loop {
        // The next batch, or the end.
        let (entries, batch, drain_deadline) = loop {
            {
                let mut st = shared.lock();
                if st.closed {
                    return;
                }
                if !st.queue.is_empty() {
                    let n = st.queue.len().min(BATCH_REPORTS);
                    let entries: Vec<Entry> = st.queue.drain(..n).collect();
                    for e in &entries {
                        st.in_flight[e.kind as usize] += 1;
                    }
                    st.busy = true;
                    st.batch += 1;
                    if st.queue.is_empty() {
                        st.overflowing = false;
                    }
                    break (entries, st.batch, st.drain_deadline);
                }
            }
            shared.wake.notified().await;
        };
        let mut timeout = sharing.publish_timeout();
        if outage || known_away(&conn_state, Some(&client)) {
            timeout = timeout.min(OUTAGE_WAIT);
        }
        if let Some(d) = drain_deadline {
            timeout = timeout.min(d.saturating_duration_since(Instant::now()));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut acked: Vec<Vec<bool>> = entries
            .iter()
            .map(|e| vec![false; e.messages.len()])
            .collect();
        let result = match &js {
            Some(js) => {
                publish_jetstream(
                    js,
                    &settings,
                    &stream,
                    &required,
                    &mut stream_ready,
                    &entries,
                    &mut acked,
                    &name,
                    deadline,
                )
                .await
            }
            None => {
                publish_core(&client, &conn_state, &entries, &mut acked, &name, deadline).await;
                Ok(())
            }
        };
        let delivered: Vec<bool> = acked.iter().map(|a| a.iter().all(|&x| x)).collect();
        let lost = delivered.iter().filter(|&&d| !d).count();
        let connected = client.connection_state() == async_nats::connection::State::Connected;
        let was_outage = outage;
        outage = lost > 0 && !connected;
        if lost > 0 && !was_outage {
            tracing::warn!(
                "{name}: {lost} of {} track reports, warnings and alerts not delivered within {} s",
                entries.len(),
                timeout.as_secs_f64()
            );
        }
        if was_outage && !outage {
            tracing::info!("{name}: tracks and warnings: delivering again");
        }
        {
            let mut st = shared.lock();
            if st.abandoned != Some(batch) {
                for ((e, d), a) in entries.iter().zip(&delivered).zip(&acked) {
                    let k = e.kind as usize;
                    if *d {
                        st.sent[k] += 1;
                    } else {
                        st.dropped[k] += 1;
                    }
                    for (m, &ok) in e.messages.iter().zip(a) {
                        if let (Some(p), true) = (m.partner, ok) {
                            st.released[p][k] += 1;
                        }
                    }
                }
                st.in_flight = [0; 3];
            }
            st.busy = false;
            shared.done.notify_all();
        }
        if let Err(problem) = result {
            return shared.fail(&name, problem);
        }
    }
}

/// Core NATS: hands every message to the client once it is connected, then
/// flushes; a message counts only when both happened by `deadline`.
async fn publish_core(
    client: &async_nats::Client,
    conn_state: &Mutex<String>,
    entries: &[Entry],
    acked: &mut [Vec<bool>],
    name: &str,
    deadline: tokio::time::Instant,
) {
    // A disconnected client would buffer the messages and report success:
    // only a connected one counts as sending. A failure reported meanwhile
    // cuts the wait to OUTAGE_WAIT.
    let waiting = tokio::time::Instant::now();
    while client.connection_state() != async_nats::connection::State::Connected {
        let now = tokio::time::Instant::now();
        if now >= deadline || (known_away(conn_state, Some(client)) && now - waiting >= OUTAGE_WAIT)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    'out: for (e, acked) in entries.iter().zip(acked.iter_mut()) {
        for (m, a) in e.messages.iter().zip(acked.iter_mut()) {
            let publish = client.publish(m.subject.clone(), m.payload.clone());
            match timeout_at(deadline, publish).await {
                Ok(Ok(())) => *a = true,
                Ok(Err(e)) => tracing::debug!("{name}: publish: {e}"),
                Err(_) => break 'out,
            }
        }
    }
    if !matches!(timeout_at(deadline, client.flush()).await, Ok(Ok(()))) {
        // Not known to have left: not delivered (at most once).
        tracing::debug!("{name}: flush failed or timed out (server away?)");
        acked.iter_mut().flatten().for_each(|a| *a = false);
    }
}

/// JetStream: publishes every unacknowledged message and waits for its
/// ack, again every 100 ms until all are acked or `deadline`; `Err` when
/// the stream cannot work.
#[allow(clippy::too_many_arguments)]
async fn publish_jetstream(
    js: &jetstream::Context,
    settings: &NatsSettings,
    stream: &str,
    required: &[String],
    stream_ready: &mut bool,
    entries: &[Entry],
    acked: &mut [Vec<bool>],
    name: &str,
    deadline: tokio::time::Instant,
) -> Result<(), String> {
    let mut warned = false;
    loop {
        if !*stream_ready {
            *stream_ready = ensure_stream(js, settings, stream, required, name, deadline).await?;
        }
        if *stream_ready {
            let mut pending = Vec::new();
            'send: for (i, e) in entries.iter().enumerate() {
                for (j, m) in e.messages.iter().enumerate().filter(|&(j, _)| !acked[i][j]) {
                    let mut headers = async_nats::HeaderMap::new();
                    if let Some(id) = &m.id {
                        headers.insert("Nats-Msg-Id", id.as_str());
                    }
                    let publish =
                        js.publish_with_headers(m.subject.clone(), headers, m.payload.clone());
                    match timeout_at(deadline, publish).await {
                        Ok(Ok(ack)) => pending.push((i, j, ack)),
                        Ok(Err(e)) => {
                            if !warned {
                                tracing::warn!("{name}: JetStream publish: {e}; retrying");
                                warned = true;
                            }
                            break 'send;
                        }
                        Err(_) => break 'send,
                    }
                }
            }
            for (i, j, ack) in pending {
                match timeout_at(deadline, ack).await {
                    Ok(Ok(_)) => acked[i][j] = true,
                    Ok(Err(e)) => {
                        if !warned {
                            tracing::warn!("{name}: JetStream ack: {e}; retrying");
                            warned = true;
                        }
                    }
                    Err(_) => {}
                }
            }
            if acked.iter().flatten().all(|&a| a) {
                return Ok(());
            }
        }
        if tokio::time::Instant::now() + Duration::from_millis(100) >= deadline {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::nats::{SharingConfig, TrackRelease, filter_covers};

    fn site() -> SiteIdentity {
        SiteIdentity {
            name: "north-1".into(),
            nation: "alpha".into(),
            sensor: "radar-a".into(),
            sac: 1,
            sic: 2,
            latitude_deg: None,
            longitude_deg: None,
            height_m: None,
            exercise: false,
        }
    }

    fn partner(name: &str) -> PartnerPolicy {
        PartnerPolicy {
            name: name.into(),
            azimuth_sectors_deg: vec![],
            min_range_m: 0.0,
            max_range_m: f64::INFINITY,
            min_snr_db: f64::NEG_INFINITY,
            withhold: vec![],
            release_tracks: TrackRelease::Sector,
            release_warnings: true,
        }
    }

    #[test]
    fn release_subjects_extend_the_plot_release_and_the_stream_captures_all() {
        let s = SituationSubjects::new(&site(), &[partner("bravo")]);
        assert_eq!(s.tracks, "tews.tracks.alpha.north-1.radar-a");
        assert_eq!(s.warnings, "tews.warnings.alpha.north-1.radar-a");
        assert_eq!(s.cap, "tews.cap.alpha.north-1.radar-a");
        let r = &s.release[0];
        assert_eq!(r.tracks, "tews.release.bravo.alpha.north-1.radar-a.tracks");
        assert_eq!(
            r.warnings,
            "tews.release.bravo.alpha.north-1.radar-a.warnings"
        );
        assert_eq!(r.cap, "tews.release.bravo.alpha.north-1.radar-a.cap");
        let filters = Subjects::stream_filters(&site());
        for subject in [
            &s.tracks,
            &s.warnings,
            &s.cap,
            &r.tracks,
            &r.warnings,
            &r.cap,
        ] {
            // The account export and exactly one stream filter hold it.
            assert!(
                filter_covers("tews.release.bravo.alpha.>", subject)
                    || !subject.contains("release")
            );
            assert_eq!(
                filters.iter().filter(|f| filter_covers(f, subject)).count(),
                1,
                "{subject}"
            );
        }
        // A plot release subscriber does not see the tracking subjects.
        assert!(!filter_covers(
            "tews.release.bravo.alpha.north-1.radar-a",
            &r.tracks
        ));
    }

    #[test]
    fn the_default_cap_sender_is_the_cap_dirs() {
        let c = default_cap_context(&site());
        assert_eq!(c.sender, "radar-a.north-1.alpha.tews");
        assert!(CapWriter::new(c).is_ok());
    }

    #[test]
    fn an_unusable_credentials_file_is_returned_once_then_counted() {
        let settings = NatsSettings {
            server: "127.0.0.1:1".into(),
            site: site(),
            sharing: SharingConfig {
                creds_file: Some("/nonexistent/tews.creds".into()),
                ..SharingConfig::default()
            },
            partners: vec![],
            asterix: crate::output::asterix::cat048::Cat048Config {
                site: crate::output::asterix::SiteId { sac: 1, sic: 2 },
                simulated: false,
            },
        };
        let mut sink = NatsSituationSink::open(settings).unwrap();
        let t0 = Instant::now();
        let mut err = None;
        while err.is_none() && t0.elapsed() < Duration::from_secs(10) {
            if let Err(e) = sink.write_tracks(&[]) {
                err = Some(e.to_string());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let err = err.expect("the failure is returned");
        assert!(err.contains("creds_file") && !err.contains('\n'), "{err}");
        assert!(sink.flush().is_ok(), "returned once");
    }
}
