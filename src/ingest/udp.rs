//! Live input: the digitizer's VITA 49.2 packets over UDP
//! (`tews run --input vrt+udp://ADDR:PORT`).
//!
//! # Receive path
//! One **dedicated OS thread** owns the socket and the [`crate::ingest::vrt::CpiAssembler`]: a
//! blocking `recv` loop, one datagram per packet, parsed and assembled in
//! place. Why a thread and not an async task: there is one socket and one
//! consumer, so an executor adds nothing but a scheduling hop between the
//! kernel and the reader, and on a small machine the reader would share
//! executor workers with whatever else runs there; a thread that only reads
//! keeps the socket drained with the least latency, and the kernel's receive
//! buffer absorbs the moments the thread is not scheduled (processing runs on
//! rayon's pool on the other cores).
//!
//! # Socket buffer
//! [`bind`] asks for a large `SO_RCVBUF` ([`DEFAULT_RECV_BUFFER_BYTES`]) and
//! reads back what the kernel granted; both are logged and reported in the
//! summary. Linux caps the request at `net.core.rmem_max` (and reports twice
//! the value set, for its bookkeeping). A site must raise the cap, e.g.
//! `sysctl -w net.core.rmem_max=67108864` (and in /etc/sysctl.d/ to keep it),
//! or bursts while processing is busy overflow the buffer and are lost before
//! tews sees them (counted as `packets_lost` from the packet count gaps).
//!
//! # When processing falls behind
//! Completed CPIs go to processing through a bounded queue
//! ([`queue_cpis_for`]). The reader **never blocks** on that queue: a CPI
//! that finds it full is dropped and counted in `cpis_dropped_queue_full`
//! (and in `cpis_dropped`). Blocking would stop draining the socket, so the
//! kernel would drop packets of later CPIs instead, invisibly until the count
//! gaps showed; dropping a whole CPI that is already assembled loses the same
//! data but keeps the socket drained and says exactly what was lost. The
//! queue's depth is a metric (`tews_ingest_queue_depth`).
//!
//! # Context and sample rate
//! A context packet's sample rate must agree with the site's
//! `radar.sample_rate_hz` (to 1 ppm): the range of every bin depends on it,
//! so a CPI announced at another rate is dropped and counted
//! (`cpis_dropped_sample_rate`) rather than processed with wrong ranges.
//! Carrier and beam come from the context packet into the CPI that follows it
//! (the assembler's job, see [`crate::ingest::vrt::CpiAssembler`]).
//!
//! # A site `[radar]` that disagrees with the stream
//! The reader names, once, a `radar.samples_per_pulse` or
//! `radar.pulses_per_cpi` that the stream contradicts (the site's value and
//! the stream's, counted from its sample frames and CPI starts), then only
//! counts. Until one CPI's cut has been confirmed (the packet after its
//! P-th pulse starts the next CPI), a complete CPI is held for that packet:
//! if it is another pulse instead, the stream's CPIs are longer than the
//! site's P and the CPI is dropped (`cpis_dropped_radar_mismatch`), so no
//! plot ever comes from a wrongly cut CPI. This costs about one PRI of
//! latency on the first CPI only.
//!
//! # Stopping
//! The reader stops at `max_cpis` CPIs accounted for (processed, queued or
//! dropped), after `idle_timeout` without any datagram, when the stop flag is
//! set (SIGINT/SIGTERM), or when processing has gone away. It then finishes
//! the assembler (a CPI in progress counts as incomplete) and closes the
//! queue, so the run loop processes what is queued and flushes its outputs.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::vrt::{AssemblerConfig, MultiChannelAssembler, Packet, VrtCounters, parse};
use crate::cpi::Cpi;

/// `SO_RCVBUF` requested: 64 MiB, about half a second of 1 Gb/s.
pub const DEFAULT_RECV_BUFFER_BYTES: usize = 64 << 20;

/// Memory the ingest queue may hold, bytes of CPI samples.
pub const QUEUE_BUDGET_BYTES: usize = 256 << 20;

