//! JetStream durability, for real: tews publishes into a stream on a real
//! nats-server while the test kills its own subscriber (drops the connection
//! with fetched messages unacknowledged) and kills the server with SIGKILL,
//! then restarts both. The stream must hold every sequence up to the last
//! one tews saw acknowledged, the durable consumer must finally have every
//! one of them, every plot counted sent must be among them, and everything
//! stored must be a plot the run's own jsonl output wrote.

mod common;

use async_nats::jetstream::{self, consumer::pull};
use common::nats::{KillOnDrop, NatsServer, free_port, require_nats_server};
use futures_util::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

const STREAM: &str = "TEWS-alpha-north-1-radar-a";
const PLOTS: &str = "tews.plots.alpha.north-1.radar-a";

/// Fetches and acks until `stop` returns true or the connection fails;
/// returns false on a connection failure. Acks all but the last fetched
/// message of a batch when `leave_last_unacked` (it is redelivered later).
async fn consume(
    consumer: &jetstream::consumer::PullConsumer,
    got: &mut BTreeMap<u64, (String, String)>,
    until: Instant,
    leave_last_unacked: bool,
) -> bool {
    while Instant::now() < until {
        let Ok(mut batch) = consumer
            .fetch()
            .max_messages(200)
            .expires(Duration::from_millis(300))
            .messages()
            .await
        else {
            return false;
        };
        let mut last = None;
        while let Some(m) = batch.next().await {
            let Ok(m) = m else {
                return false;
            };
            let Ok(info) = m.info() else { return false };
            got.insert(
                info.stream_sequence,
                (
                    m.subject.to_string(),
                    String::from_utf8_lossy(&m.payload).into_owned(),
                ),
            );
            if let Some(prev) = last.replace(m) {
                let prev: jetstream::Message = prev;
                if prev.ack().await.is_err() {
                    return false;
                }
            }
        }
        if let Some(m) = last
            && !leave_last_unacked
            && m.ack().await.is_err()
        {
            return false;
        }
    }
    true
}

async fn connect_consumer(
    addr: &str,
) -> Option<(async_nats::Client, jetstream::consumer::PullConsumer)> {
    let client = async_nats::connect(addr).await.ok()?;
    let js = jetstream::new(client.clone());
    let stream = js.get_stream(STREAM).await.ok()?;
    let consumer = stream
        .get_or_create_consumer(
            "partner",
            pull::Config {
                durable_name: Some("partner".into()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(1),
                ..Default::default()
            },
        )
        .await
        .ok()?;
    Some((client, consumer))
}

#[test]
fn nothing_acknowledged_is_lost_across_subscriber_and_server_restarts() {
    let Some(()) = require_nats_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rec = common::nats::simulate_scenario(dir.path());
    let port = free_port();
    let conf = dir.path().join("js.conf");
    std::fs::write(
        &conf,
        format!(
            "host: 127.0.0.1\nport: {port}\njetstream {{ store_dir: \"{}\" }}\n",
            dir.path().join("store").display()
        ),
    )
    .unwrap();
    let mut server = NatsServer::start(&conf, port, &[], &dir.path().join("nats.log"));
    let site = dir.path().join("site.toml");
    std::fs::write(
        &site,
        "[site]\nname = \"north-1\"\nnation = \"alpha\"\nsensor = \"radar-a\"\nsac = 1\nsic = 2\n\
         [sharing]\njetstream = true\npublish_timeout_s = 20\n\
         [[partner]]\nname = \"bravo\"\nmin_snr_db = 20.0\n",
    )
    .unwrap();
    let jsonl = dir.path().join("plots.jsonl");
    let summary = dir.path().join("summary.json");
    let log = dir.path().join("tews.log");
    // 3 passes x 360 CPIs at 150 CPIs/s: about 7 s of publishing.
    let mut run = KillOnDrop(
        common::nats::sharing_run(&rec, &site, &jsonl, &server.addr(), &summary)
            .args(["--repeat", "3", "--cpi-rate", "150"])
            .stderr(std::fs::File::create(&log).unwrap())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addr = server.addr();
    let mut got = BTreeMap::new();
    rt.block_on(async {
        // The stream appears with tews's first plots.
        let t0 = Instant::now();
        let (client, consumer) = loop {
            if let Some(c) = connect_consumer(&addr).await {
                break c;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "no stream");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // 1: consume for a second, leave messages unacked, "kill" the subscriber.
        consume(
            &consumer,
            &mut got,
            Instant::now() + Duration::from_secs(1),
            true,
        )
        .await;
        drop(consumer);
        drop(client);
    });
    let before_kill = got.len();
    assert!(
        before_kill > 0,
        "the subscriber got nothing before it was killed"
    );
    // 2: kill the server mid-run, keep it down for a second, restart it.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        run.0.try_wait().unwrap().is_none(),
        "tews ended before the server was killed"
    );
    server.kill();
    std::thread::sleep(Duration::from_secs(1));
    server.restart();
    assert!(
        run.0.try_wait().unwrap().is_none(),
        "tews ended while the server was down"
    );
    // 3: a new subscriber on the same durable consumer until tews is done
    // and nothing more arrives.
    rt.block_on(async {
        let t0 = Instant::now();
        loop {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "consumer never caught up"
            );
            let Some((_client, consumer)) = connect_consumer(&addr).await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let ok = consume(
                &consumer,
                &mut got,
                Instant::now() + Duration::from_secs(1),
                false,
            )
            .await;
            if ok
                && run.0.try_wait().unwrap().is_some()
                && let Ok(info) = consumer.get_info().await
                && info.num_pending == 0
                && info.num_ack_pending == 0
            {
                break;
            }
        }
    });
    assert!(run.0.wait().unwrap().success(), "tews failed");

    let text = std::fs::read_to_string(&log).unwrap();
    let last_acked: u64 = text
        .lines()
        .find_map(|l| {
            l.split_once("last sequence ")
                .map(|(_, s)| s.trim().parse().unwrap())
        })
        .expect("tews logs its last acknowledged sequence");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let nats = &s["outputs"][1];
    let (sent, dropped) = (
        nats["sent"].as_u64().unwrap(),
        nats["dropped"].as_u64().unwrap(),
    );
    let plots: BTreeSet<String> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(sent + dropped, s["plots"].as_u64().unwrap());
    assert!(sent > 0);

    // Every sequence up to the last acknowledged one reached the consumer.
    let seqs: Vec<u64> = got.keys().copied().collect();
    assert!(last_acked > 0 && seqs.last().copied().unwrap_or(0) >= last_acked);
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "gaps");
    // Every stored plot is a plot of the run, none twice; at least every
    // plot counted sent is there.
    let stored: Vec<String> = got
        .values()
        .filter(|(subject, _)| subject == PLOTS)
        .map(|(_, p)| {
            serde_json::from_str::<serde_json::Value>(p)
                .unwrap()
                .to_string()
        })
        .collect();
    let distinct: BTreeSet<&String> = stored.iter().collect();
    assert_eq!(distinct.len(), stored.len(), "a plot stored twice");
    assert!(distinct.iter().all(|p| plots.contains(*p)));
    assert!(
        stored.len() as u64 >= sent,
        "{} plots stored, {sent} acknowledged",
        stored.len()
    );
    assert!(stored.len() as u64 <= sent + dropped);
    eprintln!(
        "plots {}, sent {sent}, dropped {dropped}, stored {}, last acked seq {last_acked}, \
         consumer had {} messages before its kill",
        plots.len(),
        stored.len(),
        before_kill
    );
}
