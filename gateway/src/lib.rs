//! The gateway is the archive's public edge: it verifies users' bearer
//! tokens, forwards their identity signed to the services, and composes the
//! product's flows (result rows, playback, download, delete). Its embedded
//! mode ([`suite::Suite`]) runs the whole suite in one process.

pub mod auth;
mod config;
pub mod demo;
mod error;
pub mod format;
mod postgres;
pub mod rows;
mod secrets;
mod seed;
mod service;
pub mod suite;
pub mod upstream;

use archive_common::{
    IdentityKey,
    host::{Host, watch_readiness},
    shutdown::CancellationToken,
};
use archive_proto::v1::archive_service_server::ArchiveServiceServer;
use tokio::net::TcpListener;
use tonic::service::Routes;

pub use crate::{
    config::{Cli, Command, GatewayConfig, SuiteConfig},
    error::Error,
    secrets::Secrets,
    seed::SeedReport,
    service::Gateway,
};

/// The gRPC name health reports under.
pub const SERVICE_NAME: &str = "archive.v1.ArchiveService";

/// Serves the gateway on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: GatewayConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let upstreams = upstream::Upstreams::new(
        &config.upstreams(),
        IdentityKey::internal(config.identity_secret.as_bytes()),
    )?;
    let gateway = Gateway::new(upstreams.clone());
    let authenticate = auth::Authenticate::hs256(config.jwt_secret.as_bytes());
    let routes = Routes::new(ArchiveServiceServer::with_interceptor(
        gateway,
        authenticate,
    ));
    let host = Host::new(routes, &[SERVICE_NAME]).await;
    // SERVING only while the services it composes answer their health checks.
    let urls = config.upstreams();
    watch_readiness(
        host.health(),
        vec![SERVICE_NAME.to_owned()],
        std::time::Duration::from_secs(5),
        shutdown.clone(),
        move || {
            let urls = urls.clone();
            async move { upstream::check_all(&urls).await }
        },
    );
    host.serve(listener, shutdown).await?;
    Ok(())
}
