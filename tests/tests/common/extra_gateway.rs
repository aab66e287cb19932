//! A second gateway in front of a running suite's services, with some
//! upstream URLs replaced — by another archive-svc process, or by a proxy
//! that watches the bytes media-svc sends.

use std::net::SocketAddr;

use archive_common::shutdown::CancellationToken;
use gateway::{GatewayConfig, suite::Suite};
use tokio::net::TcpListener;

/// Where the extra gateway listens.
pub(crate) struct ExtraGateway {
    pub(crate) grpc: SocketAddr,
    pub(crate) http: SocketAddr,
}

/// What differs from the suite's own gateway.
#[derive(Default)]
pub(crate) struct Overrides {
    pub(crate) archive_url: Option<String>,
    pub(crate) media_url: Option<String>,
    pub(crate) audit_url: Option<String>,
    /// media-svc's HTTP playback endpoint as browsers reach it.
    pub(crate) media_public_url: Option<String>,
    /// Seconds a playback link lives (the suite's 60 when unset).
    pub(crate) playback_link_ttl_secs: Option<i64>,
    pub(crate) trusted_proxies: String,
    /// `--upstream-timeout-secs` (default 30).
    pub(crate) upstream_timeout_secs: Option<u64>,
}

/// Starts a gateway using `suite`'s secrets and services, except archive-svc
/// at `archive_url` and media-svc's gRPC at `media_url` when given; it runs
/// until `shutdown`.
pub(crate) async fn start(
    suite: &Suite,
    archive_url: Option<String>,
    media_url: Option<String>,
    shutdown: CancellationToken,
) -> ExtraGateway {
    start_with(
        suite,
        Overrides {
            archive_url,
            media_url,
            ..Default::default()
        },
        shutdown,
    )
    .await
}

/// [`start`] with any of [`Overrides`].
pub(crate) async fn start_with(
    suite: &Suite,
    overrides: Overrides,
    shutdown: CancellationToken,
) -> ExtraGateway {
    let Overrides {
        archive_url,
        media_url,
        audit_url,
        media_public_url,
        playback_link_ttl_secs,
        trusted_proxies,
        upstream_timeout_secs,
    } = overrides;
    let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (grpc_addr, http_addr) = (grpc.local_addr().unwrap(), http.local_addr().unwrap());
    let e = &suite.endpoints;
    let url = |addr: SocketAddr| format!("http://{addr}");
    let config = GatewayConfig {
        listen: grpc_addr,
        metrics_listen: "127.0.0.1:0".parse().unwrap(),
        jwt_secret: suite.secrets.jwt_secret.clone(),
        identity: suite.keys.config("gateway"),
        archive_url: archive_url.unwrap_or_else(|| url(e.archive)),
        media_url: media_url.unwrap_or_else(|| url(e.media)),
        authz_url: url(e.authz),
        audit_url: audit_url.unwrap_or_else(|| url(e.audit)),
        http_listen: http_addr,
        public_url: url(http_addr),
        media_public_url: media_public_url.unwrap_or_else(|| url(e.media_http)),
        playback_key: suite.secrets.playback_key.clone(),
        playback_ttl_minutes: 60,
        playback_link_ttl_secs: playback_link_ttl_secs.unwrap_or(60),
        export_ttl_minutes: 60,
        demo_sign_in: false,
        oidc: Default::default(),
        jwks_file: None,
        trusted_proxies,
        upstream_timeout_secs: upstream_timeout_secs.unwrap_or(30),
        operator_token_file: None,
    };
    tokio::spawn(async move {
        if let Err(e) = gateway::run(config, grpc, http, shutdown).await {
            panic!("extra gateway failed: {e}");
        }
    });
    // The listeners are bound already: requests queue until it serves.
    ExtraGateway {
        grpc: grpc_addr,
        http: http_addr,
    }
}
