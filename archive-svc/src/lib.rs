//! archive-svc owns calls and their recordings' metadata: ingest with the
//! seed's recording rules, search with keyset pagination, the Recording tab,
//! deletion markers and tenant settings. Calls live in SQLite (embedded) or
//! PostgreSQL behind [`store::CallStore`].

mod config;
pub mod convert;
mod error;
mod metrics;
pub mod model;
pub mod retention;
pub mod rules;
mod service;
pub mod store;

use std::{sync::Arc, time::Duration};

use archive_common::{
    IdentityKey, SystemClock, VerifyIdentity,
    host::{Host, watch_readiness},
    page_token::PageTokens,
    shutdown::CancellationToken,
};
use archive_proto::v1::{
    call_service_server::CallServiceServer, media_service_client::MediaServiceClient,
};
use tokio::net::TcpListener;
use tonic::service::Routes;

pub use crate::{config::Config, error::Error, retention::Retention, service::CallArchive};

// Used by the integration tests only.
#[cfg(test)]
use {tempfile as _, tokio_stream as _};

/// The gRPC name health reports under.
pub const SERVICE_NAME: &str = "archive.v1.CallService";

/// Serves archive-svc on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let store = store::open(&config.database_url).await?;
    let tokens = PageTokens::new(
        config
            .page_token_secret
            .as_deref()
            .unwrap_or(&config.identity_secret)
            .as_bytes(),
    );
    let clock: Arc<dyn archive_common::Clock> = Arc::new(SystemClock);
    let identity = IdentityKey::internal(config.identity_secret.as_bytes());
    let media = match &config.media_url {
        Some(url) => Some(MediaServiceClient::new(
            archive_common::telemetry::client::channel(
                url,
                Duration::from_secs(5),
                Duration::from_secs(30),
            )
            .map_err(Error::Transport)?,
        )),
        None => None,
    };
    let retention = Retention::new(store.clone(), clock.clone(), media, identity.clone());
    retention.clone().spawn(
        config.retention_interval,
        config.outbox_interval,
        shutdown.clone(),
    );
    let archive = CallArchive::new(store.clone(), tokens, clock, retention);
    let verify = VerifyIdentity::new(identity);
    let routes = Routes::new(CallServiceServer::with_interceptor(archive, verify));
    let host = Host::new(routes, &[SERVICE_NAME]).await;
    watch_readiness(
        host.health(),
        vec![SERVICE_NAME.to_owned()],
        config.readiness_interval.max(Duration::from_millis(100)),
        shutdown.clone(),
        move || {
            let store = store.clone();
            async move { store.ping().await }
        },
    );
    host.serve(listener, shutdown).await?;
    Ok(())
}
