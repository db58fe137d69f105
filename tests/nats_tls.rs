//! Credentials and TLS from the site configuration, against a real
//! nats-server that requires TLS with client certificates (verify) and a
//! token: certificates made here by openssl (an independent CA), tews
//! connects with `[sharing] token, tls_ca_file, tls_cert_file, tls_key_file`,
//! and a subscriber with the same credentials gets every plot of the run's
//! jsonl output on the JSON subject and one CAT048 block per plot. With a
//! wrong token tews still completes, and counts every NATS plot dropped.

mod common;

use common::nats::{KillOnDrop, NatsServer, free_port, require_nats_server};
use futures_util::StreamExt;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Messages the subscriber got: subject and payload.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// CA, server (SAN 127.0.0.1) and client certificates in `dir`.
fn make_certs(dir: &Path) {
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(key);
    ca.extend([
        "-days",
        "2",
        "-subj",
        "/CN=tews test CA",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    assert!(openssl(dir, &ca), "openssl: CA");
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        let subj = format!("/CN={name}");
        let (k, csr, pem, extf) = (
            format!("{name}-key.pem"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        std::fs::write(dir.join(&extf), format!("{ext}basicConstraints=CA:FALSE\n")).unwrap();
        let mut req = vec!["req"];
        req.extend(key);
        req.extend(["-subj", &subj, "-keyout", &k, "-out", &csr]);
        assert!(openssl(dir, &req), "openssl: {name} request");
        assert!(
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca-key.pem",
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-out",
                    &pem,
                    "-extfile",
                    &extf,
                ]
            ),
            "openssl: {name} certificate"
        );
    }
}

#[test]
fn tls_with_client_certificates_and_a_token_from_the_site_config() {
    let Some(()) = require_nats_server() else {
        return;
    };
    let have_openssl = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    let Some(()) = common::require(have_openssl, "openssl (Debian package openssl)") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_certs(d);
    let rec = common::nats::simulate_scenario(d);
    let port = free_port();
    let p = |f: &str| d.join(f).display().to_string();
    std::fs::write(
        d.join("tls.conf"),
        format!(
            "host: 127.0.0.1\nport: {port}\n\
             tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\", verify: true }}\n\
             authorization {{ token: \"tews-test-token\" }}\n",
            p("server.pem"),
            p("server-key.pem"),
            p("ca.pem")
        ),
    )
    .unwrap();
    let server = NatsServer::start(&d.join("tls.conf"), port, &[], &d.join("nats.log"));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let got: Received = Arc::default();
    let client = rt
        .block_on(
            async_nats::ConnectOptions::with_token("tews-test-token".into())
                .add_root_certificates(d.join("ca.pem"))
                .add_client_certificate(d.join("client.pem"), d.join("client-key.pem"))
                .require_tls(true)
                .connect(server.addr()),
        )
        .expect("the test's own TLS connection");
    let mut sub = rt.block_on(client.subscribe("tews.>")).unwrap();
    rt.block_on(client.flush()).unwrap();
    let g = Arc::clone(&got);
    rt.spawn(async move {
        while let Some(m) = sub.next().await {
            g.lock()
                .unwrap()
                .push((m.subject.to_string(), m.payload.to_vec()));
        }
    });

    // `status`: the exit status expected (3: the output delivered nothing).
    let run = |token: &str, tag: &str, status: i32| -> (Value, Vec<Value>) {
        let site = d.join(format!("{tag}.toml"));
        std::fs::write(
            &site,
            format!(
                "[site]\nname = \"s1\"\nnation = \"n1\"\nsensor = \"r1\"\nsac = 1\nsic = 2\n\
                 [sharing]\ntoken = \"{token}\"\ntls_ca_file = \"{}\"\ntls_cert_file = \"{}\"\n\
                 tls_key_file = \"{}\"\ntls_required = true\npublish_timeout_s = 0.5\n",
                p("ca.pem"),
                p("client.pem"),
                p("client-key.pem")
            ),
        )
        .unwrap();
        let jsonl = d.join(format!("{tag}.jsonl"));
        let summary = d.join(format!("{tag}.json"));
        let mut child = KillOnDrop(
            common::nats::sharing_run(&rec, &site, &jsonl, &server.addr(), &summary)
                .arg("-q")
                .args(["--cpi-rate", "200"])
                .spawn()
                .unwrap(),
        );
        assert_eq!(
            child.0.wait().unwrap().code(),
            Some(status),
            "tews run ({tag})"
        );
        let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        let lines = std::fs::read_to_string(&jsonl)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (s, lines)
    };

    let (s, plots) = run("tews-test-token", "good", 0);
    assert!(!plots.is_empty());
    assert_eq!(
        s["outputs"][1]["sent"].as_u64().unwrap(),
        plots.len() as u64
    );
    let t0 = Instant::now();
    while got.lock().unwrap().len() < 2 * plots.len() && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    {
        let got = got.lock().unwrap();
        let json: Vec<Value> = got
            .iter()
            .filter(|(s, _)| s == "tews.plots.n1.s1.r1")
            .map(|(_, p)| serde_json::from_slice(p).unwrap())
            .collect();
        assert_eq!(json, plots, "every plot, in order, over TLS");
        let asterix: Vec<&Vec<u8>> = got
            .iter()
            .filter(|(s, _)| s == "tews.asterix.n1.s1.r1")
            .map(|(_, p)| p)
            .collect();
        assert_eq!(asterix.len(), plots.len());
        for block in asterix {
            // CAT 48, LEN = the whole block.
            assert_eq!(block[0], 48);
            assert_eq!(
                u16::from_be_bytes([block[1], block[2]]) as usize,
                block.len()
            );
        }
        assert_eq!(got.len(), 2 * plots.len(), "nothing else");
    }

    // A wrong token: refused by the server; the run completes regardless,
    // everything else written, and exits 3 (README "Exit status").
    let before = got.lock().unwrap().len();
    let (s, plots) = run("wrong-token", "bad", 3);
    assert_eq!(s["outputs"][1]["sent"], 0);
    assert_eq!(
        s["outputs"][1]["dropped"].as_u64().unwrap(),
        plots.len() as u64
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(got.lock().unwrap().len(), before);
    drop(client);
}
