//! The checkpoint settings, flattened into audit-svc's `Config` (and the S3
//! part into `audit-verify`'s arguments).

use std::{path::PathBuf, time::Duration};

/// Signed checkpoints: both the key and the store, or neither (no checkpoints).
#[derive(clap::Args, Debug, Clone)]
pub struct CheckpointConfig {
    /// Ed25519 private key signing checkpoints, PKCS#8 PEM
    /// (`openssl genpkey -algorithm ed25519`). Readable by audit-svc only;
    /// never stored in a database.
    #[arg(long = "checkpoint-key-file", env = "AUDIT_CHECKPOINT_KEY_FILE")]
    pub key_file: Option<PathBuf>,

    /// Where checkpoints are written: a directory (`/path` or `file:///path`)
    /// or `s3://bucket/prefix` (build feature `s3`; use Object Lock).
    #[arg(long = "checkpoint-store", env = "AUDIT_CHECKPOINT_STORE")]
    pub store: Option<String>,

    /// How often each tenant whose trail grew is checkpointed (`60`, `60s`,
    /// `5m`, `500ms`).
    #[arg(
        long = "checkpoint-interval",
        env = "AUDIT_CHECKPOINT_INTERVAL",
        default_value = "60s",
        value_parser = parse_interval
    )]
    pub interval: Duration,

    /// Public keys (hex, comma-separated) of earlier signing keys: after a
    /// key rotation their checkpoints stay trusted, and the new key signs on
    /// from the newest of them.
    #[arg(
        long = "checkpoint-trusted-keys",
        env = "AUDIT_CHECKPOINT_TRUSTED_KEYS",
        value_delimiter = ','
    )]
    pub trusted_keys: Vec<String>,

    #[command(flatten)]
    pub s3: S3Options,
}

/// An S3 checkpoint store. Credentials from the standard `AWS_ACCESS_KEY_ID` /
/// `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` when set, otherwise the rest
/// of the AWS chain (web identity, instance metadata); `AWS_REGION` and the
/// other `AWS_*` settings as the AWS SDKs read them. Give audit-svc its own
/// credentials for this bucket, not shared with anything that can write the
/// database.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct S3Options {
    /// Endpoint of an S3-compatible server, e.g. `http://127.0.0.1:9000`; unset for AWS.
    #[arg(long = "checkpoint-s3-endpoint", env = "AUDIT_CHECKPOINT_S3_ENDPOINT")]
    pub endpoint: Option<String>,

    /// Allow a plain-HTTP endpoint (a local test server).
    #[arg(
        long = "checkpoint-s3-allow-http",
        env = "AUDIT_CHECKPOINT_S3_ALLOW_HTTP"
    )]
    pub allow_http: bool,

    /// Address the bucket as `endpoint/bucket` instead of `bucket.endpoint`.
    #[arg(
        long = "checkpoint-s3-path-style",
        env = "AUDIT_CHECKPOINT_S3_PATH_STYLE"
    )]
    pub path_style: bool,

    #[arg(
        long = "checkpoint-s3-access-key-id",
        env = "AWS_ACCESS_KEY_ID",
        hide_env_values = true
    )]
    pub access_key_id: Option<String>,

    #[arg(
        long = "checkpoint-s3-secret-access-key",
        env = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    pub secret_access_key: Option<String>,

    #[arg(
        long = "checkpoint-s3-session-token",
        env = "AWS_SESSION_TOKEN",
        hide_env_values = true
    )]
    pub session_token: Option<String>,
}

impl Default for CheckpointConfig {
    /// No checkpoints; the command line's interval.
    fn default() -> Self {
        Self {
            key_file: None,
            store: None,
            interval: Duration::from_secs(60),
            trusted_keys: Vec::new(),
            s3: S3Options::default(),
        }
    }
}

impl CheckpointConfig {
    /// Checkpoints signed with the key at `key_file` into the directory `dir`
    /// (the embedded suite; see `ensure_key_file` to create the key).
    pub fn local(key_file: impl Into<PathBuf>, dir: impl Into<PathBuf>) -> Self {
        Self {
            key_file: Some(key_file.into()),
            store: Some(dir.into().display().to_string()),
            ..Self::default()
        }
    }
}

/// `N` or `Ns` seconds, `Nm` minutes, `Nms` milliseconds; never zero.
fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (digits, unit): (&str, fn(u64) -> Duration) = if let Some(n) = text.strip_suffix("ms") {
        (n, Duration::from_millis)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, Duration::from_secs)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, |m| Duration::from_secs(m.saturating_mul(60)))
    } else {
        (text, Duration::from_secs)
    };
    match digits.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(unit(n)),
        _ => Err(format!(
            "{text:?} is not an interval (e.g. 60, 60s, 5m, 500ms; not zero)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse() {
        assert_eq!(parse_interval("60").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_interval("45s").unwrap(), Duration::from_secs(45));
        assert_eq!(parse_interval("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_interval("250ms").unwrap(), Duration::from_millis(250));
        for bad in ["0", "", "s", "-1", "1h", "1.5s"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }
}
