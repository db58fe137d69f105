//! Subscriber for benches/nats_load.py: counts the plots arriving on
//! `tews.plots.>` and measures end-to-end latency, from the
//! `Tews-Received-Unix-Us` header (when the plot's CPI's last sample reached
//! tews) to arrival here (same host, same clock). Prints one JSON object
//! when nothing has arrived for `--idle-s` seconds after the first message.
//!
//! `cargo run --release --example nats_bench_sub -- HOST:PORT [IDLE_S]`

use futures_util::StreamExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .expect("usage: nats_bench_sub HOST:PORT [IDLE_S]");
    let idle_s: f64 = args.next().map_or(3.0, |s| s.parse().expect("IDLE_S"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = async_nats::ConnectOptions::new()
            .subscription_capacity(1 << 20)
            .connect(addr.as_str())
            .await
            .expect("connect");
        let mut sub = client.subscribe("tews.plots.>").await.expect("subscribe");
        client.flush().await.expect("flush");
        println!("{{\"ready\": true}}");
        let mut hist = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)
            .expect("histogram");
        let mut per_subject = std::collections::BTreeMap::<String, u64>::new();
        let mut delivered = 0u64;
        let (mut first, mut last) = (None, None);
        loop {
            let wait = if delivered == 0 { 600.0 } else { idle_s };
            match tokio::time::timeout(Duration::from_secs_f64(wait), sub.next()).await {
                Ok(Some(m)) => {
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_micros() as u64;
                    delivered += 1;
                    first.get_or_insert(now);
                    last = Some(now);
                    *per_subject.entry(m.subject.to_string()).or_default() += 1;
                    if let Some(sent) = m
                        .headers
                        .as_ref()
                        .and_then(|h| h.get(tews::output::nats::RECEIVED_HEADER))
                        .and_then(|v| v.as_str().parse::<u64>().ok())
                    {
                        hist.saturating_record(now.saturating_sub(sent).max(1));
                    }
                }
                _ => break,
            }
        }
        let span_s = match (first, last) {
            (Some(a), Some(b)) => (b - a) as f64 / 1e6,
            _ => 0.0,
        };
        println!(
            "{}",
            serde_json::json!({
                "delivered": delivered,
                "span_s": span_s,
                "per_subject": per_subject,
                "latency_us_p50": hist.value_at_quantile(0.5),
                "latency_us_p99": hist.value_at_quantile(0.99),
                "latency_us_max": hist.max(),
            })
        );
    });
}
