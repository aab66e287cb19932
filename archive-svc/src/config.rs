//! archive-svc's configuration, from flags or the environment: serving
//! ([`Config`]) or the schema step (`archive-svc migrate`, [`MigrateArgs`]).

use std::{net::SocketAddr, time::Duration};

use archive_common::identity::IdentityConfig;

/// The command line: `archive-svc [serve flags]` or `archive-svc migrate …`.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "archive-svc",
    about = "Call metadata: ingest, search, deletion markers, retention",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The serving settings. (`migrate` is parsed by [`MigrateCli`]; a
    /// struct with flattened parts, as this one, cannot be an `Option` in
    /// clap: it would always be `None`.)
    #[command(flatten)]
    pub serve: Config,
}

/// The command line of the schema step alone: parsed apart from [`Cli`] so
/// the serving settings are not required for it, however the database URL
/// is given (`ARCHIVE_DATABASE_URL` in the environment would otherwise
/// make clap ask for them).
#[derive(clap::Parser, Debug, Clone)]
#[command(name = "archive-svc")]
pub struct MigrateCli {
    #[command(subcommand)]
    pub command: Command,
}

impl MigrateCli {
    /// Whether the command line asks for the schema step rather than serving.
    pub fn requested(args: &[std::ffi::OsString]) -> bool {
        args.get(1).is_some_and(|a| a == "migrate")
    }
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum Command {
    /// Applies the migrations as the database owner and grants a runtime
    /// role what the service needs (rows of its tables, no DDL), then exits.
    Migrate(MigrateArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct MigrateArgs {
    /// `sqlite://path` or `postgres://…`, connecting as the schema's owner.
    #[arg(
        long,
        env = "ARCHIVE_DATABASE_URL",
        default_value = "sqlite://archive.db"
    )]
    pub database_url: String,
    /// The role the service runs as (PostgreSQL): granted SELECT, INSERT,
    /// UPDATE, DELETE on its tables and USAGE on their sequences.
    #[arg(long)]
    pub grant_to: Option<String>,
}

#[derive(clap::Args, Debug, Clone)]
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
    fn migrate_needs_no_serving_settings_and_serving_does_not_migrate_by_default() {
        let cli = MigrateCli::try_parse_from([
            "archive-svc",
            "migrate",
            "--database-url",
            "postgres://owner@db/calls",
            "--grant-to",
            "archive_rt",
        ])
        .unwrap();
        let Command::Migrate(args) = cli.command;
        assert_eq!(args.database_url, "postgres://owner@db/calls");
        assert_eq!(args.grant_to.as_deref(), Some("archive_rt"));

        let id = ["--identity-key-file", "k.pem", "--trust-file", "t.json"];
        let identity = IdentityConfig::new("k.pem", "t.json");
        let cli = Cli::try_parse_from([&["archive-svc"][..], &id].concat()).unwrap();
        assert!(cli.command.is_none());
        let serve = cli.serve;
        assert!(!serve.migrate);
        assert!(serve.audit_url.is_none());
        assert_eq!(serve.identity, identity);
        let args = [
            "archive-svc",
            "--migrate",
            "--audit-url",
            "http://audit:50054",
        ];
        let cli = Cli::try_parse_from([&args[..], &id].concat()).unwrap();
        let serve = cli.serve;
        assert!(serve.migrate);
        assert_eq!(serve.audit_url.as_deref(), Some("http://audit:50054"));
        assert!(
            Config::new("sqlite://x.db", identity).migrate,
            "in code it migrates"
        );
        // Serving needs its key and the trust file.
        let err = Cli::try_parse_from(["archive-svc", "--trust-file", "t.json"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }
}