/// Largest ingest queue, CPIs.
pub const MAX_QUEUE_CPIS: usize = 32;

/// How often the reader wakes without traffic to check its stop conditions.
const POLL: Duration = Duration::from_millis(50);

/// Relative tolerance between a context packet's sample rate and the site's.
pub const SAMPLE_RATE_TOLERANCE: f64 = 1e-6;

/// A problem with the live input: one line naming the input.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The URL is not `SCHEME://HOST:PORT`.
    #[error("{input}: {problem}")]
    Url {
        /// The input as given.
        input: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The socket could not be created, configured or bound.
    #[error("{input}: cannot {action}: {source}")]
    Socket {
        /// The input as given.
        input: String,
        /// What was attempted ("bind 127.0.0.1:4991", ...).
        action: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// Parses `SCHEME://HOST:PORT` (`scheme` without `://`) into a socket
/// address; a host name resolves to its first address.
pub fn parse_url(input: &str, scheme: &str) -> Result<SocketAddr, LiveError> {
    let bad = |problem: String| LiveError::Url {
        input: input.to_string(),
        problem,
    };
    let rest = input
        .strip_prefix(scheme)
        .and_then(|r| r.strip_prefix("://"))
        .ok_or_else(|| bad(format!("not a {scheme}://HOST:PORT address")))?;
    if rest.is_empty() || rest.contains('/') {
        return Err(bad(format!(
            "{rest:?} is not HOST:PORT (expected {scheme}://HOST:PORT, e.g. {scheme}://0.0.0.0:4991)"
        )));
    }
    let mut addrs = rest
        .to_socket_addrs()
        .map_err(|e| bad(format!("{rest:?} is not HOST:PORT: {e}")))?;
    addrs
        .next()
        .ok_or_else(|| bad(format!("{rest:?} resolves to no address")))
}

/// The receive buffer asked for and what the kernel granted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RecvBuffer {
    /// `SO_RCVBUF` requested, bytes.
    pub requested_bytes: usize,
    /// `SO_RCVBUF` read back, bytes (Linux reports twice the usable size).
    pub granted_bytes: usize,
}

/// Binds a UDP socket to `addr` with a receive buffer of `recv_buffer_bytes`
/// requested, and logs what the kernel granted. `input` names the input in
/// errors.
pub fn bind(
    input: &str,
    addr: SocketAddr,
    recv_buffer_bytes: usize,
) -> Result<(UdpSocket, RecvBuffer), LiveError> {
    use socket2::{Domain, Protocol, Socket, Type};
    let err = |action: String| {
        move |source| LiveError::Socket {
            input: input.to_string(),
            action,
            source,
        }
    };
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(err("create a UDP socket".into()))?;
    // A refusal to grow the buffer is not fatal: the granted size is reported.
    if let Err(e) = socket.set_recv_buffer_size(recv_buffer_bytes) {
        tracing::warn!("{input}: SO_RCVBUF {recv_buffer_bytes} refused: {e}");
    }
    socket
        .bind(&addr.into())
        .map_err(err(format!("bind {addr}")))?;
    let granted_bytes = socket
        .recv_buffer_size()
        .map_err(err("read SO_RCVBUF".into()))?;
    let buffer = RecvBuffer {
        requested_bytes: recv_buffer_bytes,
        granted_bytes,
    };
    let socket: UdpSocket = socket.into();
    let local = socket
        .local_addr()
        .map_err(err("read the bound address".into()))?;
    tracing::info!(
        "listening on udp {local}: SO_RCVBUF requested {} KiB, kernel granted {} KiB",
        recv_buffer_bytes >> 10,
        granted_bytes >> 10
    );
    // Linux doubles the value it stores; less than the request means the cap.
    if granted_bytes < recv_buffer_bytes {
        tracing::warn!(
            "{input}: the kernel capped the receive buffer at {} KiB (asked {} KiB): \
             raise net.core.rmem_max (sysctl -w net.core.rmem_max={recv_buffer_bytes}) \
             or bursts will be lost",
            granted_bytes >> 10,
            recv_buffer_bytes >> 10
        );
    }
    Ok((socket, buffer))
}

/// Ingest queue length for CPIs of `cpi_bytes` bytes: as many as fit
/// [`QUEUE_BUDGET_BYTES`], at least 2, at most [`MAX_QUEUE_CPIS`].
pub fn queue_cpis_for(cpi_bytes: usize) -> usize {
    (QUEUE_BUDGET_BYTES / cpi_bytes.max(1)).clamp(2, MAX_QUEUE_CPIS)
}

/// What the live reader is told.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// P, N and the stream ID (single channel).
    pub assembler: AssemblerConfig,
    /// Multi-channel input: one stream ID per receive channel, in the CPI's
    /// channel order, the sum channel first; empty for a single channel
    /// (`assembler.stream_id` then applies).
    pub stream_ids: Vec<Option<u32>>,
    /// Index of the sum channel in `stream_ids`.
    pub sum_channel: usize,
    /// The site's sample rate, Hz: context packets must agree.
    pub sample_rate_hz: f64,
    /// The site's `radar.window_delay_s`: a packet's timestamp is its first
    /// sample's (formats.md §3), which is received this long after the
    /// pulse's transmission, so a CPI's time (its first pulse's transmit
    /// time, formats.md §1-2) is the CPI-start packet's timestamp minus it.
    pub window_delay_s: f64,
    /// Ingest queue length, CPIs.
    pub queue_cpis: usize,
    /// Stop after this many CPIs accounted for (processed, queued or dropped).
    pub max_cpis: Option<u64>,
    /// Stop after this long without a datagram.
    pub idle_timeout: Option<Duration>,
}

