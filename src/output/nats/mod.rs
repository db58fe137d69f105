//! `--output nats://HOST:PORT`: plot reports onto the partners' NATS fabric
//! ([`NatsSink`]), and tracks, warnings and CAP alerts beside them
//! ([`situation::NatsSituationSink`]).
//!
//! # Subjects
//! With `[site] nation = N, name = S, sensor = R` and partners `P`:
//!
//! | subject | payload, one message per plot |
//! | --- | --- |
//! | `tews.plots.N.S.R` | the plot's formats.md §2 JSON line (no newline) |
//! | `tews.asterix.N.S.R` | one CAT048 data block holding that plot's one record (a plot the encoder cannot report, see [`crate::output::asterix::cat048`], has none); off with `[sharing] asterix = false` |
//! | `tews.release.P.N.S.R` | for each `[[partner]]` P whose policy releases the plot ([`policy`]): its JSON line less the withheld keys |
//!
//! and, from the tracking stage ([`situation`] has the details):
//!
//! | subject | payload |
//! | --- | --- |
//! | `tews.tracks.N.S.R` | one track report, its formats.md §6 JSON line |
//! | `tews.warnings.N.S.R` | one warning issue, its §7 JSON line |
//! | `tews.cap.N.S.R` | that issue's CAP 1.2 alert, XML |
//! | `tews.release.P.N.S.R.tracks` | the track reports P's policy releases, unchanged |
//! | `tews.release.P.N.S.R.warnings` | the warnings P's policy releases (default: all), unchanged |
//! | `tews.release.P.N.S.R.cap` | their CAP alerts, unchanged |
//!
//! The partner comes right after `release`, so a NATS account can export
//! `tews.release.P.N.>` to partner P's account and nothing else (it holds
//! P's plots, tracks, warnings and alerts); the national subjects stay
//! inside the nation's own account (see `deploy/nats/`). A plot's release
//! subject is a prefix of the others, so a partner subscribes
//! `tews.release.P.N.S.R` for plots alone, `tews.release.P.N.S.R.*` for
//! the tracking stage's. Every plot message has the header
//! `Tews-Received-Unix-Us`: when the plot's CPI's last sample reached this
//! host, microseconds since 1970 UTC (for end-to-end latency at a partner).
//!
//! # Delivery
//! The NATS client and its tokio runtime (one worker thread) belong to this
//! output; the detector only queues batches to it ([`crate::output::fanout`]),
//! so a slow, absent or restarting server costs the detector nothing: the
//! queue drops its oldest batch and counts it. The connection is made in the
//! background and remade forever after a loss.
//!
//! - **Core NATS** (default): at most once. A plot counts as sent when its
//!   messages were handed to the client and flushed towards the socket
//!   within `publish_timeout_s`; messages the client holds while the server
//!   is away are sent on reconnection or lost with the client.
//! - **JetStream** (`[sharing] jetstream = true`): tews creates the stream
//!   `TEWS-N-S-R` (or `[sharing] stream`) capturing
//!   [`Subjects::stream_filters`] (`tews.*.N.S.R`, `tews.release.*.N.S.R`
//!   and `tews.release.*.N.S.R.*`), or checks that an existing one captures
//!   those its output publishes to (the plots: the first two; tracks and
//!   warnings: the first and the third, so a stream made by a tews before
//!   the tracking outputs still serves the plots, and the tracks output
//!   names the filter it lacks), and a plot counts as sent only when the
//!   stream acknowledged every one
//!   of its messages. Each message carries a `Nats-Msg-Id` unique to the run,
//!   so a message re-sent after a lost ack is stored once (within the
//!   stream's duplicate window, 2 minutes). Unacknowledged messages are
//!   re-sent until `publish_timeout_s` has passed since the batch was
//!   taken; then its unacknowledged plots count as dropped. Retention:
//!   limits (file storage, `stream_max_age_s`, `stream_max_bytes`, oldest
//!   discarded first, `stream_replicas` copies), so a partner that was away
//!   replays with a durable consumer from where it stopped.

