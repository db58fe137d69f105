//! Real nats-server processes on loopback for the NATS tests: free ports,
//! killed on drop (never left running), restartable on the same port and
//! store.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// True when `nats-server` runs; otherwise skips (or fails in CI) as
/// [`super::require`] does.
pub fn require_nats_server() -> Option<()> {
    let ok = Command::new("nats-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    super::require(ok, "nats-server (Debian package nats-server)")
}

/// Simulates `deploy/nats/scenario.toml` (the sharing tests' recording)
/// to `dir/rec`; returns the prefix.
pub fn simulate_scenario(dir: &Path) -> PathBuf {
    let rec = dir.join("rec");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nats/scenario.toml");
    let status = Command::new(super::tews_bin())
        .args(["-q", "simulate", "--scenario"])
        .arg(scenario)
        .arg("--out")
        .arg(&rec)
        .status()
        .expect("run tews simulate");
    assert!(status.success(), "tews simulate failed");
    rec
}

/// `tews run` of recording `rec` with site file `site` into a JSON lines
/// file (the test's record of every plot), a NATS output at `nats_addr`
/// (`HOST:PORT`) and a summary; callers add pacing and spawn it.
pub fn sharing_run(
    rec: &Path,
    site: &Path,
    jsonl: &Path,
    nats_addr: &str,
    summary: &Path,
) -> Command {
    let mut cmd = Command::new(super::tews_bin());
    cmd.args(["run", "--input"])
        .arg(rec)
        .arg("--site")
        .arg(site)
        .arg("--output")
        .arg(format!("jsonl:{}", jsonl.display()))
        .arg("--output")
        .arg(format!("nats://{nats_addr}"))
        .arg("--summary")
        .arg(summary);
    cmd
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One nats-server process.
pub struct NatsServer {
    /// Client port on 127.0.0.1.
    pub port: u16,
    config: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts `nats-server -c config` with `env`, logging to `log`, and
    /// waits until it accepts connections on `port`.
    pub fn start(config: &Path, port: u16, env: &[(String, String)], log: &Path) -> NatsServer {
        let mut s = NatsServer {
            port,
            config: config.to_path_buf(),
            env: env.to_vec(),
            log: log.to_path_buf(),
            child: None,
        };
        s.restart();
        s
    }

    /// The client URL, `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the server at once (SIGKILL: no clean shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// (Re)starts the server with the same configuration, port and store.
    pub fn restart(&mut self) {
        self.kill();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("server log");
        let child = Command::new("nats-server")
            .arg("-c")
            .arg(&self.config)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let t0 = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "nats-server exited ({status}) at start; log:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "nats-server did not listen on {} within 30 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A child process killed on drop (tews runs the tests start).
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
