//! Bounded fan-out from the detector to its outputs.
//!
//! Every output runs on its own thread behind its own bounded queue of CPI
//! batches, so the detector hands a CPI's plots to all outputs in
//! microseconds and never waits for a socket. What happens when a queue is
//! full is each output's [`Overflow`] policy, written down here rather than
//! left to an unbounded channel:
//!
//! - **Network outputs drop the oldest batch** ([`Overflow::DropOldest`]): a
//!   warning network wants the newest picture, a stale plot that could not be
//!   sent in time is worth less than a fresh one, and the detector keeps its
//!   full rate. Every dropped plot is counted.
//! - **Local files block** ([`Overflow::Block`]): a file is the record of the
//!   run, so it is never thinned; a local disk gives bounded back-pressure,
//!   and a full disk is an error that fails the run (the `.partial` file is
//!   left, an earlier good output is not replaced).
//!
//! Two latencies are measured per plot, in microseconds, into HDR histograms
//! per output, both ending when the output's `write` returned (the report
//! left tews: handed to the kernel, the file's buffer, or the NATS client):
//!
//! - `latency_us_*`: from when its CPI's last sample reached the host
//!   ([`Plot::received_at`]): ingest, processing and output together.
//! - `output_us_*`: from when the detector pushed the CPI's plots
//!   ([`Outputs::push_cpi`]): what the output stage itself adds (queueing,
//!   the thread hand-off, encoding, the send).
//!
//! A plot an output accepted but could not deliver (a UDP send refused, a
//! plot the format cannot carry; see [`Undelivered`]) is counted as dropped
//! and kept out of the latencies. For every output, at any time,
//! `sent + dropped + queued` is the number of plots pushed, minus those
//! inside a `write` at that moment. [`Outputs::monitor`] gives a handle that
//! reads the counters from another thread (a metrics endpoint).

use crate::output::{BeamPosition, OutputError, PartnerRelease, PlotSink, Undelivered};
use crate::plots::Plot;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

/// CPI batches an output may hold before its overflow policy applies.
pub const DEFAULT_QUEUE_CPIS: usize = 64;

/// How long, by default, the end of a run waits for a network output to
/// send what it still holds ([`Outputs::set_drain_timeout`]); what is left
/// then is counted dropped. Files are always written out whole.
pub const DEFAULT_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// What an output does when its queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Drop the oldest queued batch, count its plots as dropped (network outputs).
    DropOldest,
    /// Wait for room (local files: never thinned).
    Block,
}

/// Counters of one output, as the summary and the metrics show them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OutputStats {
    /// The output as the user named it.
    pub name: String,
    /// Plots the output delivered.
    pub sent: u64,
    /// Plots not delivered: dropped because the queue was full or the output
    /// had failed, refused by the destination, or not encodable.
    pub dropped: u64,
    /// Plots waiting in the queue now.
    pub queued: u64,
    /// Send attempts the operating system refused (e.g. UDP datagrams to a
    /// port nobody listens on); their plots are in `dropped`.
    pub send_errors: u64,
    /// Median latency, last sample received to report sent, microseconds.
    pub latency_us_p50: u64,
    /// 99th percentile of the same, microseconds.
    pub latency_us_p99: u64,
    /// Largest latency seen, microseconds.
    pub latency_us_max: u64,
    /// Median time the output stage adds, plots pushed by the detector to
    /// report sent, microseconds.
    pub output_us_p50: u64,
    /// 99th percentile of the same, microseconds.
    pub output_us_p99: u64,
    /// Largest time the output stage added, microseconds.
    pub output_us_max: u64,
    /// Per partner of an output with a release policy (NATS): plots
    /// released, withheld and not delivered. Absent for other outputs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub releases: Vec<PartnerRelease>,
}

/// One CPI's plots as queued for one output.
struct Batch {
    beam: Option<BeamPosition>,
    plots: Arc<[Plot]>,
    /// When the detector pushed it: the start of `output_us`.
    pushed_at: Instant,
}