pub mod config;
pub mod policy;
pub mod situation;

pub use config::SharingConfig;
pub use policy::{PartnerPolicy, TrackRelease};
pub use situation::NatsSituationSink;

use crate::output::asterix::cat048::{Cat048Config, EncodeStats, encode_data_blocks};
use crate::output::identity::SiteIdentity;
use crate::output::{OutputError, PartnerRelease, PlotSink};
use crate::plots::Plot;
use async_nats::jetstream;
use bytes::Bytes;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::time::timeout_at;

/// The header with the plot's CPI's last-sample time, Unix microseconds.
pub const RECEIVED_HEADER: &str = "Tews-Received-Unix-Us";

/// What the NATS output needs: the server, the site, its sharing settings.
#[derive(Debug, Clone, PartialEq)]
pub struct NatsSettings {
    /// `HOST:PORT` as given after `nats://`.
    pub server: String,
    /// Who this sensor is (subjects, stream name).
    pub site: SiteIdentity,
    /// Connection, credentials, TLS, JetStream.
    pub sharing: SharingConfig,
    /// Release policies.
    pub partners: Vec<PartnerPolicy>,
    /// CAT048 identity and SIM flag.
    pub asterix: Cat048Config,
}

/// The subjects of one sensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    /// `tews.plots.N.S.R`.
    pub plots: String,
    /// `tews.asterix.N.S.R`.
    pub asterix: String,
    /// `tews.release.P.N.S.R` per partner, in `[[partner]]` order.
    pub release: Vec<String>,
}

impl Subjects {
    /// The subjects for `site` and `partners`.
    pub fn new(site: &SiteIdentity, partners: &[PartnerPolicy]) -> Self {
        let tail = format!("{}.{}.{}", site.nation, site.name, site.sensor);
        Subjects {
            plots: format!("tews.plots.{tail}"),
            asterix: format!("tews.asterix.{tail}"),
            release: partners
                .iter()
                .map(|p| format!("tews.release.{}.{tail}", p.name))
                .collect(),
        }
    }

    /// The subject filters of a site's JetStream stream: `tews.*.N.S.R`
    /// (every national subject: plots, ASTERIX, tracks, warnings, CAP),
    /// `tews.release.*.N.S.R` (plot releases) and `tews.release.*.N.S.R.*`
    /// (track, warning and CAP releases). tews creates a stream with all
    /// three; the plot output needs the first two, the tracks and warnings
    /// output the first and the third.
    pub fn stream_filters(site: &SiteIdentity) -> [String; 3] {
        let tail = format!("{}.{}.{}", site.nation, site.name, site.sensor);
        [
            format!("tews.*.{tail}"),
            format!("tews.release.*.{tail}"),
            format!("tews.release.*.{tail}.*"),
        ]
    }
}

/// The default stream name of a site: `TEWS-N-S-R`.
pub fn default_stream_name(site: &SiteIdentity) -> String {
    format!("TEWS-{}-{}-{}", site.nation, site.name, site.sensor)
}

