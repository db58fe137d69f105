//! The `[sharing]` table of the site configuration: how tews connects to the
//! NATS fabric and whether it publishes into JetStream.
//!
//! ```toml
//! [sharing]
//! jetstream = true              # publish into a JetStream stream, with acks
//! stream = "TEWS-alpha-north-1-radar-a"  # default: TEWS-<nation>-<site>-<sensor>
//! stream_max_age_s = 86400      # retention: limits, oldest discarded first (at most 10 years)
//! stream_max_bytes = 1073741824
//! stream_replicas = 1           # 3 in a three-node cluster
//! publish_timeout_s = 5         # a batch not acknowledged by then is counted dropped (at most 3600)
//! asterix = true                # also CAT048 on tews.asterix.<nation>.<site>.<sensor>
//! # Credentials: at most one of user/password, token, creds_file, nkey_seed_file.
//! user = "alpha-north-1"
//! password = "secret"
//! # TLS (paths relative to the working directory):
//! # tls_ca_file = "ca.pem"
//! # tls_cert_file = "client.pem"
//! # tls_key_file = "client-key.pem"
//! # tls_required = true
//! ```

use serde::Deserialize;
use std::path::PathBuf;

/// The `[sharing]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharingConfig {
    /// Publish into a JetStream stream with publish acknowledgements.
    #[serde(default)]
    pub jetstream: bool,
    /// The stream's name; default `TEWS-<nation>-<site>-<sensor>`.
    #[serde(default)]
    pub stream: Option<String>,
    /// Retention: messages older than this are discarded, seconds (at most
    /// [`MAX_STREAM_AGE_S`]).
    #[serde(default = "default_max_age_s")]
    pub stream_max_age_s: f64,
    /// Retention: the stream's size limit, bytes (oldest discarded first).
    #[serde(default = "default_max_bytes")]
    pub stream_max_bytes: i64,
    /// Replicas of the stream (1, or up to the cluster's size).
    #[serde(default = "default_replicas")]
    pub stream_replicas: usize,
    /// How long one CPI's batch may wait for a connection and its acks
    /// before its plots are counted as dropped, seconds.
    #[serde(default = "default_publish_timeout_s")]
    pub publish_timeout_s: f64,
    /// Publish CAT048 beside the JSON.
    #[serde(default = "yes")]
    pub asterix: bool,
    /// User name (with `password`).
    #[serde(default)]
    pub user: Option<String>,
    /// Password (with `user`).
    #[serde(default)]
    pub password: Option<String>,
    /// Authentication token.
    #[serde(default)]
    pub token: Option<String>,
    /// A `.creds` file (JWT and NKey seed).
    #[serde(default)]
    pub creds_file: Option<PathBuf>,
    /// A file holding an NKey user seed (`SU...`).
    #[serde(default)]
    pub nkey_seed_file: Option<PathBuf>,
    /// CA certificate(s) to trust, PEM.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// Client certificate, PEM (with `tls_key_file`).
    #[serde(default)]
    pub tls_cert_file: Option<PathBuf>,
    /// Client key, PEM.
    #[serde(default)]
    pub tls_key_file: Option<PathBuf>,
    /// Refuse to connect without TLS.
    #[serde(default)]
    pub tls_required: bool,
}

/// Longest `stream_max_age_s` accepted: 10 years (NATS keeps the age in
/// nanoseconds in an i64, which ends at 292 years).
pub const MAX_STREAM_AGE_S: f64 = 10.0 * 365.25 * 86_400.0;

/// Longest `publish_timeout_s` accepted, seconds.
pub const MAX_PUBLISH_TIMEOUT_S: f64 = 3600.0;

fn default_max_age_s() -> f64 {
    86_400.0
}
fn default_max_bytes() -> i64 {
    1 << 30
}
fn default_replicas() -> usize {
    1
}
fn default_publish_timeout_s() -> f64 {
    5.0
}
fn yes() -> bool {
    true
}

