//! archive-svc owns calls and their recordings' metadata: ingest with the
//! seed's recording rules, search with keyset pagination, the Recording tab,
//! deletion markers and tenant settings. Calls live in SQLite (embedded) or
//! PostgreSQL behind [`store::CallStore`]. Every change the audit trail
//! records (deletions, retention, legal holds, settings, ingest) writes its
//! event to the store's audit outbox in the change's transaction; a relay
//! delivers them to audit-svc. media-svc reports each stored upload
//! (`MarkRecordingMediaStored`); a recording whose file never arrived shows as
//! not available and is listed for the recording platform
//! (`ListPendingRecordings`); [`media_check`] resolves recordings from before
//! media states were kept.

mod access;
mod archive;
pub mod audit;
mod config;
pub mod convert;
mod error;
mod grpc;
pub mod media_check;
mod metrics;
pub mod model;
pub mod retention;
pub mod rules;
mod service;
pub mod store;

use std::{sync::Arc, time::Duration};

use archive_common::{
    SystemClock,
    host::{Host, watch_readiness},
    page_token::PageTokens,
    schema_step::SchemaStep,
    shutdown::CancellationToken,
};
use archive_proto::v1::{
    call_service_server::CallServiceServer, media_service_client::MediaServiceClient,
};
use audit_svc::{
    client::AuditClient,
    gate::{Gate, OutboxDenials},
    outbox::Relay,
};
use tokio::net::TcpListener;
use tonic::service::{Routes, interceptor::InterceptedService};

pub use crate::{
    archive::Archive,
    config::{Config, SCHEMA_STEP},
    error::Error,
    grpc::GrpcServer,
    retention::Retention,
    service::CallArchive,
};

// Used by the integration tests only.
#[cfg(test)]
use {tempfile as _, test_support as _, tokio_stream as _};

/// The gRPC name health reports under.
pub const SERVICE_NAME: &str = "archive.v1.CallService";

/// Serves archive-svc on `listener` until `shutdown` is cancelled ([`start`],
/// then [`Host::serve`]).
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let started = start(config, shutdown.clone()).await?;
    started.host.serve(listener, shutdown).await?;
    Ok(())
}

/// archive-svc with its store open and its background work running, before
/// it serves.
pub struct Started {
    /// Serves gRPC on a listener ([`Host::serve`]), in this process
    /// ([`Host::in_process`]), or both.
    pub host: Host,
    /// The service itself, the same one the host serves: what a caller in
    /// this process that has verified the caller's identity itself (the
    /// embedded gateway's result pages) may call with no encoding at all.
    pub calls: Arc<GrpcServer<CallArchive>>,
    /// The same service without its transport: what the gateway calls in
    /// this process once it speaks the domain's terms.
    pub archive: Arc<dyn Archive>,
}

/// The name the audit relay calls audit-svc as (`system:archive-svc`).
pub const AUDIT_PRINCIPAL: &str = "archive-svc";

/// `archive-svc migrate`: the schema step, as the database owner.
pub async fn migrate(args: &SchemaStep) -> Result<(), Error> {
    store::migrate(&args.database_url, args.grant_to.as_deref()).await?;
    Ok(())
}

/// Opens the store (migrating when `config.migrate`, else checking the
/// schema is current) and starts retention, the audit relay and readiness
/// (until `shutdown`).
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Started, Error> {
    let clock: Arc<dyn archive_common::Clock> = Arc::new(SystemClock);
    let identity = config.identity.load_with(clock.clone())?;
    let store = store::open(&config.database_url, config.migrate).await?;
    let tokens = PageTokens::new(&match &config.page_token_secret {
        Some(secret) => secret.as_bytes().to_vec(),
        None => identity.key.derived_secret("archive-svc page tokens"),
    });
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
    let audit = config
        .audit_url
        .as_deref()
        .map(|url| AuditClient::connect_lazy(url, identity.key.clone()))
        .transpose()?;
    let relay = Relay::new(
        Arc::new(store.outbox()),
        audit,
        AUDIT_PRINCIPAL,
        clock.clone(),
    );
    let nudge = relay.nudge();
    relay.spawn(shutdown.clone());
    // Recordings from before media states were kept are looked up once.
    if let Some(media) = &media {
        let check = media_check::MediaCheck::new(
            store.clone(),
            clock.clone(),
            media.clone(),
            identity.key.clone(),
        );
        tokio::spawn(check.run(config.outbox_interval, shutdown.clone()));
    }
    let retention = Retention::new(
        store.clone(),
        clock.clone(),
        media,
        identity.key.clone(),
        nudge.clone(),
    )
    .with_delete_wait(config.media_delete_wait);
    retention.clone().spawn(
        config.retention_interval,
        config.outbox_interval,
        shutdown.clone(),
    );
    let gate = Gate::new(
        Arc::new(OutboxDenials {
            outbox: store.outbox(),
            nudge: nudge.clone(),
        }),
        clock.clone(),
    );
    let archive = Arc::new(CallArchive::new(
        store.clone(),
        tokens,
        clock,
        retention,
        nudge,
        gate,
    ));
    let calls = Arc::new(GrpcServer(archive.clone()));
    let verify = identity.verifier();
    let routes = Routes::new(InterceptedService::new(
        CallServiceServer::from_arc(calls.clone()),
        verify,
    ));
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
    Ok(Started {
        host,
        calls,
        archive,
    })
}
