//! The gateway is the archive's public edge: it verifies users' bearer
//! tokens, forwards their identity signed to the services, and composes the
//! product's flows (result rows, playback, download, delete). Its embedded
//! mode ([`suite::Suite`]) runs the whole suite in one process.

pub mod admin;
pub mod api;
pub mod auth;
mod config;
pub mod credentials;
pub mod demo;
pub mod download;
mod error;
pub mod flows;
pub mod format;
mod grpc;
mod metrics;
pub mod oidc;
pub mod operator;
pub mod origin;
mod postgres;
pub mod rows;
mod secrets;
mod seed;
mod service;
pub mod suite;
pub mod upstream;
mod web;
pub mod zip;

use std::sync::Arc;

use archive_common::{
    SystemClock,
    host::{Host, watch_readiness},
    shutdown::CancellationToken,
};
use archive_proto::v1::{
    archive_admin_server::ArchiveAdminServer, archive_service_server::ArchiveServiceServer,
    operator_service_server::OperatorServiceServer,
};
use tokio::net::TcpListener;
use tonic::service::{Routes, interceptor::InterceptedService};

pub use crate::{
    config::{Cli, Command, GatewayConfig, SuiteConfig},
    error::Error,
    secrets::Secrets,
    seed::SeedReport,
    service::Gateway,
};

// Used by the export benchmark only.
#[cfg(test)]
use tempfile as _;

/// The gRPC name health reports under.
pub const SERVICE_NAME: &str = "archive.v1.ArchiveService";
/// The gRPC name of the administration service it serves too.
pub const ADMIN_SERVICE_NAME: &str = "archive.v1.ArchiveAdmin";
/// The operator's service, served beside it (see [`operator`]).
pub const OPERATOR_SERVICE_NAME: &str = authz_svc::OPERATOR_SERVICE_NAME;

/// Serves the gateway's gRPC API on `grpc` and its HTTP side on `http`
/// until `shutdown` is cancelled, calling the services at the configured URLs.
pub async fn run(
    config: GatewayConfig,
    grpc: TcpListener,
    http: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let channels = upstream::Channels::connect(&config.upstreams(), config.upstream_timeout())?;
    let clock: Arc<dyn archive_common::Clock> = Arc::new(SystemClock);
    let identity = config
        .identity
        .load_with(clock.clone())
        .map_err(|e| Error::Config(e.to_string()))?
        .key;
    let upstreams = upstream::Upstreams::remote(channels, identity, clock);
    run_with(config, upstreams, grpc, http, shutdown).await
}