/// The live input's counters, as the run summary shows them (flattened into
/// it) and the metrics serve them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LiveStats {
    /// Datagrams received, malformed ones included.
    pub packets_received: u64,
    /// Packets missing from the packet count sequences.
    pub packets_lost: u64,
    /// Datagrams that are not a packet of the profile.
    pub packets_malformed: u64,
    /// Packets whose count repeated the previous one (ignored).
    pub packets_duplicate: u64,
    /// Packets that arrived after a later one (ignored; their CPI dropped).
    pub packets_late: u64,
    /// Packets of another stream ID (ignored).
    pub packets_unknown_stream: u64,
    /// Data packets outside any CPI (before the first CPI start, or after P
    /// pulses).
    pub packets_outside_cpi: u64,
    /// CPIs assembled whole (queued for processing or dropped below).
    pub cpis_assembled: u64,
    /// CPIs dropped for any reason: the sum of the `cpis_dropped_*` below.
    pub cpis_dropped: u64,
    /// Dropped: a data packet was lost.
    pub cpis_dropped_packet_lost: u64,
    /// Dropped: a packet arrived out of order.
    pub cpis_dropped_packet_late: u64,
    /// Dropped: the digitizer flagged sample loss.
    pub cpis_dropped_sample_loss: u64,
    /// Dropped: the valid-data indicator was clear.
    pub cpis_dropped_invalid_data: u64,
    /// Dropped: pulse length or sample frame / CPI-start indicators wrong.
    pub cpis_dropped_bad_frame: u64,
    /// Dropped: no context packet for the CPI.
    pub cpis_dropped_no_context: u64,
    /// Multi-channel input: CPIs whose sum channel was whole but another
    /// channel's packets were lost or damaged.
    pub cpis_dropped_channel_missing: u64,
    /// Dropped: the context packet's sample rate differs from the site's.
    pub cpis_dropped_sample_rate: u64,
    /// Dropped: processing was behind and the ingest queue was full.
    pub cpis_dropped_queue_full: u64,
    /// Dropped: the stream's CPIs have more pulses than the site's
    /// `radar.pulses_per_cpi` (a pulse followed the P-th without a CPI
    /// start), so the CPI was cut wrongly.
    pub cpis_dropped_radar_mismatch: u64,
    /// CPIs cut short (fewer than P pulses) by the next CPI start or the end
    /// of the run, with no other damage seen. Not processed.
    pub cpis_incomplete: u64,
    /// The socket's receive buffer.
    pub recv_buffer: RecvBuffer,
    /// Why the reader stopped: "max-cpis", "idle-timeout", "signal",
    /// "processing ended", or "receive error: ...".
    pub stop_reason: String,
}