struct State {
    queue: VecDeque<Batch>,
    queued_plots: u64,
    closed: bool,
    /// When the run has ended: the time after which a network output drops
    /// what is still queued instead of waiting to send it.
    drain_deadline: Option<Instant>,
    /// Set by the worker when the output failed; later batches are dropped.
    failed: Option<OutputError>,
    /// The worker is inside `write` (so `queued` alone does not mean idle).
    busy: bool,
    sent: u64,
    dropped: u64,
    send_errors: u64,
    releases: Vec<PartnerRelease>,
    latency_us: Histogram<u64>,
    output_us: Histogram<u64>,
}

impl State {
    fn stats(&self, name: &str) -> OutputStats {
        OutputStats {
            name: name.to_string(),
            sent: self.sent,
            dropped: self.dropped,
            queued: self.queued_plots,
            send_errors: self.send_errors,
            latency_us_p50: self.latency_us.value_at_quantile(0.50),
            latency_us_p99: self.latency_us.value_at_quantile(0.99),
            latency_us_max: self.latency_us.max(),
            output_us_p50: self.output_us.value_at_quantile(0.50),
            output_us_p99: self.output_us.value_at_quantile(0.99),
            output_us_max: self.output_us.max(),
            releases: self.releases.clone(),
        }
    }
}

/// 1 us to 1 hour, 3 significant digits.
fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a batch is queued or the queue is closed.
    filled: Condvar,
    /// Signalled when a batch is taken or the worker is done with one.
    drained: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A worker that panicked mid-update leaves counters, not broken
        // invariants: keep going with what is there.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One output behind its queue and thread.
struct QueuedOutput {
    name: String,
    overflow: Overflow,
    capacity: usize,
    shared: Arc<Shared>,
    worker: Option<JoinHandle<Box<dyn PlotSink>>>,
}

/// The detector's outputs: [`Outputs::push`] hands a CPI's plots to every
/// output without waiting for any network.
pub struct Outputs {
    outputs: Vec<QueuedOutput>,
    drain_timeout: std::time::Duration,
}

impl Outputs {
    /// Starts one thread per sink, each with a queue of `queue_cpis` batches.
    pub fn start(sinks: Vec<Box<dyn PlotSink>>, queue_cpis: usize) -> Outputs {
        let outputs = sinks
            .into_iter()
            .map(|sink| {
                let name = sink.name().to_string();
                let overflow = sink.overflow();
                let shared = Arc::new(Shared {
                    state: Mutex::new(State {
                        queue: VecDeque::new(),
                        queued_plots: 0,
                        closed: false,
                        drain_deadline: None,
                        failed: None,
                        busy: false,
                        sent: 0,
                        dropped: 0,
                        send_errors: 0,
                        releases: Vec::new(),
                        latency_us: latency_histogram(),
                        output_us: latency_histogram(),
                    }),
                    filled: Condvar::new(),
                    drained: Condvar::new(),
                });
                let worker_shared = Arc::clone(&shared);
                let worker = std::thread::Builder::new()
                    .name(format!("output {name}"))
                    .spawn(move || work(sink, &worker_shared))
                    .ok();
                QueuedOutput {
                    name,
                    overflow,
                    capacity: queue_cpis.max(1),
                    shared,
                    worker,
                }
            })
            .collect();
        Outputs {
            outputs,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
        }
    }

    /// How long [`Outputs::finish`] waits for a network output (one that
    /// drops rather than blocks, [`Overflow::DropOldest`]) to send what it
    /// still holds; the rest is counted dropped. Default
    /// [`DEFAULT_DRAIN_TIMEOUT`].
    pub fn set_drain_timeout(&mut self, timeout: std::time::Duration) {
        self.drain_timeout = timeout;
    }

    /// Hands plots to every output without a beam position (no CAT034);
    /// see [`Outputs::push_cpi`].
    pub fn push(&self, plots: &[Plot]) -> Result<(), OutputError> {
        self.push_batch(None, plots)
    }

    /// Hands one CPI's beam position and plots to every output. Returns the
    /// first output failure seen (a failed output stops the run: its data is
    /// incomplete). A network output whose queue is full drops its oldest
    /// batch instead of waiting; a file output waits.
    pub fn push_cpi(&self, beam: BeamPosition, plots: &[Plot]) -> Result<(), OutputError> {
        self.push_batch(Some(beam), plots)
    }

