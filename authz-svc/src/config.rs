//! authz-svc's configuration: command-line flags with environment fallbacks,
//! for serving ([`Config`]) or the schema step (`authz-svc migrate`,
//! [`SCHEMA_STEP`]). The gateway's embedded mode builds it in code (see
//! [`Config::new`]).

use archive_common::{identity::IdentityConfig, schema_step::SchemaStepOf};
use std::net::SocketAddr;

/// `authz-svc migrate`: the URL from `--database-url` or `AUTHZ_DATABASE_URL`.
pub const SCHEMA_STEP: SchemaStepOf = SchemaStepOf {
    service: "authz-svc",
    url_env: "AUTHZ_DATABASE_URL",
    default_url: "sqlite://authz.db",
};

/// Serving, from flags or the environment; `authz-svc migrate …` is parsed
/// apart, by [`SCHEMA_STEP`], so it needs none of these settings.
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "authz-svc",
    about = "Users' permissions per tenant and policy decisions",
    after_help = "The schema step: `authz-svc migrate [--database-url URL] [--grant-to ROLE]`."
)]
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
    fn serving_needs_its_key_and_does_not_migrate_by_default() {
        let id = ["--identity-key-file", "k.pem", "--trust-file", "t.json"];
        let identity = IdentityConfig::new("k.pem", "t.json");
        let serve = Config::try_parse_from([&["authz-svc"][..], &id].concat()).unwrap();
        assert!(!serve.migrate);
        assert_eq!(serve.identity, identity);
        let serve =
            Config::try_parse_from([&["authz-svc", "--migrate"][..], &id].concat()).unwrap();
        assert!(serve.migrate);
        assert!(
            Config::new("sqlite://x.db", identity).migrate,
            "in code it migrates"
        );
        // Serving still needs its key and the trust file.
        let err = Config::try_parse_from(["authz-svc"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        let err =
            Config::try_parse_from(["authz-svc", "--identity-key-file", "k.pem"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }
}