impl LiveStats {
    fn update(&mut self, c: &VrtCounters) {
        let d = &c.cpis_dropped;
        self.packets_received = c.packets_received;
        self.packets_lost = c.packets_lost;
        self.packets_malformed = c.packets_malformed;
        self.packets_duplicate = c.packets_duplicate;
        self.packets_late = c.packets_late;
        self.packets_unknown_stream = c.packets_unknown_stream;
        self.packets_outside_cpi = c.packets_outside_cpi;
        self.cpis_assembled = c.cpis_emitted;
        self.cpis_dropped_packet_lost = d.packet_lost;
        self.cpis_dropped_packet_late = d.packet_late;
        self.cpis_dropped_sample_loss = d.sample_loss;
        self.cpis_dropped_invalid_data = d.invalid_data;
        self.cpis_dropped_bad_frame = d.bad_frame;
        self.cpis_dropped_no_context = d.no_context;
        self.cpis_dropped_channel_missing = d.channel_missing;
        self.cpis_incomplete = c.cpis_incomplete;
        self.cpis_dropped = d.total()
            + self.cpis_dropped_sample_rate
            + self.cpis_dropped_queue_full
            + self.cpis_dropped_radar_mismatch;
    }
}

/// State shared between the reader thread and its observers (metrics, the
/// run loop's latency measurement).
#[derive(Debug, Default)]
pub struct LiveShared {
    stats: Mutex<LiveStats>,
    queue_depth: AtomicUsize,
    /// (CPI index, when its last datagram arrived) of queued CPIs, oldest
    /// first: the start of the processing latency.
    arrivals: Mutex<std::collections::VecDeque<(u64, Instant)>>,
}

impl LiveShared {
    /// The counters now (refreshed by the reader every few datagrams, on
    /// every CPI event and when it stops).
    pub fn stats(&self) -> LiveStats {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// CPIs waiting in the ingest queue now.
    pub fn queue_depth(&self) -> usize {
        self.queue_depth.load(Ordering::Relaxed)
    }

    /// When CPI `index`'s last datagram arrived, if it was queued; forgets it
    /// and every older one.
    pub fn take_arrival(&self, index: u64) -> Option<Instant> {
        let mut q = self.arrivals.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(&(k, t)) = q.front() {
            if k > index {
                break;
            }
            q.pop_front();
            if k == index {
                return Some(t);
            }
        }
        None
    }
}

/// The running live input: a reader thread and the queue it fills.
pub struct LiveSource {
    rx: Option<Receiver<Cpi>>,
    shared: Arc<LiveShared>,
    thread: Option<JoinHandle<()>>,
    local_addr: Option<SocketAddr>,
}

/// The CPIs of a [`LiveSource`], in arrival order, until the reader stops.
pub struct LiveCpis {
    rx: Receiver<Cpi>,
    shared: Arc<LiveShared>,
}

impl Iterator for LiveCpis {
    type Item = Result<Cpi, LiveError>;