    fn push_batch(&self, beam: Option<BeamPosition>, plots: &[Plot]) -> Result<(), OutputError> {
        let plots: Arc<[Plot]> = Arc::from(plots);
        let pushed_at = Instant::now();
        for out in &self.outputs {
            let batch = Batch {
                beam,
                plots: Arc::clone(&plots),
                pushed_at,
            };
            let mut state = out.shared.lock();
            if let Some(e) = state.failed.take() {
                state.closed = true;
                return Err(e);
            }
            if out.worker.is_none() {
                return Err(OutputError::Io {
                    name: out.name.clone(),
                    source: std::io::Error::other("could not start the output's thread"),
                });
            }
            while state.queue.len() >= out.capacity {
                match out.overflow {
                    Overflow::DropOldest => {
                        if let Some(old) = state.queue.pop_front() {
                            state.queued_plots -= old.plots.len() as u64;
                            state.dropped += old.plots.len() as u64;
                        }
                    }
                    Overflow::Block => {
                        state = out
                            .shared
                            .drained
                            .wait(state)
                            .unwrap_or_else(|e| e.into_inner());
                        if let Some(e) = state.failed.take() {
                            state.closed = true;
                            return Err(e);
                        }
                    }
                }
            }
            state.queued_plots += batch.plots.len() as u64;
            state.queue.push_back(batch);
            drop(state);
            out.shared.filled.notify_one();
        }
        Ok(())
    }

    /// Counters of every output now (for metrics while running).
    pub fn stats(&self) -> Vec<OutputStats> {
        self.outputs
            .iter()
            .map(|out| out.shared.lock().stats(&out.name))
            .collect()
    }

    /// A handle that reads every output's counters from any thread while the
    /// run goes on (for a metrics endpoint); it stays valid after the run.
    pub fn monitor(&self) -> OutputsMonitor {
        OutputsMonitor {
            outputs: self
                .outputs
                .iter()
                .map(|out| (out.name.clone(), Arc::clone(&out.shared)))
                .collect(),
        }
    }

