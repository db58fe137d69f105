//! Prometheus metrics for operators (`tews run --metrics ADDR:PORT`).
//!
//! Metrics are kept with the `prometheus-client` crate and served in its
//! OpenMetrics text format by a minimal HTTP/1.0 responder on its own thread
//! (`GET /metrics`; anything else is 404). The responder answers one request
//! per connection and closes it, which is all a Prometheus scrape needs.
//!
//! Counters owned elsewhere (the receiver's, the outputs') are copied in at
//! each scrape by the `refresh` hook given to [`serve`]; the per-CPI
//! counters and the latency histogram are updated by the run loop as CPIs
//! are processed ([`Metrics::observe_cpi`]).
//!
//! | metric | type | meaning |
//! | --- | --- | --- |
//! | `tews_packets_received_total` | counter | datagrams received |
//! | `tews_packets_lost_total` | counter | packets missing from the count sequences |
//! | `tews_packets_malformed_total` | counter | datagrams not in the profile |
//! | `tews_packets_duplicate_total` | counter | repeated packets |
//! | `tews_packets_late_total` | counter | reordered packets |
//! | `tews_packets_unknown_stream_total` | counter | packets of another stream ID |
//! | `tews_cpis_processed_total` | counter | CPIs through detection |
//! | `tews_cpis_dropped_total{reason}` | counter | CPIs dropped, by reason |
//! | `tews_cpis_incomplete_total` | counter | CPIs cut short |
//! | `tews_detections_total` | counter | CFAR crossings |
//! | `tews_plots_total` | counter | plots handed to the outputs |
//! | `tews_ingest_queue_depth` | gauge | CPIs waiting for processing |
//! | `tews_output_queued_plots{output}` | gauge | plots waiting in an output's queue |
//! | `tews_output_sent_plots_total{output}` | counter | plots an output sent |
//! | `tews_output_dropped_plots_total{output}` | counter | plots an output dropped |
//! | `tews_output_released_plots_total{output,partner}` | counter | plots released to a partner and delivered (NATS `[[partner]]`) |
//! | `tews_output_withheld_plots_total{output,partner}` | counter | plots a partner's policy did not release |
//! | `tews_processing_latency_seconds` | histogram | last datagram of a CPI received to its plots handed to the outputs |

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::ingest::udp::LiveStats;
use crate::output::OutputStats;

type Labels = Vec<(String, String)>;

/// The metrics of one run.
pub struct Metrics {
    registry: Registry,
    packets_received: Counter,
    packets_lost: Counter,
    packets_malformed: Counter,
    packets_duplicate: Counter,
    packets_late: Counter,
    packets_unknown_stream: Counter,
    cpis_processed: Counter,
    cpis_dropped: Family<Labels, Counter>,
    cpis_incomplete: Counter,
    detections: Counter,
    plots: Counter,
    ingest_queue_depth: Gauge,
    output_queued: Family<Labels, Gauge>,
    output_sent: Family<Labels, Counter>,
    output_dropped: Family<Labels, Counter>,
    output_released: Family<Labels, Counter>,
    output_withheld: Family<Labels, Counter>,
    latency: Histogram,
}

