//! audit-svc owns the Archive Audit log: an append-only trail of what users
//! did (playback, download, delete, permission changes, exports, retention,
//! denials) with their reasons verbatim. Each tenant's trail is a hash chain,
//! appends are group-committed, all or none per request, deduplicated by
//! event id and acknowledged only once durable (by a commit deadline when
//! the caller sets one), the database itself refuses UPDATE and DELETE, and
//! `VerifyChain` (or the `audit-verify` tool) finds the first bad link.
//!
//! [`run`] serves `archive.v1.AuditService` with health and reflection;
//! [`migrate::run`] is the schema step (`audit-svc migrate`);
//! [`client::AuditClient`] is how other services record actions, fail closed.

mod append;
mod authorize;
pub mod chain;
pub mod checkpoint;
pub mod client;
mod committer;
mod config;
mod error;
pub mod event;
pub mod export;
pub mod gate;
mod grpc;
mod metrics;
pub mod migrate;
pub mod outbox;
mod service;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod trail;
pub mod verify;

use std::{sync::Arc, time::Duration};

use archive_common::{
    SystemClock,
    host::{Host, watch_readiness},
    page_token::PageTokens,
    shutdown::CancellationToken,
};
use archive_proto::v1::audit_service_server::AuditServiceServer;
use gate::Gate;
use tokio::net::TcpListener;
use tonic::{server::NamedService, service::Routes};

// Dev-dependencies serve the integration tests in `tests/`.
#[cfg(test)]
use {tempfile as _, test_support as _};

pub use config::Config;
pub use error::Error;
pub use grpc::GrpcServer;
pub use trail::AuditTrail;

/// The gRPC service name this server hosts.
pub const SERVICE_NAME: &str =
    <AuditServiceServer<GrpcServer<dyn AuditTrail>> as NamedService>::NAME;
/// ListEvents answers at most this many events per page.
pub const MAX_PAGE_SIZE: u32 = service::MAX_PAGE_SIZE;

/// How often readiness re-checks the database.
const READINESS_INTERVAL: Duration = Duration::from_secs(5);

/// Serves on `listener` until `shutdown` is cancelled ([`start`], then
/// [`Host::serve`]).
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let host = start(config, shutdown.clone()).await?;
    host.serve(listener, shutdown).await?;
    Ok(())
}

/// [`start_trail`]'s host alone.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Host, Error> {
    Ok(start_trail(config, shutdown).await?.host)
}

/// audit-svc with its store open and its committer and readiness running,
/// before it serves.
pub struct Started {
    /// Serves gRPC on a listener ([`Host::serve`]), in this process
    /// ([`Host::in_process`]), or both.
    pub host: Host,
    /// The trail itself, the one the host serves, for a caller in this
    /// process holding a verified [`archive_common::identity::Caller`].
    pub trail: Arc<dyn AuditTrail>,
}

/// Opens the store (migrating with `config.migrate`, otherwise requiring a
/// current schema) and starts the committer and readiness (until `shutdown`).
pub async fn start_trail(config: Config, shutdown: CancellationToken) -> Result<Started, Error> {
    let store = store::open(&config.database_url, config.migrate).await?;
    let clock: Arc<dyn archive_common::Clock> = Arc::new(SystemClock);
    let identity = config.identity.load_with(clock.clone())?;
    let viewers = authorize::Viewers::new(config.authz_url.as_deref())?;
    // Page tokens get their own key, derived so no second secret is needed.
    let tokens = PageTokens::new(&identity.key.derived_secret("audit-svc page tokens"));
    let checkpoints = start_checkpoints(&config, &store, clock.clone(), &shutdown)?;
    let committer = committer::Committer::start(store.clone(), clock.clone());
    let gate = Gate::new(
        Arc::new(service::TrailDenials(committer.clone())),
        clock.clone(),
    );
    let trail: Arc<dyn AuditTrail> = Arc::new(
        service::Audit::new(store.clone(), committer, viewers, tokens, clock, gate)
            .with_checkpoints(checkpoints),
    );
    let server =
        AuditServiceServer::with_interceptor(GrpcServer(trail.clone()), identity.verifier());

    let host = Host::new(Routes::new(server), &[SERVICE_NAME]).await;
    watch_readiness(
        host.health(),
        vec![SERVICE_NAME.to_owned()],
        READINESS_INTERVAL,
        shutdown.clone(),
        move || {
            let store = store.clone();
            async move { store.ping().await }
        },
    );
    Ok(Started { host, trail })
}

/// The checkpointer, signing every `checkpoint_interval` until `shutdown`;
/// none (said once) without a key and a store.
fn start_checkpoints(
    config: &Config,
    store: &Arc<dyn store::Store>,
    clock: Arc<dyn archive_common::Clock>,
    shutdown: &CancellationToken,
) -> Result<Option<Arc<checkpoint::Checkpointer>>, Error> {
    let checkpointer = checkpoint::Checkpointer::from_config(&config.checkpoints, clock)?;
    match &checkpointer {
        Some(c) => {
            tracing::info!(
                store = c.store().location(),
                public_key = checkpoint::public_key_hex(&c.public_key()),
                interval = ?config.checkpoints.interval,
                "signing checkpoints"
            );
            c.clone()
                .spawn(store.clone(), config.checkpoints.interval, shutdown.clone());
        }
        None => tracing::warn!(
            "no checkpoints: set --checkpoint-key-file and --checkpoint-store \
             (AUDIT_CHECKPOINT_KEY_FILE, AUDIT_CHECKPOINT_STORE); without them, deleting the \
             newest events or rewriting the chain after an edit goes undetected"
        ),
    }
    Ok(checkpointer)
}
