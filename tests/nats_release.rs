//! The shipped three-nation NATS configuration (deploy/nats/) and release
//! policy, for real: one nats-server with deploy/nats/nations.conf on
//! loopback, three tews processes with the shipped site configs
//! (deploy/nats/sites/*.toml) on a simulated recording, and each nation's
//! operations-centre user subscribed to what its permissions allow.
//!
//! The expected messages are computed here, independently of tews's policy
//! code: from the JSON lines a jsonl output of the same run wrote, with the
//! release rules re-implemented from their documented definition
//! (src/output/nats/policy.rs) and the policies read from the site files as
//! plain TOML. Each partner must receive exactly its releases from the two
//! other nations, nothing else, its own nation's plots, and be refused
//! (permissions violation) when it subscribes to another partner's subjects.

mod common;

use common::nats::{KillOnDrop, NatsServer, free_port, require_nats_server};
use futures_util::StreamExt;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NATIONS: [&str; 3] = ["alpha", "bravo", "charlie"];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// One partner policy as the test reads it from the site file.
struct Policy {
    name: String,
    sectors: Vec<(f64, f64)>,
    min_range_m: f64,
    max_range_m: f64,
    min_snr_db: f64,
    withhold: Vec<String>,
}

fn policies(site: &toml::Value) -> Vec<Policy> {
    let num = |t: &toml::Value, k: &str, d: f64| {
        t.get(k)
            .map(|v| v.as_float().or(v.as_integer().map(|i| i as f64)).unwrap())
            .unwrap_or(d)
    };
    site.get("partner")
        .and_then(|p| p.as_array())
        .map(|a| {
            a.iter()
                .map(|t| Policy {
                    name: t["name"].as_str().unwrap().to_string(),
                    sectors: t
                        .get("azimuth_sectors_deg")
                        .and_then(|s| s.as_array())
                        .map(|s| {
                            s.iter()
                                .map(|p| {
                                    let p = p.as_array().unwrap();
                                    (p[0].as_float().unwrap(), p[1].as_float().unwrap())
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    min_range_m: num(t, "min_range_m", 0.0),
                    max_range_m: num(t, "max_range_m", f64::INFINITY),
                    min_snr_db: num(t, "min_snr_db", f64::NEG_INFINITY),
                    withhold: t
                        .get("withhold")
                        .and_then(|w| w.as_array())
                        .map(|w| w.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The documented rule: azimuth mod 360 in a clockwise [from, to) sector
/// (wrapping when from > to), range within the inclusive limits, SNR at
/// least the floor.
fn released(p: &Policy, plot: &Value) -> bool {
    let az = plot["azimuth_deg"].as_f64().unwrap() % 360.0;
    let az = if az < 0.0 { az + 360.0 } else { az };
    let in_sector = p.sectors.is_empty()
        || p.sectors.iter().any(|&(from, to)| {
            if from < to {
                from <= az && az < to
            } else {
                az >= from || az < to
            }
        });
    let r = plot["range_m"].as_f64().unwrap();
    let snr = plot["snr_db"].as_f64().unwrap();
    in_sector && r >= p.min_range_m && r <= p.max_range_m && snr >= p.min_snr_db
}

fn withheld(p: &Policy, plot: &Value) -> String {
    let mut v = plot.clone();
    for k in &p.withhold {
        // shift_remove: the released line keeps the plot's key order.
        v.as_object_mut().unwrap().shift_remove(k);
    }
    v.to_string()
}

type Inbox = Arc<Mutex<Vec<(String, String)>>>;

#[test]
fn three_nations_each_partner_gets_exactly_its_release() {
    let Some(()) = require_nats_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rec = common::nats::simulate_scenario(dir.path());

    let port = free_port();
    let site_pw = |n: &str| format!("change-me-{n}-site");
    let c2_pw = |n: &str| format!("c2-secret-{n}");
    let mut env = vec![
        ("TEWS_NATS_HOST".to_string(), "127.0.0.1".to_string()),
        ("TEWS_NATS_PORT".to_string(), port.to_string()),
        (
            "TEWS_NATS_STORE".to_string(),
            dir.path().join("js").display().to_string(),
        ),
    ];
    for n in NATIONS {
        let upper = n.to_uppercase();
        env.push((format!("TEWS_PW_{upper}_SITE"), site_pw(n)));
        env.push((format!("TEWS_PW_{upper}_C2"), c2_pw(n)));
    }
    let server = NatsServer::start(
        &repo("deploy/nats/nations.conf"),
        port,
        &env,
        &dir.path().join("nats.log"),
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // Subscribe as each nation's operations centre.
    let mut inboxes: BTreeMap<&str, Inbox> = BTreeMap::new();
    let mut errors: BTreeMap<&str, Arc<Mutex<Vec<String>>>> = BTreeMap::new();
    let mut clients = Vec::new();
    for n in NATIONS {
        let inbox: Inbox = Arc::default();
        let errs: Arc<Mutex<Vec<String>>> = Arc::default();
        let e2 = Arc::clone(&errs);
        let client = rt
            .block_on(
                async_nats::ConnectOptions::with_user_and_password(format!("{n}-c2"), c2_pw(n))
                    .event_callback(move |ev| {
                        let e2 = Arc::clone(&e2);
                        async move { e2.lock().unwrap().push(ev.to_string()) }
                    })
                    .connect(server.addr()),
            )
            .unwrap();
        for subject in [format!("tews.release.{n}.>"), format!("tews.plots.{n}.>")] {
            let mut sub = rt.block_on(client.subscribe(subject)).unwrap();
            let inbox = Arc::clone(&inbox);
            rt.spawn(async move {
                while let Some(m) = sub.next().await {
                    let payload = String::from_utf8_lossy(&m.payload).into_owned();
                    inbox.lock().unwrap().push((m.subject.to_string(), payload));
                }
            });
        }
        // Forbidden: another partner's releases, another nation's plots.
        let other = NATIONS.iter().find(|&&o| o != n).unwrap();
        for subject in [
            format!("tews.release.{other}.>"),
            format!("tews.plots.{other}.>"),
        ] {
            let _ = rt.block_on(client.subscribe(subject));
        }
        rt.block_on(client.flush()).unwrap();
        inboxes.insert(n, inbox);
        errors.insert(n, errs);
        clients.push(client);
    }
    // Let the subscriptions and the server's replies settle.
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });

    // Three sensors, one after the other (each a few hundred ms).
    let mut plots: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    let mut sites: BTreeMap<&str, toml::Value> = BTreeMap::new();
    let mut summaries: BTreeMap<&str, Value> = BTreeMap::new();
    for n in NATIONS {
        let site_file = repo(&format!("deploy/nats/sites/{n}.toml"));
        let jsonl = dir.path().join(format!("{n}.jsonl"));
        let summary = dir.path().join(format!("{n}.summary.json"));
        let child = common::nats::sharing_run(&rec, &site_file, &jsonl, &server.addr(), &summary)
            .arg("-q")
            // Paced like a live sensor (1.8 s): a recording read at full
            // speed would overflow the network output's queue while it
            // connects, and drop-oldest would (rightly) thin it.
            .args(["--cpi-rate", "200"])
            .spawn()
            .unwrap();
        let mut child = KillOnDrop(child);
        assert!(child.0.wait().unwrap().success(), "tews run for {n}");
        let lines: Vec<Value> = std::fs::read_to_string(&jsonl)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        let nats = s["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"].as_str().unwrap().starts_with("nats://"))
            .unwrap();
        assert_eq!(nats["sent"].as_u64().unwrap(), lines.len() as u64, "{n}");
        assert_eq!(nats["dropped"].as_u64().unwrap(), 0, "{n}");
        summaries.insert(n, nats["releases"].clone());
        plots.insert(n, lines);
        sites.insert(
            n,
            toml::from_str(&std::fs::read_to_string(&site_file).unwrap()).unwrap(),
        );
    }

    // What each operations centre must receive.
    let mut expected: BTreeMap<&str, Vec<(String, String)>> = BTreeMap::new();
    for src in NATIONS {
        let site = &sites[src]["site"];
        let tail = format!(
            "{src}.{}.{}",
            site["name"].as_str().unwrap(),
            site["sensor"].as_str().unwrap()
        );
        for plot in &plots[src] {
            expected
                .entry(src)
                .or_default()
                .push((format!("tews.plots.{tail}"), plot.to_string()));
        }
        let partners = policies(&sites[src]);
        let counted = summaries[src].as_array().expect("summary releases");
        assert_eq!(counted.len(), partners.len(), "{src}: summary partners");
        for (p, c) in partners.iter().zip(counted) {
            let dst: &str = NATIONS.iter().find(|&&d| d == p.name).unwrap();
            let mut n = 0;
            for plot in plots[src].iter().filter(|pl| released(p, pl)) {
                expected
                    .entry(dst)
                    .or_default()
                    .push((format!("tews.release.{}.{tail}", p.name), withheld(p, plot)));
                n += 1;
            }
            // The summary's count per partner is what this test's own
            // reading of the policy releases (and the partner receives:
            // the messages are compared below).
            assert_eq!(c["partner"], p.name.as_str(), "{src}");
            assert_eq!(c["released"], n, "{src} -> {}", p.name);
            assert_eq!(c["withheld"], plots[src].len() - n, "{src} -> {}", p.name);
            assert_eq!(c["dropped"], 0, "{src} -> {}", p.name);
        }
    }
    let canonical = |v: &[(String, String)]| {
        let mut v: Vec<(String, String)> = v
            .iter()
            .map(|(s, p)| {
                let p: Value = serde_json::from_str(p).unwrap();
                (s.clone(), p.to_string())
            })
            .collect();
        v.sort();
        v
    };
    // Wait for the expected counts (generous), then a little longer for extras.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20)
        && NATIONS
            .iter()
            .any(|n| inboxes[n].lock().unwrap().len() < expected[n].len())
    {
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(50)).await });
    }
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(500)).await });
    for n in NATIONS {
        let got = canonical(&inboxes[n].lock().unwrap());
        let want = canonical(&expected[n]);
        let releases = want
            .iter()
            .filter(|(s, _)| s.starts_with("tews.release."))
            .count();
        // The policies must let some plots through and stop others.
        let from_others: usize = NATIONS
            .iter()
            .filter(|&&s| s != n)
            .map(|s| plots[s].len())
            .sum();
        assert!(
            releases > 0 && releases < from_others,
            "{n}: {releases} of {from_others}"
        );
        assert_eq!(got.len(), want.len(), "{n}: message count");
        assert_eq!(got, want, "{n}: messages");
        let errs = errors[n].lock().unwrap().join(" | ").to_lowercase();
        let other = NATIONS.iter().find(|&&o| o != n).unwrap();
        for subject in [
            format!("tews.release.{other}.>"),
            format!("tews.plots.{other}.>"),
        ] {
            assert!(
                errs.contains(&format!(
                    "permissions violation for subscription to \"{subject}\""
                )),
                "{n}: no permissions violation for {subject}: {errs}"
            );
        }
    }
    drop(clients);
}

/// No server at all: the run still processes everything at full speed,
/// writes every plot to its file, and counts every NATS plot dropped.
#[test]
fn an_absent_server_never_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let rec = common::nats::simulate_scenario(dir.path());
    let site = dir.path().join("site.toml");
    std::fs::write(
        &site,
        "[site]\nname = \"s\"\nnation = \"n\"\nsac = 1\nsic = 2\n[sharing]\npublish_timeout_s = 1\n",
    )
    .unwrap();
    let jsonl = dir.path().join("p.jsonl");
    let summary = dir.path().join("s.json");
    let t0 = Instant::now();
    let mut child = KillOnDrop(
        common::nats::sharing_run(
            &rec,
            &site,
            &jsonl,
            &format!("127.0.0.1:{}", free_port()),
            &summary,
        )
        .arg("-q")
        .spawn()
        .unwrap(),
    );
    // Everything else is written, but the NATS output delivered nothing:
    // exit status 3 (README "Exit status").
    assert_eq!(child.0.wait().unwrap().code(), Some(3));
    // Generous: a queue of 64 CPIs drained at 0.1 s each while away.
    assert!(t0.elapsed() < Duration::from_secs(60));
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let plots = s["plots"].as_u64().unwrap();
    let lines = std::fs::read_to_string(&jsonl).unwrap().lines().count() as u64;
    assert!(plots > 0);
    assert_eq!(lines, plots);
    assert_eq!(s["outputs"][1]["sent"], 0);
    assert_eq!(s["outputs"][1]["dropped"].as_u64().unwrap(), plots);
    assert_eq!(s["cpis"], 360);
}

/// deploy/nats/example.sh, as the README there runs it: every partner of
/// every sensor is told how many plots it was released, and each gets some
/// (the counts themselves are checked against the policy above).
#[test]
fn the_deploy_example_shows_each_partner_its_release() {
    let Some(()) = require_nats_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("bash")
        .arg(repo("deploy/nats/example.sh"))
        .arg(dir.path().join("work"))
        .env("TEWS", common::tews_bin())
        .env("TEWS_NATS_PORT", free_port().to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("partner ")).collect();
    assert_eq!(lines.len(), 6, "{text}");
    for line in lines {
        let released: u64 = line
            .split(": ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count in {line:?}"));
        assert!(released > 0, "{line}");
        assert!(line.ends_with(", 0 not delivered"), "{line}");
    }
    for n in NATIONS {
        assert!(dir.path().join(format!("work/{n}.summary.json")).exists());
    }
}
