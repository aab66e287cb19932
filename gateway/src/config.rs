//! The gateway's configuration and the command line of the `gateway` binary.

use std::{net::SocketAddr, path::PathBuf};

use archive_common::identity::IdentityConfig;

use crate::upstream::UpstreamUrls;

#[derive(clap::Parser, Debug)]
#[command(
    name = "gateway",
    about = "The call-recording archive. Without a subcommand it runs the whole suite in one process (embedded mode)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub suite: SuiteConfig,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Runs the whole suite in one process: every service on its own loopback port (the default).
    Suite,
    /// Runs only the gateway, in front of services running elsewhere.
    Serve(Box<GatewayConfig>),
    /// Prints a bearer token for a demo user of the embedded suite's data
    /// directory (`--data-dir`, default ./data).
    Token {
        /// One of the demo users: paal, sara, andreas, rita, nils.
        user: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 12 * 3600)]
        ttl: i64,
    },
    /// Issues and rotates credentials: the suite's keys, recording-platform
    /// credentials, users' tokens for `gateway serve`.
    #[command(subcommand)]
    Credentials(crate::credentials::Credentials),
    /// The operator's tenants, on a running suite (operator credential).
    #[command(subcommand)]
    Tenant(crate::operator::cli::TenantCommand),
    /// A tenant's users, added by the operator on a running suite.
    #[command(subcommand)]
    User(crate::operator::cli::UserCommand),
}

/// The gateway alone.
#[derive(clap::Args, Debug, Clone)]
pub struct GatewayConfig {
    /// gRPC listen address.
    #[arg(long, env = "GATEWAY_LISTEN", default_value = "127.0.0.1:50050")]
    pub listen: SocketAddr,
    /// Prometheus metrics (`GET /metrics`), on a port apart from the API's.
    #[arg(long, env = "METRICS_LISTEN", default_value = "127.0.0.1:9090")]
    pub metrics_listen: SocketAddr,
    /// Secret of users' HS256 bearer tokens.
    #[arg(long, env = "ARCHIVE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: String,
    /// The gateway's own key (signs the users' identity it forwards to the
    /// services) and the suite's trust file.
    #[command(flatten)]
    pub identity: IdentityConfig,
    #[arg(
        long,
        env = "GATEWAY_ARCHIVE_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub archive_url: String,
    #[arg(
        long,
        env = "GATEWAY_MEDIA_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub media_url: String,
    #[arg(
        long,
        env = "GATEWAY_AUTHZ_URL",
        default_value = "http://127.0.0.1:50053"
    )]
    pub authz_url: String,
    #[arg(
        long,
        env = "GATEWAY_AUDIT_URL",
        default_value = "http://127.0.0.1:50054"
    )]
    pub audit_url: String,
    /// HTTP listen address (zip downloads).
    #[arg(long, env = "GATEWAY_HTTP_LISTEN", default_value = "127.0.0.1:50056")]
    pub http_listen: SocketAddr,
    /// The gateway's HTTP base URL as browsers reach it (download links).
    #[arg(
        long,
        env = "GATEWAY_PUBLIC_URL",
        default_value = "http://127.0.0.1:50056"
    )]
    pub public_url: String,
    /// media-svc's HTTP base URL as browsers reach it (playback links).
    #[arg(
        long,
        env = "GATEWAY_MEDIA_PUBLIC_URL",
        default_value = "http://127.0.0.1:50055"
    )]
    pub media_public_url: String,
    /// HMAC key of playback links, shared with media-svc.
    #[arg(long, env = "ARCHIVE_PLAYBACK_KEY", hide_env_values = true)]
    pub playback_key: String,
    /// Minutes one Play lasts: its links are renewed (RenewPlayback, decided
    /// again, not recorded again) until then; after, the user presses Play.
    #[arg(long, env = "GATEWAY_PLAYBACK_TTL_MINUTES", default_value_t = 60)]
    pub playback_ttl_minutes: i64,
    /// Seconds one playback link stays valid (at most 60): how long a
    /// revoked permission can take to stop a link already handed out.
    #[arg(long, env = "GATEWAY_PLAYBACK_LINK_TTL_SECS", default_value_t = 60)]
    pub playback_link_ttl_secs: i64,
    /// Minutes a download link stays valid.
    #[arg(long, env = "GATEWAY_EXPORT_TTL_MINUTES", default_value_t = 60)]
    pub export_ttl_minutes: i64,
    /// A JWKS file whose keys verify RS256 / ES256 bearer tokens (production
    /// identity providers); HS256 tokens with the JWT secret stay accepted.
    #[arg(long, env = "ARCHIVE_JWKS_FILE")]
    pub jwks_file: Option<std::path::PathBuf>,
    /// Proxies in front of the gateway whose `X-Forwarded-For` is believed
    /// (comma-separated addresses or CIDR blocks, e.g. the ingress's
    /// `10.0.0.0/8`): the audit trail records the first address left of them.
    #[arg(long, env = "GATEWAY_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// Seconds a call to a service may wait for its answer before the
    /// gateway answers DEADLINE_EXCEEDED (HTTP 504).
    #[arg(long, env = "GATEWAY_UPSTREAM_TIMEOUT_SECS", default_value_t = 30)]
    pub upstream_timeout_secs: u64,
    /// The operator credential's file (`gateway tenant …`, OperatorService,
    /// `/api/v1/operator`); without it every operator call is refused.
    #[arg(long, env = "ARCHIVE_OPERATOR_TOKEN_FILE")]
    pub operator_token_file: Option<PathBuf>,
    /// Offer the demo users' tokens to the web page's sign-in (embedded
    /// mode only, and only without an identity provider).
    #[arg(skip)]
    pub demo_sign_in: bool,
    /// The web page's sign-in with the operator's identity provider.
    #[command(flatten)]
    pub oidc: crate::oidc::OidcConfig,
}