impl Default for SharingConfig {
    fn default() -> Self {
        SharingConfig {
            jetstream: false,
            stream: None,
            stream_max_age_s: default_max_age_s(),
            stream_max_bytes: default_max_bytes(),
            stream_replicas: default_replicas(),
            publish_timeout_s: default_publish_timeout_s(),
            asterix: true,
            user: None,
            password: None,
            token: None,
            creds_file: None,
            nkey_seed_file: None,
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            tls_required: false,
        }
    }
}

impl SharingConfig {
    /// `publish_timeout_s` as a duration ([`SharingConfig::validate`] bounds
    /// it; a value it would refuse gives the default).
    pub fn publish_timeout(&self) -> std::time::Duration {
        std::time::Duration::try_from_secs_f64(self.publish_timeout_s)
            .ok()
            .filter(|_| self.publish_timeout_s <= MAX_PUBLISH_TIMEOUT_S)
            .unwrap_or(std::time::Duration::from_secs(5))
    }

    /// `stream_max_age_s` as a duration, or `None` when
    /// [`SharingConfig::validate`] would refuse it.
    pub fn stream_max_age(&self) -> Option<std::time::Duration> {
        std::time::Duration::try_from_secs_f64(self.stream_max_age_s)
            .ok()
            .filter(|_| self.stream_max_age_s <= MAX_STREAM_AGE_S)
    }

    /// Checks the values a parse cannot; `Err((key, problem))` with the key
    /// relative to `[sharing]`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, problem: String| Err((key.to_string(), problem));
        if let Some(stream) = &self.stream
            && (stream.is_empty()
                || stream.len() > 200
                || stream
                    .chars()
                    .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\')))
        {
            return bad(
                "stream",
                format!(
                    "{stream:?} is not a JetStream stream name (no spaces, '.', '*', '>', '/')"
                ),
            );
        }
        if !(self.stream_max_age_s.is_finite()
            && self.stream_max_age_s > 0.0
            && self.stream_max_age_s <= MAX_STREAM_AGE_S)
        {
            return bad(
                "stream_max_age_s",
                format!(
                    "{} is not a positive number of seconds up to {MAX_STREAM_AGE_S} (10 years)",
                    self.stream_max_age_s
                ),
            );
        }
        if self.stream_max_bytes <= 0 {
            return bad(
                "stream_max_bytes",
                format!("{} is not a positive size", self.stream_max_bytes),
            );
        }
        if !(1..=5).contains(&self.stream_replicas) {
            return bad(
                "stream_replicas",
                format!("{} is not 1 to 5", self.stream_replicas),
            );
        }
        if !(self.publish_timeout_s.is_finite()
            && self.publish_timeout_s > 0.0
            && self.publish_timeout_s <= MAX_PUBLISH_TIMEOUT_S)
        {
            return bad(
                "publish_timeout_s",
                format!(
                    "{} is not a number of seconds in (0, {MAX_PUBLISH_TIMEOUT_S}]",
                    self.publish_timeout_s
                ),
            );
        }
        if self.user.is_some() != self.password.is_some() {
            return bad(
                if self.user.is_some() {
                    "password"
                } else {
                    "user"
                },
                "user and password go together".into(),
            );
        }
        let methods = [
            self.user.is_some(),
            self.token.is_some(),
            self.creds_file.is_some(),
            self.nkey_seed_file.is_some(),
        ];
        if methods.iter().filter(|&&m| m).count() > 1 {
            return bad(
                "user",
                "give at most one of user/password, token, creds_file, nkey_seed_file".into(),
            );
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return bad(
                "tls_cert_file",
                "tls_cert_file and tls_key_file go together".into(),
            );
        }
        for (key, path) in [
            ("creds_file", &self.creds_file),
            ("nkey_seed_file", &self.nkey_seed_file),
            ("tls_ca_file", &self.tls_ca_file),
            ("tls_cert_file", &self.tls_cert_file),
            ("tls_key_file", &self.tls_key_file),
        ] {
            if let Some(path) = path
                && let Err(e) = std::fs::metadata(path)
            {
                return bad(key, format!("{}: {e}", path.display()));
            }
        }
        Ok(())
    }
}