/// True when NATS subject filter `outer` matches every subject `inner` does.
pub fn filter_covers(outer: &str, inner: &str) -> bool {
    let (mut o, mut i) = (outer.split('.'), inner.split('.'));
    loop {
        match (o.next(), i.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(t)) if t != ">" => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// One message to publish and the plot it belongs to.
struct Message {
    plot: usize,
    /// The partner of a release message (index into `[[partner]]`).
    partner: Option<usize>,
    subject: String,
    payload: Bytes,
    headers: async_nats::HeaderMap,
    acked: bool,
}

/// The NATS output (see the module docs).
pub struct NatsSink {
    name: String,
    settings: NatsSettings,
    subjects: Subjects,
    stream: String,
    rt: tokio::runtime::Runtime,
    connecting: Option<tokio::task::JoinHandle<Result<async_nats::Client, String>>>,
    client: Option<async_nats::Client>,
    js: Option<jetstream::Context>,
    stream_ready: bool,
    /// `Nats-Msg-Id` prefix unique to this run.
    run_id: String,
    next_id: u64,
    /// Plots of the last batch that were not delivered.
    lost: u64,
    /// Wall clock at `mono`, to turn `received_at` into Unix time.
    clock: (SystemTime, Instant),
    encode_stats: EncodeStats,
    /// Per partner, in `[[partner]]` order.
    releases: Vec<PartnerRelease>,
    acked_messages: u64,
    last_sequence: u64,
    /// The last batch was not delivered and the server is still away: wait
    /// only [`OUTAGE_WAIT`] for the next, so that a run ending during an
    /// outage drains its queue in seconds, not minutes.
    outage: bool,
    /// The end of the run's drain ([`PlotSink::drain_until`]): no wait past it.
    drain_deadline: Option<Instant>,
    /// The connection's last reported state ([`report_state`]): a batch
    /// waits only [`OUTAGE_WAIT`] while the server is known to be away.
    conn_state: std::sync::Arc<std::sync::Mutex<String>>,
}

/// How long a batch waits while the server is known to be away.
pub const OUTAGE_WAIT: Duration = Duration::from_millis(100);

impl NatsSink {
    /// Starts the runtime and the background connection; never waits for
    /// the server.
    pub fn open(settings: NatsSettings) -> Result<Self, OutputError> {
        let name = format!("nats://{}", settings.server);
        let io = |source: std::io::Error| OutputError::Io {
            name: name.clone(),
            source,
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tews-nats")
            .enable_all()
            .build()
            .map_err(io)?;
        let subjects = Subjects::new(&settings.site, &settings.partners);
        let stream = settings
            .sharing
            .stream
            .clone()
            .unwrap_or_else(|| default_stream_name(&settings.site));
        let conn_state = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let connecting = Some(rt.spawn(connect(
            settings.clone(),
            name.clone(),
            conn_state.clone(),
            RETRYING,
        )));
        let releases = settings
            .partners
            .iter()
            .map(|p| PartnerRelease {
                partner: p.name.clone(),
                ..PartnerRelease::default()
            })
            .collect();
        let now = SystemTime::now();
        let run_id = format!(
            "{}-{}",
            now.duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
            std::process::id()
        );
        Ok(NatsSink {
            name,
            settings,
            subjects,
            stream,
            rt,
            connecting,
            client: None,
            js: None,
            stream_ready: false,
            run_id,
            next_id: 0,
            lost: 0,
            clock: (now, Instant::now()),
            encode_stats: EncodeStats::default(),
            releases,
            acked_messages: 0,
            last_sequence: 0,
            outage: false,
            drain_deadline: None,
            conn_state,
        })
    }

    fn unix_us(&self, at: Instant) -> u128 {
        let (wall, mono) = self.clock;
        let t = if at >= mono {
            wall + (at - mono)
        } else {
            wall - (mono - at)
        };
        t.duration_since(UNIX_EPOCH).unwrap_or_default().as_micros()
    }

    /// The messages of one batch, in plot order.
    fn messages(&mut self, plots: &[Plot]) -> Vec<Message> {
        let mut out = Vec::with_capacity(plots.len() * (2 + self.subjects.release.len()));
        let jetstream = self.settings.sharing.jetstream;
        for (i, plot) in plots.iter().enumerate() {
            let received = plot.received_at.map(|t| self.unix_us(t).to_string());
            let mut push =
                |subject: &str, partner: Option<usize>, payload: Bytes, next_id: &mut u64| {
                    let mut headers = async_nats::HeaderMap::new();
                    if let Some(r) = &received {
                        headers.insert(RECEIVED_HEADER, r.as_str());
                    }
                    if jetstream {
                        headers.insert(
                            "Nats-Msg-Id",
                            format!("{}-{}", self.run_id, *next_id).as_str(),
                        );
                        *next_id += 1;
                    }
                    out.push(Message {
                        plot: i,
                        partner,
                        subject: subject.to_string(),
                        payload,
                        headers,
                        acked: false,
                    });
                };
            let mut next_id = self.next_id;
            push(
                &self.subjects.plots,
                None,
                Bytes::from(crate::output::jsonl::plot_to_json(plot)),
                &mut next_id,
            );
            if self.settings.sharing.asterix {
                let mut block = Vec::new();
                encode_data_blocks(
                    std::slice::from_ref(plot),
                    &self.settings.asterix,
                    crate::output::asterix::MAX_DATA_BLOCK_LEN_BYTES,
                    &mut self.encode_stats,
                    &mut block,
                );
                if !block.is_empty() {
                    push(
                        &self.subjects.asterix,
                        None,
                        Bytes::from(block),
                        &mut next_id,
                    );
                }
            }
            for (k, (policy, subject)) in self
                .settings
                .partners
                .iter()
                .zip(&self.subjects.release)
                .enumerate()
            {
                if policy.releases(plot) {
                    push(
                        subject,
                        Some(k),
                        Bytes::from(policy.release_json(plot)),
                        &mut next_id,
                    );
                } else {
                    self.releases[k].withheld += 1;
                }
            }
            self.next_id = next_id;
        }
        out
    }

    /// True when the server is known to be away: the connection's last
    /// reported state is a failure (refused, authorization violation,
    /// disconnected, ...) and the client is not connected. Before any event
    /// (the first connection still being made) it is not.
    fn known_away(&self) -> bool {
        known_away(&self.conn_state, self.client.as_ref())
    }

    fn fatal(&self, problem: String) -> OutputError {
        OutputError::Io {
            name: self.name.clone(),
            source: std::io::Error::other(problem),
        }
    }

    /// Waits (until `deadline`) for the background connection.
    async fn client(&mut self, deadline: tokio::time::Instant) -> Result<bool, OutputError> {
        if self.client.is_some() {
            return Ok(true);
        }
        let Some(handle) = self.connecting.as_mut() else {
            return Ok(false);
        };
        match timeout_at(deadline, handle).await {
            Err(_) => Ok(false),
            Ok(Ok(Ok(client))) => {
                self.connecting = None;
                if self.settings.sharing.jetstream {
                    let mut js = jetstream::new(client.clone());
                    js.set_timeout(
                        self.settings
                            .sharing
                            .publish_timeout()
                            .min(Duration::from_secs(2)),
                    );
                    self.js = Some(js);
                }
                self.client = Some(client);
                Ok(true)
            }
            Ok(Ok(Err(problem))) => Err(self.fatal(problem)),
            Ok(Err(e)) => Err(self.fatal(format!("connection task failed: {e}"))),
        }
    }

    /// Creates the stream or checks the existing one (once per run).
    async fn ensure_stream(&mut self, deadline: tokio::time::Instant) -> Result<bool, OutputError> {
        if self.stream_ready {
            return Ok(true);
        }
        let Some(js) = self.js.clone() else {
            return Ok(false);
        };
        let [national, plot_releases, _] = Subjects::stream_filters(&self.settings.site);
        match ensure_stream(
            &js,
            &self.settings,
            &self.stream,
            &[national, plot_releases],
            &self.name,
            deadline,
        )
        .await
        {
            Ok(ready) => {
                self.stream_ready = ready;
                Ok(ready)
            }
            Err(problem) => Err(self.fatal(problem)),
        }
    }

    async fn publish_core(
        &mut self,
        messages: &mut [Message],
        deadline: tokio::time::Instant,
    ) -> Result<(), OutputError> {
        if !self.client(deadline).await? {
            return Ok(());
        }
        let Some(client) = self.client.clone() else {
            return Ok(());
        };
        // A disconnected client would buffer the messages and report
        // success: only a connected one counts as sending.
        // A failure reported meanwhile (authorization violation, refused)
        // cuts the wait to OUTAGE_WAIT, as for the batches after it.
        let waiting = tokio::time::Instant::now();
        while client.connection_state() != async_nats::connection::State::Connected {
            let now = tokio::time::Instant::now();
            if now >= deadline || (self.known_away() && now - waiting >= OUTAGE_WAIT) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for m in messages.iter_mut() {
            let publish = client.publish_with_headers(
                m.subject.clone(),
                std::mem::take(&mut m.headers),
                m.payload.clone(),
            );
            match timeout_at(deadline, publish).await {
                Ok(Ok(())) => m.acked = true,
                Ok(Err(e)) => tracing::debug!("{}: publish: {e}", self.name),
                Err(_) => break,
            }
        }
        if timeout_at(deadline, client.flush()).await.is_err() {
            tracing::debug!("{}: flush timed out (server away?)", self.name);
        }
        Ok(())
    }

    async fn publish_jetstream(
        &mut self,
        messages: &mut [Message],
        deadline: tokio::time::Instant,
    ) -> Result<(), OutputError> {
        let mut warned = false;
        loop {
            if self.client(deadline).await? && self.ensure_stream(deadline).await? {
                let Some(js) = self.js.clone() else {
                    return Ok(());
                };
                let mut pending = Vec::new();
                for (k, m) in messages.iter().enumerate().filter(|(_, m)| !m.acked) {
                    let publish = js.publish_with_headers(
                        m.subject.clone(),
                        m.headers.clone(),
                        m.payload.clone(),
                    );
                    match timeout_at(deadline, publish).await {
                        Ok(Ok(ack)) => pending.push((k, ack)),
                        Ok(Err(e)) => {
                            if !warned {
                                tracing::warn!("{}: JetStream publish: {e}; retrying", self.name);
                                warned = true;
                            }
                            break;
                        }
                        Err(_) => break,
                    }
                }
                for (k, ack) in pending {
                    match timeout_at(deadline, ack).await {
                        Ok(Ok(ack)) => {
                            messages[k].acked = true;
                            self.acked_messages += 1;
                            self.last_sequence = self.last_sequence.max(ack.sequence);
                        }
                        Ok(Err(e)) => {
                            if !warned {
                                tracing::warn!("{}: JetStream ack: {e}; retrying", self.name);
                                warned = true;
                            }
                        }
                        Err(_) => {}
                    }
                }
                if messages.iter().all(|m| m.acked) {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() + Duration::from_millis(100) >= deadline {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Creates the stream `stream` of `settings`' site, capturing every filter
/// of [`Subjects::stream_filters`], or reads the existing one, and checks
/// that it captures each of `required`. `Ok(false)`: not now (timed out,
/// JetStream not yet available): try again later; `Err`: it cannot work
/// (its problem, one line). `output` names the output in the log.
async fn ensure_stream(
    js: &jetstream::Context,
    settings: &NatsSettings,
    stream: &str,
    required: &[String],
    output: &str,
    deadline: tokio::time::Instant,
) -> Result<bool, String> {
    let s = &settings.sharing;
    let site = &settings.site;
    let config = jetstream::stream::Config {
        name: stream.to_string(),
        subjects: Subjects::stream_filters(site).to_vec(),
        retention: jetstream::stream::RetentionPolicy::Limits,
        discard: jetstream::stream::DiscardPolicy::Old,
        storage: jetstream::stream::StorageType::File,
        max_age: s.stream_max_age().ok_or_else(|| {
            format!(
                "[sharing] stream_max_age_s {} is not a usable age",
                s.stream_max_age_s
            )
        })?,
        max_bytes: s.stream_max_bytes,
        num_replicas: s.stream_replicas,
        duplicate_window: Duration::from_secs(120),
        description: Some(format!(
            "tews plots, tracks and warnings of {}.{}.{}",
            site.nation, site.name, site.sensor
        )),
        ..Default::default()
    };
    use jetstream::context::CreateStreamErrorKind as K;
    let result = timeout_at(deadline, js.get_or_create_stream(config)).await;
    let mut handle = match result {
        Err(_) => return Ok(false),
        Ok(Ok(handle)) => handle,
        Ok(Err(e)) => match e.kind() {
            K::TimedOut | K::JetStreamUnavailable if tokio::time::Instant::now() < deadline => {
                return Ok(false);
            }
            K::TimedOut => return Ok(false),
            _ => {
                return Err(format!(
                    "JetStream stream {stream}: cannot create or read it: {e}"
                ));
            }
        },
    };
    let info = match timeout_at(deadline, handle.info()).await {
        Ok(Ok(info)) => info.clone(),
        _ => return Ok(false),
    };
    for filter in required {
        if !info
            .config
            .subjects
            .iter()
            .any(|s| filter_covers(s, filter))
        {
            return Err(format!(
                "JetStream stream {stream} exists but does not capture {filter} (its subjects: {})",
                info.config.subjects.join(", ")
            ));
        }
    }
    tracing::info!(
        "{output}: JetStream stream {stream} ready ({} messages stored)",
        info.state.messages
    );
    Ok(true)
}

/// True when the server is known to be away: the connection's last
/// reported state ([`report_state`]) is a failure and `client` (if any) is
/// not connected. Before any event it is not.
fn known_away(state: &std::sync::Mutex<String>, client: Option<&async_nats::Client>) -> bool {
    let failed = {
        let state = state.lock().unwrap_or_else(|e| e.into_inner());
        !state.is_empty() && *state != "connected"
    };
    failed
        && client.is_none_or(|c| c.connection_state() != async_nats::connection::State::Connected)
}

/// Said once per outage by the plot output: it keeps trying and its plots
/// are counted.
const RETRYING: &str =
    "retrying in the background; plots not delivered meanwhile are counted dropped";

/// Logs the connection's state `kind` (with `text`) only when it changed:
/// a server that stays away is said once, not at every reconnection attempt.
fn report_state(name: &str, state: &std::sync::Mutex<String>, kind: String, text: &str) {
    let mut last = state.lock().unwrap_or_else(|e| e.into_inner());
    if *last == kind {
        return;
    }
    if kind == "connected" {
        tracing::info!("{name}: connected");
    } else {
        tracing::warn!("{name}: {text}");
    }
    *last = kind;
}

/// Builds the connect options from the site config and connects in the
/// background (the returned client reconnects by itself); connection
/// events go to `state` ([`report_state`]), each failure said once with
/// `retrying` after it (what the output does meanwhile).
async fn connect(
    settings: NatsSettings,
    name: String,
    state: std::sync::Arc<std::sync::Mutex<String>>,
    retrying: &'static str,
) -> Result<async_nats::Client, String> {
    let s = &settings.sharing;
    let site = &settings.site;
    // The client reports an unreachable server as a bare "IO error": try
    // the TCP connection once first, so the cause (refused, no route, no
    // such host) is said.
    let server = settings.server.clone();
    let probe = tokio::task::spawn_blocking(move || {
        use std::net::ToSocketAddrs;
        let addr = server
            .to_socket_addrs()
            .map_err(|e| e.to_string())?
            .next()
            .ok_or_else(|| "no address".to_string())?;
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .map(drop)
            .map_err(|e| e.to_string())
    })
    .await;
    if let Ok(Err(cause)) = probe {
        report_state(
            &name,
            &state,
            "unreachable".into(),
            &format!("cannot connect to {}: {cause}; {retrying}", settings.server),
        );
    }
    let mut options = async_nats::ConnectOptions::new()
        .name(format!(
            "tews {}.{}.{}",
            site.nation, site.name, site.sensor
        ))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(2))
        // The first attempt at once, then 100 ms more per failure up to 1 s:
        // a restarted server is found again within a second.
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis((100 * attempts.saturating_sub(1) as u64).min(1000))
        })
        .event_callback({
            let (name, state) = (name.clone(), state.clone());
            move |event| {
                let (name, state) = (name.clone(), state.clone());
                async move {
                    let (kind, text) = match &event {
                        async_nats::Event::Connected => ("connected".to_string(), String::new()),
                        async_nats::Event::Disconnected => (
                            "disconnected".to_string(),
                            format!("disconnected; {retrying}"),
                        ),
                        async_nats::Event::ClientError(e) if e.to_string().contains("IO error") => {
                            // The client's IO error carries no cause; the
                            // probe before connecting said it once.
                            (
                                "unreachable".to_string(),
                                format!("cannot reach the server; {retrying}"),
                            )
                        }
                        other => (format!("{other}"), format!("{other}; {retrying}")),
                    };
                    report_state(&name, &state, kind, &text);
                }
            }
        });
    if let (Some(user), Some(password)) = (&s.user, &s.password) {
        options = options.user_and_password(user.clone(), password.clone());
    }
    if let Some(token) = &s.token {
        options = options.token(token.clone());
    }
    if let Some(path) = &s.creds_file {
        options = options
            .credentials_file(path)
            .await
            .map_err(|e| format!("sharing.creds_file {}: {e}", path.display()))?;
    }
    if let Some(path) = &s.nkey_seed_file {
        let seed = std::fs::read_to_string(path)
            .map_err(|e| format!("sharing.nkey_seed_file {}: {e}", path.display()))?;
        options = options.nkey(seed.trim().to_string());
    }
    if let Some(ca) = &s.tls_ca_file {
        options = options.add_root_certificates(ca.clone());
    }
    if let (Some(cert), Some(key)) = (&s.tls_cert_file, &s.tls_key_file) {
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    if s.tls_required || s.tls_ca_file.is_some() {
        options = options.require_tls(true);
    }
    options
        .connect(settings.server.as_str())
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", settings.server))
}

impl PlotSink for NatsSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn write(&mut self, plots: &[Plot]) -> Result<(), OutputError> {
        self.lost = 0;
        if plots.is_empty() {
            return Ok(());
        }
        let mut messages = self.messages(plots);
        let mut timeout = self.settings.sharing.publish_timeout();
        if self.outage || self.known_away() {
            timeout = timeout.min(OUTAGE_WAIT);
        }
        if let Some(deadline) = self.drain_deadline {
            timeout = timeout.min(deadline.saturating_duration_since(Instant::now()));
        }
        let rt = self.rt.handle().clone();
        let jetstream = self.settings.sharing.jetstream;
        rt.block_on(async {
            let deadline = tokio::time::Instant::now() + timeout;
            if jetstream {
                self.publish_jetstream(&mut messages, deadline).await
            } else {
                self.publish_core(&mut messages, deadline).await
            }
        })?;
        let mut delivered = vec![true; plots.len()];
        for m in &messages {
            delivered[m.plot] &= m.acked;
            if let Some(k) = m.partner {
                let r = &mut self.releases[k];
                if m.acked {
                    r.released += 1;
                } else {
                    r.dropped += 1;
                }
            }
        }
        self.lost = delivered.iter().filter(|&&d| !d).count() as u64;
        let connected = self
            .client
            .as_ref()
            .is_some_and(|c| c.connection_state() == async_nats::connection::State::Connected);
        let was_outage = self.outage;
        self.outage = self.lost > 0 && !connected;
        if self.lost > 0 && !was_outage {
            tracing::warn!(
                "{}: {} of {} plots of CPI {} not delivered within {} s",
                self.name,
                self.lost,
                plots.len(),
                plots[0].cpi,
                timeout.as_secs_f64()
            );
        }
        if was_outage && !self.outage {
            tracing::info!("{}: delivering again", self.name);
        }
        Ok(())
    }

    fn drain_until(&mut self, deadline: Instant) {
        self.drain_deadline = Some(deadline);
    }

    fn releases(&self) -> Vec<PartnerRelease> {
        self.releases.clone()
    }

    fn take_undelivered(&mut self) -> crate::output::Undelivered {
        crate::output::Undelivered {
            plots: std::mem::take(&mut self.lost),
            send_errors: 0,
        }
    }

    fn finish(&mut self) -> Result<(), OutputError> {
        // A server known to be away was said once already; nothing to flush to.
        if let Some(client) = self.client.clone().filter(|_| !self.known_away()) {
            let mut timeout = self.settings.sharing.publish_timeout();
            if let Some(deadline) = self.drain_deadline {
                timeout = timeout.min(deadline.saturating_duration_since(Instant::now()));
            }
            let flushed = self
                .rt
                .block_on(async { tokio::time::timeout(timeout, client.flush()).await });
            if !matches!(flushed, Ok(Ok(()))) {
                tracing::warn!("{}: could not flush at the end of the run", self.name);
            }
        }
        for r in &self.releases {
            tracing::info!(
                "{}: partner {}: {} plots released, {} withheld by its policy, {} not delivered",
                self.name,
                r.partner,
                r.released,
                r.withheld,
                r.dropped
            );
        }
        if self.settings.sharing.jetstream {
            tracing::info!(
                "{}: {} messages acknowledged by stream {}, last sequence {}",
                self.name,
                self.acked_messages,
                self.stream,
                self.last_sequence
            );
        }
        Ok(())
    }
}

impl Drop for NatsSink {
    fn drop(&mut self) {
        if let Some(handle) = self.connecting.take() {
            handle.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nats_output_specs_parse_or_say_why_not() {
        use crate::output::OutputSpec;
        let spec: OutputSpec = "nats://127.0.0.1:4222".parse().unwrap();
        assert_eq!(
            spec,
            OutputSpec::Nats {
                server: "127.0.0.1:4222".into(),
                settings: None
            }
        );
        for bad in [
            "nats://",
            "nats://host",
            "nats://host:0",
            "nats://:4222",
            "nats:host:1",
            "nats://h:1/x",
        ] {
            let e = bad.parse::<OutputSpec>().unwrap_err().to_string();
            assert!(e.contains("expected nats://HOST:PORT"), "{bad}: {e}");
        }
        let e = spec.open().err().unwrap().to_string();
        assert!(e.contains("--site"), "{e}");
    }

    #[test]
    fn filters_cover_as_nats_matches() {
        assert!(filter_covers("tews.*.a.s.r", "tews.*.a.s.r"));
        assert!(filter_covers("tews.>", "tews.*.a.s.r"));
        assert!(filter_covers(
            "tews.release.*.a.s.r",
            "tews.release.*.a.s.r"
        ));
        assert!(!filter_covers("tews.plots.a.s.r", "tews.*.a.s.r"));
        assert!(!filter_covers("tews.*.a.s", "tews.*.a.s.r"));
        assert!(!filter_covers("tews.*.a.s.r.x", "tews.*.a.s.r"));
        assert!(!filter_covers("tews.*.b.s.r", "tews.*.a.s.r"));
    }

    #[test]
    fn subjects_put_the_partner_after_release() {
        let site = SiteIdentity {
            name: "north-1".into(),
            nation: "alpha".into(),
            sensor: "radar-a".into(),
            sac: 1,
            sic: 2,
            latitude_deg: None,
            longitude_deg: None,
            height_m: None,
            exercise: false,
        };
        let partner = |name: &str| PartnerPolicy {
            name: name.into(),
            azimuth_sectors_deg: vec![],
            min_range_m: 0.0,
            max_range_m: f64::INFINITY,
            min_snr_db: f64::NEG_INFINITY,
            withhold: vec![],
            release_tracks: TrackRelease::Sector,
            release_warnings: true,
        };
        let s = Subjects::new(&site, &[partner("bravo"), partner("charlie")]);
        assert_eq!(s.plots, "tews.plots.alpha.north-1.radar-a");
        assert_eq!(s.asterix, "tews.asterix.alpha.north-1.radar-a");
        assert_eq!(
            s.release,
            [
                "tews.release.bravo.alpha.north-1.radar-a",
                "tews.release.charlie.alpha.north-1.radar-a"
            ]
        );
        for subject in [&s.plots, &s.asterix, &s.release[0]] {
            assert!(
                Subjects::stream_filters(&site)
                    .iter()
                    .any(|f| filter_covers(f, subject))
            );
        }
        assert_eq!(default_stream_name(&site), "TEWS-alpha-north-1-radar-a");
    }
}