impl GatewayConfig {
    /// How long a call to a service waits for its answer (at least a second).
    pub fn upstream_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.upstream_timeout_secs.max(1))
    }

    pub fn upstreams(&self) -> UpstreamUrls {
        UpstreamUrls {
            archive: self.archive_url.clone(),
            media: self.media_url.clone(),
            authz: self.authz_url.clone(),
            audit: self.audit_url.clone(),
        }
    }
}

/// Embedded mode: every service in one process.
#[derive(clap::Args, Debug, Clone)]
pub struct SuiteConfig {
    /// Where the SQLite databases, recordings, generated secrets and keys live.
    #[arg(
        long,
        env = "ARCHIVE_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Use PostgreSQL instead of SQLite: a server URL without a database
    /// (e.g. `postgres://postgres@127.0.0.1:5432`); each service gets its own
    /// database (archive_calls, archive_authz, archive_audit), created if missing.
    #[arg(long, env = "ARCHIVE_POSTGRES_URL")]
    pub postgres_url: Option<String>,
    /// Loopback ports: gateway gRPC; the services take the next four
    /// (archive, media, authz, audit), then media HTTP (+5) and gateway
    /// HTTP (+6), and the metrics of all of them (+7). 0 picks free ports.
    #[arg(long, env = "ARCHIVE_BASE_PORT", default_value_t = 50050)]
    pub base_port: u16,
    /// Do not seed the demo tenant.
    #[arg(long, env = "ARCHIVE_NO_SEED")]
    pub no_seed: bool,
    /// Seconds one playback link stays valid (at most 60; see `gateway serve`).
    #[arg(long, env = "GATEWAY_PLAYBACK_LINK_TTL_SECS", default_value_t = 60)]
    pub playback_link_ttl_secs: i64,
    /// Where media-svc keeps the recordings: `fs` (`DATA_DIR/media`), or
    /// `s3` with media-svc's `--s3-*` / `MEDIA_S3_*` settings below (the
    /// bucket must exist).
    #[arg(
        long = "media-store",
        env = "MEDIA_STORE",
        value_enum,
        default_value = "fs"
    )]
    pub media_store: media_svc::StoreKind,
    #[command(flatten)]
    pub s3: media_svc::S3Config,
    /// The web page's sign-in with the operator's identity provider (the
    /// demo users' picker is off when it is configured).
    #[command(flatten)]
    pub oidc: crate::oidc::OidcConfig,
}

impl SuiteConfig {
    /// A suite under `data_dir` on free ports (tests).
    pub fn ephemeral(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            postgres_url: None,
            base_port: 0,
            no_seed: false,
            playback_link_ttl_secs: 60,
            media_store: media_svc::StoreKind::Fs,
            s3: media_svc::S3Config::default(),
            oidc: crate::oidc::OidcConfig::default(),
        }
    }
}
