//! Progress on a terminal (issue 12, item 17): `tews replay` shows a bar of
//! CPIs sent, a live `tews run` a status line of what came in and what came
//! out; neither appears when stderr is not a terminal. The terminal is a
//! pseudo-terminal made by util-linux `script`.

mod common;

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Output};

fn have_script() -> Option<()> {
    let ok = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    common::require(ok, "script (util-linux, Debian package bsdutils)")
}

/// Runs `tews ARGS` with stdin, stdout and stderr on a pseudo-terminal;
/// returns what the terminal showed.
fn on_a_terminal(dir: &Path, args: &str) -> (bool, String) {
    let out: Output = Command::new("script")
        .args(["-qec", &format!("{} {args}", common::tews_bin().display())])
        .arg("/dev/null")
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn recording(dir: &Path) {
    let ok = Command::new(common::tews_bin())
        .args(["-q", "simulate", "--out"])
        .arg(dir.join("rec"))
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn replay_shows_a_bar_of_cpis_on_a_terminal_only() {
    let Some(()) = have_script() else { return };
    let dir = tempfile::tempdir().unwrap();
    recording(dir.path());
    // Someone listens (a refused datagram would fail the replay).
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = format!("udp://{}", sink.local_addr().unwrap());
    let (ok, screen) = on_a_terminal(dir.path(), &format!("replay rec --to {to} --rate max"));
    assert!(ok, "{screen}");
    assert!(screen.contains("CPI 8/8"), "{screen}");
    // 8 CPIs x 64 pulses x 2 data packets (2000 samples, 1024 a packet),
    // and one context packet a CPI.
    assert!(screen.contains("1032 packets"), "{screen}");
    // Not a terminal: the log lines only.
    let out = Command::new(common::tews_bin())
        .args(["replay", "rec", "--to", &to, "--rate", "max"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("CPI 8/8"), "{stderr}");
}

#[test]
fn a_live_run_shows_its_status_line_on_a_terminal() {
    let Some(()) = have_script() else { return };
    let dir = tempfile::tempdir().unwrap();
    recording(dir.path());
    let site = Command::new(common::tews_bin())
        .args(["site", "--from", "rec"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(site.status.success());
    std::fs::write(dir.path().join("site.toml"), &site.stdout).unwrap();
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Nothing is sent: the line says so, refreshed, until the idle timeout.
    let (ok, screen) = on_a_terminal(
        dir.path(),
        &format!(
            "run --input vrt+udp://127.0.0.1:{port} --site site.toml --idle-timeout-s 5 --output jsonl:p.jsonl"
        ),
    );
    assert!(ok, "{screen}");
    let input = format!("vrt+udp://127.0.0.1:{port}");
    assert!(
        screen.contains(&format!("{input}: waiting for packets (0 s)")),
        "{screen}"
    );
    // Refreshed every 2 s: a later second shows.
    let refreshed = screen
        .split(&format!("{input}: waiting for packets ("))
        .skip(1)
        .filter_map(|rest| rest.split(' ').next()?.parse::<u32>().ok())
        .max();
    assert!(refreshed >= Some(2), "{refreshed:?}: {screen}");
    // The log line after it is whole, on its own line.
    assert!(
        screen
            .lines()
            .any(|l| l.contains("INFO") && l.contains("stopped (idle-timeout)")),
        "{screen}"
    );
}
