//! authz-svc's configuration: command-line flags with environment fallbacks,
//! for serving ([`Config`]) or the schema step (`authz-svc migrate`,
//! [`MigrateArgs`]). The gateway's embedded mode builds it in code (see
//! [`Config::new`]).

use archive_common::identity::IdentityConfig;
use std::net::SocketAddr;

/// The command line: `authz-svc [serve flags]` or `authz-svc migrate …`.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "authz-svc",
    about = "Users' permissions per tenant and policy decisions",
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
/// is given (`AUTHZ_DATABASE_URL` in the environment would otherwise
/// make clap ask for them).
#[derive(clap::Parser, Debug, Clone)]
#[command(name = "authz-svc")]
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
    #[arg(long, env = "AUTHZ_DATABASE_URL", default_value = "sqlite://authz.db")]
    pub database_url: String,
    /// The role the service runs as (PostgreSQL): granted SELECT, INSERT,
    /// UPDATE, DELETE on its tables and USAGE on their sequences.
    #[arg(long)]
    pub grant_to: Option<String>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct Config {
    /// Address the gRPC server listens on.
    #[arg(long, env = "AUTHZ_LISTEN", default_value = "127.0.0.1:50053")]
    pub listen: SocketAddr,
    /// Prometheus metrics (`GET /metrics`), on a port apart from the API's.
    #[arg(long, env = "METRICS_LISTEN", default_value = "127.0.0.1:9093")]
    pub metrics_listen: SocketAddr,

    /// `sqlite://path` (embedded default) or `postgres://…`.
    #[arg(long, env = "AUTHZ_DATABASE_URL", default_value = "sqlite://authz.db")]
    pub database_url: String,

    /// This service's key and the suite's trust file.
    #[command(flatten)]
    pub identity: IdentityConfig,

    /// `TENANT:USER_ID:Display Name` of admins created (with every permission)
    /// at start when missing; existing users are left untouched.
    #[arg(
        long = "bootstrap-admin",
        env = "AUTHZ_BOOTSTRAP_ADMINS",
        value_delimiter = ','
    )]
    pub bootstrap_admins: Vec<String>,

    /// How long a looked-up user's permissions are reused for decisions. A
    /// change made through this instance takes effect at once; one made through
    /// another replica within this bound. 0 disables the cache.
    #[arg(long, env = "AUTHZ_DECISION_CACHE_TTL_MS", default_value_t = 1000)]
    pub decision_cache_ttl_ms: u64,

    /// audit-svc's URL (`http://host:port`), where the audit outbox is
    /// delivered: each user change commits with its PERMISSION_CHANGED event,
    /// which reaches the trail moments later. Unset: the events wait in the
    /// outbox (a warning says so at start).
    #[arg(long, env = "AUTHZ_AUDIT_URL")]
    pub audit_url: Option<String>,

    /// Apply the migrations on start (one role owns and serves, as in the
    /// embedded suite). Off: the schema must be current (`authz-svc
    /// migrate` first) and the service needs no DDL rights.
    #[arg(long, env = "AUTHZ_MIGRATE", default_value_t = false)]
    pub migrate: bool,
}

impl Config {
    /// The defaults, for building a config in code.
    pub fn new(database_url: impl Into<String>, identity: IdentityConfig) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50053)),
            metrics_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.into(),
            identity,
            bootstrap_admins: Vec::new(),
            decision_cache_ttl_ms: 1000,
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
            "authz-svc",
            "migrate",
            "--database-url",
            "postgres://owner@db/authz",
            "--grant-to",
            "authz_rt",
        ])
        .unwrap();
        let Command::Migrate(args) = cli.command;
        assert_eq!(args.database_url, "postgres://owner@db/authz");
        assert_eq!(args.grant_to.as_deref(), Some("authz_rt"));

        let id = ["--identity-key-file", "k.pem", "--trust-file", "t.json"];
        let identity = IdentityConfig::new("k.pem", "t.json");
        let cli = Cli::try_parse_from([&["authz-svc"][..], &id].concat()).unwrap();
        assert!(cli.command.is_none());
        let serve = cli.serve;
        assert!(!serve.migrate);
        assert_eq!(serve.identity, identity);
        let cli = Cli::try_parse_from([&["authz-svc", "--migrate"][..], &id].concat()).unwrap();
        assert!(cli.serve.migrate);
        assert!(
            Config::new("sqlite://x.db", identity).migrate,
            "in code it migrates"
        );
        // Serving still needs its key and the trust file.
        let err = Cli::try_parse_from(["authz-svc"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        let err = Cli::try_parse_from(["authz-svc", "--identity-key-file", "k.pem"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }
}