    /// Waits until every queue is empty and no output is inside `write`
    /// (all plots pushed so far are sent or dropped).
    pub fn drain(&self) {
        for out in &self.outputs {
            let mut state = out.shared.lock();
            while (!state.queue.is_empty() || state.busy) && state.failed.is_none() {
                if out.worker.is_none() {
                    break;
                }
                state = out
                    .shared
                    .drained
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner());
            }
        }
    }

    /// Sends what is queued, then finishes (flushes, closes, renames) every
    /// output, and returns their final counters. Called once, at the end of a
    /// run that is to be kept (also a live run stopped by a signal).
    pub fn finish(self) -> Result<Vec<OutputStats>, OutputError> {
        let finished = self.finish_uncommitted()?;
        let stats = finished.stats().to_vec();
        finished.commit()?;
        Ok(stats)
    }

    /// As [`Outputs::finish`], but leaves the outputs to be put in place by
    /// [`FinishedOutputs::commit`] (files stay `.partial` until then, and
    /// are removed if it is dropped instead).
    pub fn finish_uncommitted(mut self) -> Result<FinishedOutputs, OutputError> {
        let mut sinks = Vec::new();
        let mut first_error = None;
        let deadline = Instant::now().checked_add(self.drain_timeout);
        for out in &self.outputs {
            let mut state = out.shared.lock();
            state.closed = true;
            if out.overflow == Overflow::DropOldest {
                state.drain_deadline = deadline;
            }
            drop(state);
            out.shared.filled.notify_all();
        }
        for out in &mut self.outputs {
            out.shared.lock().closed = true;
            out.shared.filled.notify_all();
            if let Some(worker) = out.worker.take() {
                match worker.join() {
                    Ok(sink) => sinks.push(sink),
                    Err(_) => {
                        first_error.get_or_insert(OutputError::Io {
                            name: out.name.clone(),
                            source: std::io::Error::other("the output's thread panicked"),
                        });
                    }
                }
            }
            if let Some(e) = out.shared.lock().failed.take() {
                first_error.get_or_insert(e);
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        for sink in &mut sinks {
            sink.finish_uncommitted()?;
        }
        let stats = self.stats();
        Ok(FinishedOutputs { sinks, stats })
    }
}

/// Outputs that have sent everything and are closed, waiting to be put in
/// place ([`Outputs::finish_uncommitted`]). Dropping it discards them.
pub struct FinishedOutputs {
    sinks: Vec<Box<dyn PlotSink>>,
    stats: Vec<OutputStats>,
}

impl FinishedOutputs {
    /// The outputs' final counters.
    pub fn stats(&self) -> &[OutputStats] {
        &self.stats
    }

    /// Puts every output in place (renames the files from `.partial`).
    pub fn commit(mut self) -> Result<(), OutputError> {
        for sink in &mut self.sinks {
            sink.commit()?;
        }
        Ok(())
    }
}

/// Reads the counters of a run's outputs from another thread; see
/// [`Outputs::monitor`].
#[derive(Clone)]
pub struct OutputsMonitor {
    outputs: Vec<(String, Arc<Shared>)>,
}

impl OutputsMonitor {
    /// Counters of every output now, in the order of the outputs.
    pub fn snapshot(&self) -> Vec<OutputStats> {
        self.outputs
            .iter()
            .map(|(name, shared)| shared.lock().stats(name))
            .collect()
    }
}

impl Drop for Outputs {
    /// A run that failed: stop the threads without finishing the outputs, so
    /// a file output is left as `.partial` and never replaces a good file.
    fn drop(&mut self) {
        for out in &mut self.outputs {
            {
                let mut state = out.shared.lock();
                state.closed = true;
                let n = state.queued_plots;
                state.queue.clear();
                state.queued_plots = 0;
                state.dropped += n;
            }
            out.shared.filled.notify_all();
            if let Some(worker) = out.worker.take() {
                let _ = worker.join();
            }
        }
    }
}

/// The output thread: takes batches in order, writes them, records latency.
/// Returns the sink so that `finish` runs on the caller's thread.
fn work(mut sink: Box<dyn PlotSink>, shared: &Shared) -> Box<dyn PlotSink> {
    raise_priority(sink.name());
    loop {
        let batch = {
            let mut state = shared.lock();
            loop {
                if let Some(deadline) = state.drain_deadline
                    && Instant::now() >= deadline
                {
                    // The run has ended and the drain time is up.
                    let n = state.queued_plots;
                    state.queue.clear();
                    state.queued_plots = 0;
                    state.dropped += n;
                    sink.drain_until(deadline);
                    return sink;
                }
                if let Some(batch) = state.queue.pop_front() {
                    state.queued_plots -= batch.plots.len() as u64;
                    state.busy = true;
                    if let Some(deadline) = state.drain_deadline {
                        sink.drain_until(deadline);
                    }
                    break batch;
                }
                if state.closed {
                    if let Some(deadline) = state.drain_deadline {
                        sink.drain_until(deadline);
                    }
                    return sink;
                }
                state = shared.filled.wait(state).unwrap_or_else(|e| e.into_inner());
            }
        };
        shared.drained.notify_all();
        // A panicking sink is a bug, but it must not hang a detector that
        // waits on its queue: it fails like any other output error.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let result = match &batch.beam {
                Some(beam) => sink.write_cpi(beam, &batch.plots),
                None => sink.write(&batch.plots),
            };
            result.map(|()| (sink.take_undelivered(), sink.releases()))
        }))
        .unwrap_or_else(|_| {
            Err(OutputError::Io {
                name: sink.name().to_string(),
                source: std::io::Error::other("the output panicked (a bug in tews)"),
            })
        });
        let done = Instant::now();
        let mut state = shared.lock();
        state.busy = false;
        let n = batch.plots.len() as u64;
        match result {
            Ok((Undelivered { plots, send_errors }, releases)) => {
                state.releases = releases;
                let lost = plots.min(n);
                let delivered = n - lost;
                state.sent += delivered;
                state.dropped += lost;
                state.send_errors += send_errors;
                if delivered > 0 {
                    let us = done.saturating_duration_since(batch.pushed_at).as_micros();
                    state
                        .output_us
                        .saturating_record_n(us.max(1) as u64, delivered);
                }
                // Which plots were lost is not known; a CPI's plots share
                // their received_at, so any `delivered` of them will do.
                for plot in batch.plots.iter().take(delivered as usize) {
                    if let Some(t) = plot.received_at {
                        let us = done.saturating_duration_since(t).as_micros();
                        state.latency_us.saturating_record(us.max(1) as u64);
                    }
                }
            }
            Err(e) => {
                state.dropped += n;
                let rest = state.queued_plots;
                state.queue.clear();
                state.queued_plots = 0;
                state.dropped += rest;
                state.failed = Some(e);
                drop(state);
                shared.drained.notify_all();
                return sink;
            }
        }
        drop(state);
        shared.drained.notify_all();
    }
}

