//! audit-svc's configuration: command-line flags with environment fallbacks.
//! The gateway's embedded mode builds it in code (see [`Config::new`]).

use std::net::SocketAddr;

use archive_common::identity::IdentityConfig;

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

    /// This service's key and the suite's trust file.
    #[command(flatten)]
    pub identity: IdentityConfig,

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
    pub fn new(database_url: impl Into<String>, identity: IdentityConfig) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50054)),
            metrics_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.into(),
            identity,
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
        let id = ["--identity-key-file", "k.pem", "--trust-file", "t.json"];
        assert!(!parse(&[&["audit-svc"][..], &id].concat()).migrate);
        assert!(parse(&[&["audit-svc", "--migrate"][..], &id].concat()).migrate);
        let identity = IdentityConfig::new("k.pem", "t.json");
        assert!(Config::new("sqlite://a.db", identity).migrate);
    }
}
