//! archive-svc's configuration, from flags or the environment: serving
//! ([`Config`]) or the schema step (`archive-svc migrate`, [`SCHEMA_STEP`]).

use std::{net::SocketAddr, time::Duration};

use archive_common::{identity::IdentityConfig, schema_step::SchemaStepOf};

/// `archive-svc migrate`: the URL from `--database-url` or `ARCHIVE_DATABASE_URL`.
pub const SCHEMA_STEP: SchemaStepOf = SchemaStepOf {
    service: "archive-svc",
    url_env: "ARCHIVE_DATABASE_URL",
    default_url: "sqlite://archive.db",
};

/// Serving, from flags or the environment; `archive-svc migrate …` is parsed
/// apart, by [`SCHEMA_STEP`], so it needs none of these settings.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "archive-svc",
    about = "Call metadata: ingest, search, deletion markers, retention",
    after_help = "The schema step: `archive-svc migrate [--database-url URL] [--grant-to ROLE]`."
)]
pub struct Config {
    /// gRPC listen address.
    #[arg(long, env = "ARCHIVE_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Prometheus metrics (`GET /metrics`), on a port apart from the API's.
    #[arg(long, env = "METRICS_LISTEN", default_value = "127.0.0.1:9091")]
    pub metrics_listen: SocketAddr,
    /// `sqlite://path` (embedded) or `postgres://…`.
    #[arg(
        long,
        env = "ARCHIVE_DATABASE_URL",
        default_value = "sqlite://archive.db"
    )]
    pub database_url: String,
    /// This service's key and the suite's trust file.
    #[command(flatten)]
    pub identity: IdentityConfig,
    /// Key that seals page tokens (defaults to one derived from this
    /// service's private key, the same in every replica).
    #[arg(long, env = "ARCHIVE_PAGE_TOKEN_SECRET", hide_env_values = true)]
    pub page_token_secret: Option<String>,
    /// media-svc's gRPC URL, where recording files of deleted and expired
    /// recordings are deleted. Unset: deletions wait in the outbox.
    #[arg(long, env = "ARCHIVE_MEDIA_URL")]
    pub media_url: Option<String>,
    /// How long a user's deletion waits for media-svc to confirm the files
    /// unservable before answering; what is not confirmed by then is left
    /// to the outbox (milliseconds; 0: left to the outbox at once).
    #[arg(long, env = "ARCHIVE_MEDIA_DELETE_WAIT_MS", value_parser = millis, default_value = "2500")]
    pub media_delete_wait: Duration,
    /// Seconds between two retention sweeps of every tenant.
    #[arg(long, env = "ARCHIVE_RETENTION_INTERVAL", value_parser = humantime_secs, default_value = "3600")]
    pub retention_interval: Duration,
    /// Milliseconds between two passes over the media-deletion outbox.
    #[arg(long, env = "ARCHIVE_OUTBOX_INTERVAL_MS", value_parser = millis, default_value = "2000")]
    pub outbox_interval: Duration,
    /// How often readiness re-checks the database.
    #[arg(long, env = "ARCHIVE_READINESS_INTERVAL", value_parser = humantime_secs, default_value = "5")]
    pub readiness_interval: Duration,
    /// audit-svc's gRPC URL, where the audit outbox is delivered. Unset: the
    /// events wait in the outbox (a warning says so at start).
    #[arg(long, env = "ARCHIVE_AUDIT_URL")]
    pub audit_url: Option<String>,
    /// Apply the migrations on start (one role owns and serves, as in the
    /// embedded suite). Off: the schema must be current (`archive-svc
    /// migrate` first) and the service needs no DDL rights.
    #[arg(long, env = "ARCHIVE_MIGRATE", default_value_t = false)]
    pub migrate: bool,
}

fn millis(s: &str) -> Result<Duration, String> {
    s.parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| format!("{s:?} is not a number of milliseconds"))
}

fn humantime_secs(s: &str) -> Result<Duration, String> {
    s.parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| format!("{s:?} is not a number of seconds"))
}

impl Config {
    /// A configuration for tests and the embedded suite.
    pub fn new(database_url: impl Into<String>, identity: IdentityConfig) -> Self {
        Self {
            listen: ([127, 0, 0, 1], 0).into(),
            metrics_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.into(),
            identity,
            page_token_secret: None,
            media_url: None,
            media_delete_wait: crate::retention::DEFAULT_DELETE_WAIT,
            retention_interval: Duration::from_secs(3600),
            outbox_interval: Duration::from_secs(2),
            readiness_interval: Duration::from_secs(5),
            audit_url: None,
            migrate: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn serving_needs_its_key_and_does_not_migrate_by_default() {
        let id = ["--identity-key-file", "k.pem", "--trust-file", "t.json"];
        let identity = IdentityConfig::new("k.pem", "t.json");
        let serve = Config::try_parse_from([&["archive-svc"][..], &id].concat()).unwrap();
        assert!(!serve.migrate);
        assert!(serve.audit_url.is_none());
        assert_eq!(serve.identity, identity);
        let args = [
            "archive-svc",
            "--migrate",
            "--audit-url",
            "http://audit:50054",
        ];
        let serve = Config::try_parse_from([&args[..], &id].concat()).unwrap();
        assert!(serve.migrate);
        assert_eq!(serve.audit_url.as_deref(), Some("http://audit:50054"));
        assert!(
            Config::new("sqlite://x.db", identity).migrate,
            "in code it migrates"
        );
        // Serving needs its key and the trust file.
        let err = Config::try_parse_from(["archive-svc", "--trust-file", "t.json"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }
}