/// Raises counter `c` to `v` (counters only go up; copies of monotonic
/// counters kept elsewhere).
fn raise_to(c: &Counter, v: u64) {
    let now = c.get();
    if v > now {
        c.inc_by(v - now);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All metrics at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tews");
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let packets_received = counter(&mut registry, "packets_received", "Datagrams received");
        let packets_lost = counter(
            &mut registry,
            "packets_lost",
            "Packets missing from the packet count sequences",
        );
        let packets_malformed = counter(
            &mut registry,
            "packets_malformed",
            "Datagrams that are not packets of the profile",
        );
        let packets_duplicate = counter(&mut registry, "packets_duplicate", "Repeated packets");
        let packets_late = counter(&mut registry, "packets_late", "Reordered packets");
        let packets_unknown_stream = counter(
            &mut registry,
            "packets_unknown_stream",
            "Packets of another stream ID",
        );
        let cpis_processed = counter(&mut registry, "cpis_processed", "CPIs through detection");
        let cpis_dropped = Family::<Labels, Counter>::default();
        registry.register(
            "cpis_dropped",
            "CPIs dropped, by reason",
            cpis_dropped.clone(),
        );
        let cpis_incomplete = counter(
            &mut registry,
            "cpis_incomplete",
            "CPIs cut short (fewer than P pulses)",
        );
        let detections = counter(&mut registry, "detections", "CFAR threshold crossings");
        let plots = counter(&mut registry, "plots", "Plots handed to the outputs");
        let ingest_queue_depth = Gauge::default();
        registry.register(
            "ingest_queue_depth",
            "CPIs waiting for processing",
            ingest_queue_depth.clone(),
        );
        let output_queued = Family::<Labels, Gauge>::default();
        registry.register(
            "output_queued_plots",
            "Plots waiting in an output's queue",
            output_queued.clone(),
        );
        let output_sent = Family::<Labels, Counter>::default();
        registry.register(
            "output_sent_plots",
            "Plots an output sent",
            output_sent.clone(),
        );
        let output_dropped = Family::<Labels, Counter>::default();
        registry.register(
            "output_dropped_plots",
            "Plots an output dropped (queue full or output failed)",
            output_dropped.clone(),
        );
        let output_released = Family::<Labels, Counter>::default();
        registry.register(
            "output_released_plots",
            "Plots released to a partner and delivered",
            output_released.clone(),
        );
        let output_withheld = Family::<Labels, Counter>::default();
        registry.register(
            "output_withheld_plots",
            "Plots a partner's release policy did not release",
            output_withheld.clone(),
        );
        // 100 us to about 13 s.
        let latency = Histogram::new(exponential_buckets(1e-4, 2.0, 18));
        registry.register(
            "processing_latency_seconds",
            "Last datagram of a CPI received to its plots handed to the outputs",
            latency.clone(),
        );
        Metrics {
            registry,
            packets_received,
            packets_lost,
            packets_malformed,
            packets_duplicate,
            packets_late,
            packets_unknown_stream,
            cpis_processed,
            cpis_dropped,
            cpis_incomplete,
            detections,
            plots,
            ingest_queue_depth,
            output_queued,
            output_sent,
            output_dropped,
            output_released,
            output_withheld,
            latency,
        }
    }

    /// One CPI processed: its detections and plots, and its latency when known.
    pub fn observe_cpi(&self, detections: u64, plots: u64, latency_s: Option<f64>) {
        self.cpis_processed.inc();
        self.detections.inc_by(detections);
        self.plots.inc_by(plots);
        if let Some(s) = latency_s {
            self.latency.observe(s);
        }
    }

    /// Copies in the receiver's counters and the ingest queue's depth.
    pub fn set_live(&self, s: &LiveStats, queue_depth: usize) {
        raise_to(&self.packets_received, s.packets_received);
        raise_to(&self.packets_lost, s.packets_lost);
        raise_to(&self.packets_malformed, s.packets_malformed);
        raise_to(&self.packets_duplicate, s.packets_duplicate);
        raise_to(&self.packets_late, s.packets_late);
        raise_to(&self.packets_unknown_stream, s.packets_unknown_stream);
        raise_to(&self.cpis_incomplete, s.cpis_incomplete);
        for (reason, v) in [
            ("packet_lost", s.cpis_dropped_packet_lost),
            ("packet_late", s.cpis_dropped_packet_late),
            ("sample_loss", s.cpis_dropped_sample_loss),
            ("invalid_data", s.cpis_dropped_invalid_data),
            ("bad_frame", s.cpis_dropped_bad_frame),
            ("no_context", s.cpis_dropped_no_context),
            ("sample_rate", s.cpis_dropped_sample_rate),
            ("queue_full", s.cpis_dropped_queue_full),
            ("radar_mismatch", s.cpis_dropped_radar_mismatch),
        ] {
            raise_to(
                &self
                    .cpis_dropped
                    .get_or_create(&vec![("reason".into(), reason.into())]),
                v,
            );
        }
        self.ingest_queue_depth.set(queue_depth as i64);
    }

    /// Copies in the outputs' counters.
    pub fn set_outputs(&self, outputs: &[OutputStats]) {
        for o in outputs {
            let labels = vec![("output".to_string(), o.name.clone())];
            self.output_queued
                .get_or_create(&labels)
                .set(o.queued as i64);
            raise_to(&self.output_sent.get_or_create(&labels), o.sent);
            raise_to(&self.output_dropped.get_or_create(&labels), o.dropped);
            for r in &o.releases {
                let labels = vec![
                    ("output".to_string(), o.name.clone()),
                    ("partner".to_string(), r.partner.clone()),
                ];
                raise_to(&self.output_released.get_or_create(&labels), r.released);
                raise_to(&self.output_withheld.get_or_create(&labels), r.withheld);
            }
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

/// The metrics endpoint could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("--metrics {addr}: cannot listen: {source}")]
pub struct MetricsError {
    /// The address asked for.
    pub addr: String,
    /// The operating system's error.
    #[source]
    pub source: std::io::Error,
}

/// Opens the metrics endpoint's listening socket (port 0 picks one), so a
/// bad address fails before anything else starts.
pub fn listen(addr: &str) -> Result<TcpListener, MetricsError> {
    TcpListener::bind(addr).map_err(|source| MetricsError {
        addr: addr.to_string(),
        source,
    })
}

/// Serves `metrics` at `http://ADDR/metrics` on `listener` from a
/// background thread (for the life of the process). `refresh` runs before
/// each scrape to copy in counters kept elsewhere.
pub fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    refresh: impl Fn(&Metrics) + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(local) = listener.local_addr() {
        tracing::info!("metrics on http://{local}/metrics");
    }
    std::thread::Builder::new()
        .name("tews-metrics".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                refresh(&metrics);
                if let Err(e) = respond(stream, &metrics) {
                    tracing::debug!("metrics: {e}");
                }
            }
        })?;
    Ok(())
}

/// Answers one HTTP request on `stream`.
fn respond(mut stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    // Read the request head (to the blank line), at most 8 KiB.
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&request);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, content_type, body) = if method == "GET" && (path == "/metrics" || path == "/") {
        (
            "200 OK",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.encode(),
        )
    } else {
        (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "tews serves GET /metrics\n".to_string(),
        )
    };
    write!(
        stream,
        "HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::PartnerRelease;

    #[test]
    fn partner_releases_are_labelled_by_output_and_partner() {
        let m = Metrics::new();
        let release = |partner: &str, released, withheld| PartnerRelease {
            partner: partner.into(),
            released,
            withheld,
            dropped: 0,
        };
        m.set_outputs(&[OutputStats {
            name: "nats://h:4222".into(),
            sent: 40,
            releases: vec![release("bravo", 12, 28), release("charlie", 0, 40)],
            ..OutputStats::default()
        }]);
        let text = m.encode();
        for line in [
            r#"tews_output_released_plots_total{output="nats://h:4222",partner="bravo"} 12"#,
            r#"tews_output_withheld_plots_total{output="nats://h:4222",partner="bravo"} 28"#,
            r#"tews_output_released_plots_total{output="nats://h:4222",partner="charlie"} 0"#,
            r#"tews_output_withheld_plots_total{output="nats://h:4222",partner="charlie"} 40"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }
}