/// Nice value asked for output threads (below the default 0: they wake
/// ahead of the detector's compute threads).
const OUTPUT_NICE: i32 = -10;

/// Asks the scheduler to run this output thread ahead of the compute threads
/// when both are runnable: on a saturated host the hand-off from the detector
/// otherwise waits for a scheduler slice (about 1 ms), which is most of the
/// output stage's p99. Needs `CAP_SYS_NICE` (e.g. systemd
/// `AmbientCapabilities=CAP_SYS_NICE`); without it the thread keeps the
/// default priority and the run goes on.
fn raise_priority(name: &str) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take plain integers and touch no
        // memory of ours.
        let ok = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, OUTPUT_NICE) == 0
        };
        if !ok {
            tracing::debug!(
                "output {name}: cannot raise the thread's priority ({}); it runs at the default",
                std::io::Error::last_os_error()
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = name;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    fn plot(cpi: u64) -> Plot {
        Plot {
            cpi,
            time_utc: time::OffsetDateTime::UNIX_EPOCH,
            range_m: 1.0,
            radial_velocity_mps: 0.0,
            azimuth_deg: 0.0,
            elevation_deg: 0.0,
            snr_db: 20.0,
            range_bin: 0.0,
            doppler_bin: 0.0,
            cells: 1,
            received_at: Some(Instant::now()),
            ..Plot::default()
        }
    }

    /// A sink that waits for a go-ahead before each write and reports what it wrote.
    struct GatedSink {
        overflow: Overflow,
        gate: mpsc::Receiver<()>,
        written: mpsc::Sender<Vec<u64>>,
        fail_on: Option<u64>,
    }

    impl PlotSink for GatedSink {
        fn name(&self) -> &str {
            "gated"
        }
        fn overflow(&self) -> Overflow {
            self.overflow
        }
        fn write(&mut self, plots: &[Plot]) -> Result<(), OutputError> {
            let _ = self.gate.recv();
            if plots.iter().any(|p| Some(p.cpi) == self.fail_on) {
                return Err(OutputError::Io {
                    name: "gated".into(),
                    source: std::io::Error::other("disk full"),
                });
            }
            let _ = self.written.send(plots.iter().map(|p| p.cpi).collect());
            Ok(())
        }
        fn finish(&mut self) -> Result<(), OutputError> {
            Ok(())
        }
    }

    fn gated(
        overflow: Overflow,
        fail_on: Option<u64>,
    ) -> (
        Box<dyn PlotSink>,
        mpsc::Sender<()>,
        mpsc::Receiver<Vec<u64>>,
    ) {
        let (gate_tx, gate) = mpsc::channel();
        let (written, written_rx) = mpsc::channel();
        (
            Box::new(GatedSink {
                overflow,
                gate,
                written,
                fail_on,
            }),
            gate_tx,
            written_rx,
        )
    }

    #[test]
    fn a_stuck_network_output_never_blocks_the_detector_and_drops_the_oldest() {
        let (sink, gate, written) = gated(Overflow::DropOldest, None);
        let outputs = Outputs::start(vec![sink], 4);
        outputs.push(&[plot(0), plot(0)]).unwrap();
        // Wait until the worker holds CPI 0 (stuck in its write).
        let t0 = Instant::now();
        while outputs.stats()[0].queued != 0 && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(1));
        }
        // 99 more pushes must all return at once.
        for cpi in 1..100 {
            outputs.push(&[plot(cpi), plot(cpi)]).unwrap();
        }
        let s = &outputs.stats()[0];
        // One batch is in the stuck write, four queued, the rest dropped.
        assert_eq!(s.queued, 8);
        assert_eq!(s.dropped + s.queued + 2, 200);
        for _ in 0..5 {
            gate.send(()).unwrap();
        }
        outputs.drain();
        let got: Vec<Vec<u64>> = written.try_iter().collect();
        // The batch in flight (CPI 0) and the four newest CPIs.
        assert_eq!(got.len(), 5);
        assert_eq!(got[0], vec![0, 0]);
        assert_eq!(
            got[1..],
            [vec![96, 96], vec![97, 97], vec![98, 98], vec![99, 99]]
        );
        let stats = outputs.finish().unwrap();
        assert_eq!(
            (stats[0].sent, stats[0].dropped, stats[0].queued),
            (10, 190, 0)
        );
        assert!(stats[0].latency_us_p99 >= stats[0].latency_us_p50);
    }

    #[test]
    fn a_file_output_blocks_and_loses_nothing() {
        let (sink, gate, written) = gated(Overflow::Block, None);
        let outputs = Outputs::start(vec![sink], 2);
        let pusher = std::thread::spawn(move || {
            for cpi in 0..20 {
                outputs.push(&[plot(cpi)]).unwrap();
            }
            outputs
        });
        std::thread::sleep(Duration::from_millis(50));
        // Blocked on a full queue: not finished yet.
        assert!(!pusher.is_finished());
        for _ in 0..20 {
            gate.send(()).unwrap();
        }
        let outputs = pusher.join().unwrap();
        let stats = outputs.finish().unwrap();
        assert_eq!((stats[0].sent, stats[0].dropped), (20, 0));
        let got: Vec<u64> = written.try_iter().flatten().collect();
        assert_eq!(got, (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn a_failed_output_fails_the_run_with_its_error() {
        let (sink, gate, _written) = gated(Overflow::Block, Some(1));
        for _ in 0..10 {
            gate.send(()).unwrap();
        }
        let outputs = Outputs::start(vec![sink], 1);
        let mut result = Ok(());
        for cpi in 0..10 {
            result = outputs.push(&[plot(cpi)]);
            if result.is_err() {
                break;
            }
            outputs.drain();
        }
        let e = result.unwrap_err().to_string();
        assert_eq!(e, "output gated: disk full");
    }

    /// A sink that loses one plot and two sends per batch.
    struct LossySink;

    impl PlotSink for LossySink {
        fn name(&self) -> &str {
            "lossy"
        }
        fn write(&mut self, _plots: &[Plot]) -> Result<(), OutputError> {
            Ok(())
        }
        fn take_undelivered(&mut self) -> Undelivered {
            Undelivered {
                plots: 1,
                send_errors: 2,
            }
        }
        fn finish(&mut self) -> Result<(), OutputError> {
            Ok(())
        }
    }

    #[test]
    fn undelivered_plots_are_dropped_not_sent_and_the_monitor_sees_them() {
        let outputs = Outputs::start(vec![Box::new(LossySink)], 8);
        let monitor = outputs.monitor();
        for cpi in 0..10 {
            outputs.push(&[plot(cpi), plot(cpi), plot(cpi)]).unwrap();
            outputs.drain();
        }
        let live = monitor.snapshot();
        let stats = outputs.finish().unwrap();
        assert_eq!(live, stats);
        let s = &stats[0];
        assert_eq!(
            (s.sent, s.dropped, s.send_errors, s.queued),
            (20, 10, 20, 0)
        );
        // Both latencies are recorded for the delivered plots only, and the
        // output stage's share cannot exceed the whole.
        assert!(s.output_us_max >= 1 && s.output_us_p99 >= s.output_us_p50);
        assert!(s.latency_us_max >= s.output_us_max, "{s:?}");
        // After the run the monitor still reads the final counters.
        assert_eq!(monitor.snapshot(), stats);
    }
}