/// [`run`] reaching the services as `upstreams` (embedded mode passes the
/// services in this process). `config`'s URLs still serve the readiness
/// checks.
pub async fn run_with(
    config: GatewayConfig,
    upstreams: upstream::Upstreams,
    grpc: TcpListener,
    http: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let clock: Arc<dyn archive_common::Clock> = Arc::new(SystemClock);
    let playback = flows::playback::PlaybackSettings {
        key: config.playback_key.clone().into_bytes(),
        public_url: config.media_public_url.clone(),
        ttl: chrono::Duration::minutes(config.playback_ttl_minutes.max(1)),
        link_ttl: flows::playback::link_ttl(config.playback_link_ttl_secs),
    };
    let exports = flows::export::ExportSettings {
        key: export_key(&config.jwt_secret),
        public_url: config.public_url.clone(),
        ttl: chrono::Duration::minutes(config.export_ttl_minutes.max(1)),
    };
    let proxies = origin::TrustedProxies::parse(&config.trusted_proxies).map_err(Error::Config)?;
    let searches = flows::searches::SearchAudit::start(upstreams.clone(), shutdown.clone());
    let gateway = Arc::new(Gateway {
        upstreams: upstreams.clone(),
        searches,
        playback,
        exports: exports.clone(),
        proxies: proxies.clone(),
        clock: clock.clone(),
        scope_hints: Default::default(),
    });
    let mut authenticate =
        auth::Authenticate::hs256(config.jwt_secret.as_bytes()).with_clock(clock.clone());
    if let Some(path) = &config.jwks_file {
        authenticate =
            authenticate.with_jwks(auth::Authenticate::load_jwks(path).map_err(Error::Config)?);
    }
    let admin = admin::grpc::AdminGrpc {
        admin: admin::Admin::new(gateway.clone()),
        proxies: proxies.clone(),
    };
    let operator = operator_api(&config, proxies.clone(), clock.clone())?;
    let sign_in = oidc::SignIn::new(
        &config.oidc,
        &config.public_url,
        authenticate.clone(),
        clock.clone(),
    )
    .map_err(Error::Config)?;
    let routes = Routes::new(InterceptedService::new(
        ArchiveServiceServer::from_arc(gateway.clone()),
        authenticate.clone(),
    ))
    .add_service(InterceptedService::new(
        ArchiveAdminServer::new(admin),
        authenticate.clone(),
    ))
    .add_service(InterceptedService::new(
        OperatorServiceServer::new(operator.proxy.clone()),
        operator.credential.clone(),
    ));
    let host = Host::new(
        routes,
        &[SERVICE_NAME, ADMIN_SERVICE_NAME, OPERATOR_SERVICE_NAME],
    )
    .await;
    // SERVING only while the services it composes answer their health checks.
    let urls = config.upstreams();
    watch_readiness(
        host.health(),
        vec![
            SERVICE_NAME.to_owned(),
            ADMIN_SERVICE_NAME.to_owned(),
            OPERATOR_SERVICE_NAME.to_owned(),
        ],
        std::time::Duration::from_secs(5),
        shutdown.clone(),
        move || {
            let urls = urls.clone();
            async move { upstream::check_all(&urls).await }
        },
    );
    // Embedded mode's picker lists the users an admin created too.
    let created_users = match config.demo_sign_in && !config.oidc.enabled() {
        true => admin::demo_sign_in::router(upstreams.clone(), authenticate.clone()),
        false => axum::Router::new(),
    };
    let app = download::router(download::DownloadState {
        upstreams,
        exports,
        clock,
        proxies: proxies.clone(),
    })
    .merge(web::router(
        authenticate.clone(),
        config.demo_sign_in && !config.oidc.enabled(),
    ))
    .merge(created_users)
    .merge(oidc::router(sign_in))
    .merge(api::router(api::ApiState {
        gateway: gateway.clone(),
        auth: authenticate.clone(),
        proxies: proxies.clone(),
    }))
    .merge(admin::api::router(api::ApiState {
        gateway,
        auth: authenticate,
        proxies,
    }))
    .merge(operator::api::router(operator))
    // Traces, logs and request metrics for every HTTP request (telemetry::server).
    .layer(archive_common::telemetry::server::Observe::http("gateway"));
    let stop = shutdown.clone();
    let http_server = async move {
        let listener = axum::serve::ListenerExt::tap_io(http, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        // The peer's address reaches the API's handlers (the audit trail's client address).
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(stop.clone().cancelled_owned())
            .await;
        stop.cancel();
        result
    };
    let (grpc_result, http_result) = tokio::join!(host.serve(grpc, shutdown.clone()), http_server);
    grpc_result?;
    http_result?;
    Ok(())
}

/// The operator's side: authz-svc's OperatorService called as
/// `system:operator` with the gateway's key, behind the configured operator
/// credential (none configured: every operator call refused).
fn operator_api(
    config: &GatewayConfig,
    proxies: origin::TrustedProxies,
    clock: Arc<dyn archive_common::Clock>,
) -> Result<operator::api::OperatorApi, Error> {
    let key = config
        .identity
        .load_with(clock)
        .map_err(|e| Error::Config(e.to_string()))?
        .key;
    let credential = match &config.operator_token_file {
        Some(path) => operator::OperatorCredential::load(path).map_err(Error::Config)?,
        None => operator::OperatorCredential::none(),
    };
    Ok(operator::api::OperatorApi {
        proxy: operator::OperatorProxy::connect(
            &config.authz_url,
            key,
            proxies,
            config.upstream_timeout(),
        )?,
        credential,
    })
}

/// Download links are signed with a key derived from the JWT secret, so a
/// deployment has one secret fewer to manage.
fn export_key(jwt_secret: &str) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(jwt_secret.as_bytes()).expect("any key");
    mac.update(b"archive export downloads");
    mac.finalize().into_bytes().to_vec()
}