    fn next(&mut self) -> Option<Self::Item> {
        let cpi = self.rx.recv().ok()?;
        self.shared.queue_depth.fetch_sub(1, Ordering::Relaxed);
        Some(Ok(cpi))
    }
}

impl LiveSource {
    /// Starts the reader on `socket` (bound by the caller, e.g. with
    /// [`bind`]; tests bind 127.0.0.1:0). `stop` ends it when set.
    pub fn start(
        socket: UdpSocket,
        recv_buffer: RecvBuffer,
        config: LiveConfig,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<LiveSource> {
        socket.set_read_timeout(Some(POLL))?;
        let local_addr = socket.local_addr().ok();
        let (tx, rx) = sync_channel(config.queue_cpis.max(1));
        let shared = Arc::new(LiveShared::default());
        shared
            .stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .recv_buffer = recv_buffer;
        let reader = Reader {
            socket,
            assembler: MultiChannelAssembler::new(
                config.assembler,
                &config.stream_ids,
                config.sum_channel,
            ),
            config,
            tx,
            shared: shared.clone(),
            stop,
            stats: LiveStats {
                recv_buffer,
                ..LiveStats::default()
            },
            pending_rate_ok: None,
            current_rate_ok: true,
            held: None,
            cut_confirmed: false,
            frame_samples: 0,
            pulses_in_cpi: None,
            said_samples: false,
            said_pulses: false,
        };
        let thread = std::thread::Builder::new()
            .name("tews-udp-rx".into())
            .spawn(move || reader.run())?;
        Ok(LiveSource {
            rx: Some(rx),
            shared,
            thread: Some(thread),
            local_addr,
        })
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The shared counters (for metrics and latency).
    pub fn shared(&self) -> Arc<LiveShared> {
        self.shared.clone()
    }

    /// The CPIs, for [`crate::pipeline::run`]; can be taken once.
    pub fn cpis(&mut self) -> Option<LiveCpis> {
        Some(LiveCpis {
            rx: self.rx.take()?,
            shared: self.shared.clone(),
        })
    }

    /// Waits for the reader to stop, then hands the queued CPIs to `consume`
    /// (tests: fill the queue first, look at it after).
    pub fn join_after<T>(mut self, consume: impl FnOnce(LiveCpis) -> T) -> (LiveStats, T) {
        let failed = self.join_reader();
        let out = match self.cpis() {
            Some(cpis) => consume(cpis),
            None => consume(LiveCpis {
                rx: sync_channel(0).1,
                shared: self.shared.clone(),
            }),
        };
        let mut stats = self.shared.stats();
        if let Some(reason) = failed {
            stats.stop_reason = reason;
        }
        (stats, out)
    }

    /// Waits for the reader to stop (it stops when its conditions are met,
    /// or once the [`LiveCpis`] are dropped) and returns the final counters.
    ///
    /// A reader thread that panicked (a bug) is reported as the stop reason
    /// "receive error: ...", so the run fails instead of ending quietly.
    pub fn join(mut self) -> LiveStats {
        drop(self.rx.take());
        let failed = self.join_reader();
        let mut stats = self.shared.stats();
        if let Some(reason) = failed {
            stats.stop_reason = reason;
        }
        stats
    }

    /// Joins the reader thread; `Some(stop reason)` when it panicked.
    fn join_reader(&mut self) -> Option<String> {
        let payload = self.thread.take()?.join().err()?;
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        Some(format!("receive error: the receive thread failed ({what})"))
    }
}

struct Reader {
    socket: UdpSocket,
    assembler: MultiChannelAssembler,
    config: LiveConfig,
    tx: SyncSender<Cpi>,
    shared: Arc<LiveShared>,
    stop: Arc<AtomicBool>,
    stats: LiveStats,
    /// Whether the newest context packet's sample rate agrees with the site's
    /// (`None`: no context since the last CPI start).
    pending_rate_ok: Option<bool>,
    /// The same, for the CPI being collected.
    current_rate_ok: bool,
    /// A complete CPI not yet queued: until one CPI's cut has been
    /// confirmed (the packet after its last pulse started the next CPI), a
    /// CPI waits for that packet, so one cut short by a site
    /// `pulses_per_cpi` smaller than the stream's never reaches processing.
    held: Option<(Cpi, Instant)>,
    /// The stream's CPIs were seen to have the site's P pulses.
    cut_confirmed: bool,
    /// Samples so far in the stream's current sample frame (pulse).
    frame_samples: usize,
    /// Pulses (sample frames) since the stream's last CPI start.
    pulses_in_cpi: Option<usize>,
    /// The mismatch of `samples_per_pulse` / `pulses_per_cpi` was logged.
    said_samples: bool,
    said_pulses: bool,
}

impl Reader {
    fn run(mut self) {
        // Large enough for any VRT packet (16-bit word count) and any datagram.
        let mut buf = vec![0u8; 1 << 18];
        let mut last_packet = Instant::now();
        let mut since_publish = 0u32;
        let reason = loop {
            if self.stop.load(Ordering::Relaxed) {
                break "signal".to_string();
            }
            match self.socket.recv(&mut buf) {
                Ok(n) => {
                    last_packet = Instant::now();
                    let event = match self.handle(&buf[..n], last_packet) {
                        Ok(event) => event,
                        Err(reason) => break reason,
                    };
                    since_publish += 1;
                    if event || since_publish >= 64 {
                        since_publish = 0;
                        self.publish();
                    }
                    // A held CPI is not accounted for until its cut is known.
                    if let Some(max) = self.config.max_cpis
                        && self.cpis_accounted() - u64::from(self.held.is_some()) >= max
                    {
                        break "max-cpis".into();
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    self.publish();
                    if let Some(idle) = self.config.idle_timeout
                        && last_packet.elapsed() >= idle
                    {
                        break "idle-timeout".into();
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break format!("receive error: {e}"),
            }
        };
        // The input ended right after a held CPI: nothing contradicted its cut.
        if let Some((cpi, at)) = self.held.take() {
            let _ = self.queue(cpi, at);
        }
        self.assembler.finish();
        self.stats.stop_reason = reason;
        tracing::info!("live input stopped: {}", self.stats.stop_reason);
        self.publish();
    }

    /// CPIs seen whole, dropped or cut short.
    fn cpis_accounted(&self) -> u64 {
        let c = self.assembler.counters();
        c.cpis_emitted + c.cpis_dropped.total() + c.cpis_incomplete
    }

    fn publish(&mut self) {
        self.stats.update(&self.assembler.counters());
        let mut s = self.shared.stats.lock().unwrap_or_else(|e| e.into_inner());
        *s = self.stats.clone();
    }

    /// Feeds one datagram. `Ok(true)` when a CPI was completed or dropped;
    /// `Err(stop reason)` when processing has gone away or a CPI cannot be
    /// given a time.
    fn handle(&mut self, datagram: &[u8], now: Instant) -> Result<bool, String> {
        let before = self.cpis_accounted();
        let packet = match parse(datagram) {
            Ok(p) => p,
            Err(_) => {
                self.assembler.push_datagram(datagram);
                return Ok(false);
            }
        };
        let ours = |id: u32, asm: &MultiChannelAssembler| asm.is_sum_stream(id);
        match &packet {
            Packet::Context(c) if ours(c.stream_id, &self.assembler) => {
                let site = self.config.sample_rate_hz;
                let ok = (c.sample_rate_hz - site).abs() <= SAMPLE_RATE_TOLERANCE * site;
                if !ok && self.pending_rate_ok != Some(false) {
                    tracing::warn!(
                        "context packet: sample rate {} Hz is not the site's radar.sample_rate_hz \
                         {site} Hz; the CPI it announces is dropped",
                        c.sample_rate_hz
                    );
                }
                self.pending_rate_ok = Some(ok);
            }
            Packet::Data(d)
                if ours(d.stream_id, &self.assembler)
                    && d.trailer.cpi_start
                    && d.trailer.sample_frame.starts_frame() =>
            {
                // A CPI without a context is dropped by the assembler anyway.
                self.current_rate_ok = self.pending_rate_ok.take().unwrap_or(true);
            }
            _ => {}
        }
        if let Packet::Data(d) = &packet
            && ours(d.stream_id, &self.assembler)
        {
            self.check_shape(d);
            if let Some((cpi, at)) = self.held.take() {
                if d.trailer.cpi_start && d.trailer.sample_frame.starts_frame() {
                    // The next CPI starts right after: the cut was right.
                    self.cut_confirmed = true;
                    self.queue(cpi, at)?;
                } else if d.trailer.sample_frame.starts_frame() {
                    // Another pulse: the stream's CPIs are longer than P.
                    self.cut_confirmed = false;
                    self.stats.cpis_dropped_radar_mismatch += 1;
                } else {
                    self.held = Some((cpi, at));
                }
            }
        }
        let Some(mut cpi) = self.assembler.push(packet) else {
            return Ok(self.cpis_accounted() != before);
        };
        cpi.meta.received_at = Some(now);
        // The site file bounds the delay (at most pri_s, at most 1 s), so this
        // cannot fail for a VRT time (1970-2106); checked all the same.
        cpi.meta.time_utc =
            crate::cpi::add_seconds_checked(cpi.meta.time_utc, -self.config.window_delay_s)
                .ok_or_else(|| {
                    format!(
                        "receive error: CPI {}: time {} minus radar.window_delay_s {} s is outside years 0000-9999",
                        cpi.meta.index, cpi.meta.time_utc, self.config.window_delay_s
                    )
                })?;
        if !self.current_rate_ok {
            self.stats.cpis_dropped_sample_rate += 1;
            return Ok(true);
        }
        if !self.cut_confirmed {
            self.held = Some((cpi, now));
            return Ok(true);
        }
        self.queue(cpi, now)
    }

    /// Names, once, a `[radar]` value the stream contradicts: the samples of
    /// a pulse (one sample frame) and the pulses between CPI starts.
    fn check_shape(&mut self, d: &crate::ingest::vrt::DataPacket) {
        let (p, n) = (
            self.config.assembler.pulses_per_cpi,
            self.config.assembler.samples_per_pulse,
        );
        let frame = d.trailer.sample_frame;
        if d.trailer.cpi_start && frame.starts_frame() {
            if let Some(k) = self.pulses_in_cpi
                && k != p
                && k > 0
                && !self.said_pulses
            {
                self.said_pulses = true;
                tracing::warn!(
                    "live input: radar.pulses_per_cpi is {p} in the site file but the stream's CPIs                      have {k} pulses: its CPIs are dropped (cpis_dropped_radar_mismatch,                      cpis_incomplete)"
                );
            }
            self.pulses_in_cpi = Some(0);
        }
        if frame.starts_frame() {
            self.frame_samples = 0;
        }
        self.frame_samples += d.samples.len();
        if frame.ends_frame() {
            if self.frame_samples != n && !self.said_samples {
                self.said_samples = true;
                tracing::warn!(
                    "live input: radar.samples_per_pulse is {n} in the site file but the stream's                      pulses have {} samples: its CPIs are dropped (cpis_dropped_bad_frame)",
                    self.frame_samples
                );
            }
            if let Some(k) = &mut self.pulses_in_cpi {
                *k += 1;
            }
        }
    }

    /// Queues a complete CPI for processing (or drops it if the queue is full).
    fn queue(&mut self, cpi: Cpi, now: Instant) -> Result<bool, String> {
        let index = cpi.meta.index;
        // Count it queued before the consumer can take it.
        self.shared.queue_depth.fetch_add(1, Ordering::Relaxed);
        self.shared
            .arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back((index, now));
        match self.tx.try_send(cpi) {
            Ok(()) => Ok(true),
            Err(e) => {
                self.shared.queue_depth.fetch_sub(1, Ordering::Relaxed);
                self.shared
                    .arrivals
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pop_back();
                match e {
                    TrySendError::Full(_) => {
                        self.stats.cpis_dropped_queue_full += 1;
                        tracing::warn!(
                            "CPI {index}: processing is behind, ingest queue full: dropped"
                        );
                        Ok(true)
                    }
                    TrySendError::Disconnected(_) => Err("processing ended".into()),
                }
            }
        }
    }
}
