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
//! Latency is measured per plot, from when its CPI's last sample reached the
//! host ([`Plot::received_at`]) to when the output's `write` returned (the
//! report left tews: handed to the kernel, the file's buffer, or the NATS
//! client), in microseconds, into an HDR histogram per output.

use crate::output::{OutputError, PlotSink};
use crate::plots::Plot;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

/// CPI batches an output may hold before its overflow policy applies.
pub const DEFAULT_QUEUE_CPIS: usize = 64;

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
    /// Plots the output's `write` accepted.
    pub sent: u64,
    /// Plots dropped because the queue was full (or the output had failed).
    pub dropped: u64,
    /// Plots waiting in the queue now.
    pub queued: u64,
    /// Median latency, last sample received to report sent, microseconds.
    pub latency_us_p50: u64,
    /// 99th percentile of the same, microseconds.
    pub latency_us_p99: u64,
    /// Largest latency seen, microseconds.
    pub latency_us_max: u64,
}

struct State {
    queue: VecDeque<Arc<[Plot]>>,
    queued_plots: u64,
    closed: bool,
    /// Set by the worker when the output failed; later batches are dropped.
    failed: Option<OutputError>,
    /// The worker is inside `write` (so `queued` alone does not mean idle).
    busy: bool,
    sent: u64,
    dropped: u64,
    latency_us: Histogram<u64>,
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
                        failed: None,
                        busy: false,
                        sent: 0,
                        dropped: 0,
                        // 1 us to 1 hour, 3 significant digits.
                        latency_us: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                            .expect("valid histogram bounds"),
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
        Outputs { outputs }
    }

    /// Hands one CPI's plots to every output. Returns the first output
    /// failure seen (a failed output stops the run: its data is incomplete).
    /// A network output whose queue is full drops its oldest batch instead of
    /// waiting; a file output waits.
    pub fn push(&self, plots: &[Plot]) -> Result<(), OutputError> {
        let batch: Arc<[Plot]> = Arc::from(plots);
        for out in &self.outputs {
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
                            state.queued_plots -= old.len() as u64;
                            state.dropped += old.len() as u64;
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
            state.queued_plots += batch.len() as u64;
            state.queue.push_back(Arc::clone(&batch));
            drop(state);
            out.shared.filled.notify_one();
        }
        Ok(())
    }

    /// Counters of every output now (for metrics while running).
    pub fn stats(&self) -> Vec<OutputStats> {
        self.outputs
            .iter()
            .map(|out| {
                let s = out.shared.lock();
                OutputStats {
                    name: out.name.clone(),
                    sent: s.sent,
                    dropped: s.dropped,
                    queued: s.queued_plots,
                    latency_us_p50: s.latency_us.value_at_quantile(0.50),
                    latency_us_p99: s.latency_us.value_at_quantile(0.99),
                    latency_us_max: s.latency_us.max(),
                }
            })
            .collect()
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
    pub fn finish(mut self) -> Result<Vec<OutputStats>, OutputError> {
        let mut sinks = Vec::new();
        let mut first_error = None;
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
            sink.finish()?;
        }
        let stats = self.stats();
        Ok(stats)
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
    loop {
        let batch = {
            let mut state = shared.lock();
            loop {
                if let Some(batch) = state.queue.pop_front() {
                    state.queued_plots -= batch.len() as u64;
                    state.busy = true;
                    break batch;
                }
                if state.closed {
                    return sink;
                }
                state = shared.filled.wait(state).unwrap_or_else(|e| e.into_inner());
            }
        };
        shared.drained.notify_all();
        // A panicking sink is a bug, but it must not hang a detector that
        // waits on its queue: it fails like any other output error.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.write(&batch)))
            .unwrap_or_else(|_| {
                Err(OutputError::Io {
                    name: sink.name().to_string(),
                    source: std::io::Error::other("the output panicked (a bug in tews)"),
                })
            });
        let done = Instant::now();
        let mut state = shared.lock();
        state.busy = false;
        match result {
            Ok(()) => {
                // Plots the sink accepted but could not deliver (e.g. not
                // acknowledged in time) are dropped, not sent.
                let lost = sink.take_lost().min(batch.len() as u64);
                state.sent += batch.len() as u64 - lost;
                state.dropped += lost;
                for plot in batch.iter() {
                    if let Some(t) = plot.received_at {
                        let us = done.saturating_duration_since(t).as_micros();
                        state.latency_us.saturating_record(us.max(1) as u64);
                    }
                }
            }
            Err(e) => {
                state.dropped += batch.len() as u64;
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
}
