//! Progress on stderr, only when it is a terminal: `tews run` of a
//! recording and `tews replay` show a bar (CPIs done of the total), live
//! input a status line refreshed every [`STATUS_EVERY`]. One at a time.
//!
//! Log lines go through [`LogWriter`], which lifts the bar off the screen
//! while a line is written and draws it again below: a log line never lands
//! inside the bar, and the bar never overwrites a log line.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a live run's status line is refreshed.
pub(crate) const STATUS_EVERY: Duration = Duration::from_secs(2);

/// The bar or status line on screen now, if any.
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn active() -> Option<ProgressBar> {
    ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn set_active(bar: Option<ProgressBar>) {
    *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = bar;
}

/// The log's writer ([`tracing_subscriber::fmt::MakeWriter`]): stderr, with
/// the progress bar lifted while a line is written.
pub(crate) struct LogWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogLine;
    fn make_writer(&'a self) -> LogLine {
        LogLine
    }
}

/// One log event's writes.
pub(crate) struct LogLine;

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The formatter writes each event in one call.
        match active() {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// A progress bar of `len` CPIs (hidden when stderr is not a terminal),
/// with `{msg}` after the rate if the caller sets one.
pub(crate) struct Bar(ProgressBar);

impl Bar {
    /// Starts the bar (nothing is shown when stderr is not a terminal).
    pub(crate) fn new(len: u64) -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar(ProgressBar::hidden());
        }
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} CPI {pos}/{len} [{bar:40}] {rate} ETA {eta} {msg}",
            )
            .map(|s| {
                // indicatif's {per_sec} prints "714.3642/s": one decimal, with the unit.
                s.with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.1} CPI/s", state.per_sec());
                    },
                )
            })
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        set_active(Some(bar.clone()));
        Bar(bar)
    }

    /// One more CPI done.
    pub(crate) fn inc(&self) {
        self.0.inc(1);
    }

    /// Sets the text after the rate.
    pub(crate) fn message(&self, text: String) {
        self.0.set_message(text);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        set_active(None);
        self.0.finish_and_clear();
    }
}

/// A status line refreshed every [`STATUS_EVERY`] from `line`, on its own
/// thread, until dropped; nothing when stderr is not a terminal.
pub(crate) struct StatusLine {
    bar: ProgressBar,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StatusLine {
    /// Starts the line (`None` when stderr is not a terminal).
    pub(crate) fn start(mut line: impl FnMut() -> String + Send + 'static) -> Option<StatusLine> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(line());
        set_active(Some(bar.clone()));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s) = (bar.clone(), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name("status line".into())
            .spawn(move || {
                let tick = Duration::from_millis(250);
                let mut waited = Duration::ZERO;
                while !s.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    waited += tick;
                    if waited >= STATUS_EVERY {
                        waited = Duration::ZERO;
                        b.set_message(line());
                    }
                    b.tick();
                }
            })
            .ok();
        Some(StatusLine { bar, stop, thread })
    }
}

impl Drop for StatusLine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        set_active(None);
        self.bar.finish_and_clear();
    }
}

/// A live run's status: what the receiver took in and what the chain made
/// of it since the start, and the packet rate now (`packets_per_s`, over
/// the last refresh).
pub(crate) fn live_status(
    input: &str,
    elapsed: Duration,
    stats: &tews::ingest::udp::LiveStats,
    packets_per_s: f64,
    cpis: u64,
    plots: u64,
) -> String {
    let s = elapsed.as_secs_f64();
    if stats.packets_received == 0 {
        return format!("{input}: waiting for packets ({s:.0} s)");
    }
    format!(
        "{input}: {s:.0} s, {} packets ({} lost, {} malformed), {packets_per_s:.0} packets/s now, {cpis} CPIs ({} dropped), {plots} plots",
        stats.packets_received, stats.packets_lost, stats.packets_malformed, stats.cpis_dropped,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tews::ingest::udp::LiveStats;

    #[test]
    fn the_live_status_says_what_came_in_and_what_came_out() {
        let idle = live_status(
            "vrt+udp://0.0.0.0:5000",
            Duration::from_secs(7),
            &LiveStats::default(),
            0.0,
            0,
            0,
        );
        assert_eq!(idle, "vrt+udp://0.0.0.0:5000: waiting for packets (7 s)");
        let stats = LiveStats {
            packets_received: 5000,
            packets_lost: 3,
            packets_malformed: 1,
            cpis_dropped: 2,
            ..LiveStats::default()
        };
        let busy = live_status(
            "vrt+udp://h:1",
            Duration::from_secs(10),
            &stats,
            516.4,
            40,
            120,
        );
        assert_eq!(
            busy,
            "vrt+udp://h:1: 10 s, 5000 packets (3 lost, 1 malformed), 516 packets/s now, 40 CPIs (2 dropped), 120 plots"
        );
    }
}
