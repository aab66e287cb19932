//! audit-svc's configuration: command-line flags with environment fallbacks.
//! The gateway's embedded mode builds it in code (see [`Config::new`]).

use std::net::SocketAddr;

#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "audit-svc",
    about = "The append-only, hash-chained Archive Audit log",
    after_help = "Schema step (as the database owner, before serving without --migrate):\n  \
                  audit-svc migrate [--database-url URL] [--grant-to ROLE]"
)]
pub struct Config {
    /// Address the gRPC server listens on.
    #[arg(long, env = "AUDIT_LISTEN", default_value = "127.0.0.1:50054")]
    pub listen: SocketAddr,
    /// Prometheus metrics (`GET /metrics`), on a port apart from the API's.
    #[arg(long, env = "METRICS_LISTEN", default_value = "127.0.0.1:9094")]
    pub metrics_listen: SocketAddr,

    /// `sqlite://path` (embedded default) or `postgres://…`.
    #[arg(long, env = "AUDIT_DATABASE_URL", default_value = "sqlite://audit.db")]
    pub database_url: String,

    /// Secret shared by the suite to sign the forwarded identity.
    #[arg(long, env = "ARCHIVE_IDENTITY_SECRET", hide_env_values = true)]
    pub identity_secret: String,

    /// authz-svc's URL (`http://host:port`). When set, ListEvents and
    /// VerifyChain are answered only to users allowed to view the audit log.
    #[arg(long, env = "AUDIT_AUTHZ_URL")]
    pub authz_url: Option<String>,

    /// Signed checkpoints: key file, store, interval (`--checkpoint-*`).
    #[command(flatten)]
    pub checkpoints: crate::checkpoint::CheckpointConfig,
    /// Bring the schema up to date on start (one role owning and using the
    /// database, e.g. the embedded suite). Without it the schema must be
    /// current (`audit-svc migrate` first), so the service can run as a role
    /// that may only read and append.
    #[arg(long, env = "AUDIT_MIGRATE")]
    pub migrate: bool,
}

impl Config {
    /// The defaults, for building a config in code (migrating on start).
    pub fn new(database_url: impl Into<String>, identity_secret: impl Into<String>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50054)),
            metrics_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.into(),
            identity_secret: identity_secret.into(),
            authz_url: None,
            checkpoints: Default::default(),
            migrate: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn the_command_line_migrates_only_when_asked_and_code_always() {
        let parse = |args: &[&str]| Config::try_parse_from(args).unwrap();
        assert!(!parse(&["audit-svc", "--identity-secret", "s"]).migrate);
        assert!(parse(&["audit-svc", "--identity-secret", "s", "--migrate"]).migrate);
        assert!(Config::new("sqlite://a.db", "s").migrate);
    }
}
