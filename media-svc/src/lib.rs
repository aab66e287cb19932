//! media-svc owns recording bytes: it validates uploads as MPEG audio Layer III
//! by walking their frames, keeps them in an object store (local filesystem,
//! memory or S3) under tenant-scoped keys with a metadata sidecar (size,
//! duration, SHA-256, CRC-32), and streams them out over gRPC
//! (`archive.v1.MediaService`) and over HTTP with `Range` support for the
//! browser's player, authorised by signed playback tokens. Each stored upload
//! is reported to archive-svc before it is answered, so the recording stops
//! showing as "not available yet".
//!
//! [`run`] serves both; the binary starts it. The gateway's embedded mode
//! starts a [`MediaServer`] and calls its gRPC service in-process too.

mod archive;
mod audit;
mod chunks;
mod config;
mod error;
mod grpc;
pub mod http;
pub mod info;
pub mod keys;
mod media;
mod metrics;
pub mod mp3;
mod pending;
mod service;
pub mod storage;
pub mod token;
pub mod tombstones;

use std::{sync::Arc, time::Duration};

use archive_common::{
    SystemClock,
    host::{Host, watch_readiness},
    shutdown::CancellationToken,
    telemetry::client::TracedChannel,
};
use archive_proto::v1::{
    call_service_client::CallServiceClient, media_service_server::MediaServiceServer,
};
use audit_svc::{client::AuditClient, gate::Gate};
use object_store::ObjectStore;
use tokio::net::TcpListener;
use tonic::{server::NamedService, service::Routes};

// Dev-dependencies serve the integration tests in `tests/`.
#[cfg(test)]
use tempfile as _;
#[cfg(test)]
use tonic_health as _;

pub use config::{Config, S3Config, S3Playback, StoreKind};
pub use error::Error;
pub use grpc::GrpcServer;
pub use media::{Media, MessageStream};
pub use pending::PRINCIPAL_NAME;
pub use service::{MAX_BATCH, READ_CHUNK_BYTES};
pub use token::{PlaybackToken, TokenError};

/// The gRPC service name this server hosts.
pub const SERVICE_NAME: &str = <MediaServiceServer<GrpcServer<dyn Media>> as NamedService>::NAME;

/// How often readiness re-checks the object store.
const READINESS_INTERVAL: Duration = Duration::from_secs(5);
/// Calls to archive-svc (the pending deletions): connecting, and answering.
const ARCHIVE_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const ARCHIVE_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens the configured object store and serves gRPC on `grpc_listener` and
/// HTTP playback on `http_listener` until `shutdown` is cancelled.
pub async fn run(
    config: Config,
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    MediaServer::start(config, shutdown)
        .await?
        .serve(grpc_listener, http_listener)
        .await
}

/// [`run`] over an object store built by the caller (tests keep a handle on
/// it to look at what was stored). `config.store` and the S3 settings serve
/// only how playback reaches S3 (`storage::redirect`),
/// when they name S3.
pub async fn run_with_store(
    config: Config,
    objects: Arc<dyn ObjectStore>,
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    MediaServer::start_with_store(config, objects, shutdown)
        .await?
        .serve(grpc_listener, http_listener)
        .await
}

/// media-svc with its store open and readiness running, before it serves:
/// gRPC on a listener or in this process ([`MediaServer::in_process`]), and
/// HTTP playback on a listener.
pub struct MediaServer {
    /// The service itself, for callers in this process without gRPC.
    pub media: Arc<dyn Media>,
    host: Host,
    playback: axum::Router,
    /// Either server stopping (or failing) stops the other.
    stop: CancellationToken,
}

impl MediaServer {
    /// Opens the configured object store; readiness runs until `shutdown`.
    pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Self, Error> {
        let objects = storage::open(&config)?;
        Self::start_with_store(config, objects, shutdown).await
    }

    /// [`MediaServer::start`] over an object store built by the caller.
    pub async fn start_with_store(
        config: Config,
        objects: Arc<dyn ObjectStore>,
        shutdown: CancellationToken,
    ) -> Result<Self, Error> {
        let clock: Arc<dyn archive_common::Clock> = Arc::new(SystemClock);
        let limits = storage::UploadLimits::from_config(&config);
        let store = storage::MediaStore::with_clock(objects, limits, clock.clone());
        #[cfg(feature = "s3")]
        let store = store.with_redirect(storage::redirect(&config)?);
        let identity = config
            .identity
            .load_with(clock.clone())
            .map_err(|e| Error::Config(e.to_string()))?;
        // With archive-svc to ask, nothing is served until its pending
        // deletions are known (see `pending`).
        let store = match config.archive_url {
            Some(_) => store.unsettled(),
            None => store,
        };
        let audit = config
            .audit_url
            .as_deref()
            .map(|url| AuditClient::connect_lazy(url, identity.key.clone()))
            .transpose()
            .map_err(|e| Error::Config(e.to_string()))?;
        let audit = audit::MediaAudit::new(audit, clock.clone());
        let gate = Gate::new(Arc::new(audit.clone()), clock.clone());
        let archive =
            archive::ArchiveReports::new(config.archive_url.as_deref(), identity.key.clone())?;
        let media = Arc::new(service::MediaCore::new(
            store.clone(),
            audit.clone(),
            gate,
            archive,
        ));
        let server =
            MediaServiceServer::with_interceptor(GrpcServer(media.clone()), identity.verifier());
        let host = Host::new(Routes::new(server), &[SERVICE_NAME]).await;
        let stop = shutdown.child_token();
        store.spawn_recheck(stop.clone());
        let ping_store = store.clone();
        let readiness = {
            let (health, stop) = (host.health(), stop.clone());
            move || {
                watch_readiness(
                    health,
                    vec![SERVICE_NAME.to_owned()],
                    READINESS_INTERVAL,
                    stop,
                    move || {
                        let store = ping_store.clone();
                        async move { store.ping().await }
                    },
                );
            }
        };
        match &config.archive_url {
            // Readiness starts (NOT_SERVING until then) once the pending
            // deletions are buried.
            Some(url) => {
                let channel = archive_common::telemetry::client::channel(
                    url,
                    ARCHIVE_CONNECT_TIMEOUT,
                    ARCHIVE_CALL_TIMEOUT,
                )
                .map_err(|e| Error::Config(format!("archive_url: {e}")))?;
                pending::PendingDeletions::new(
                    CallServiceClient::new(channel),
                    identity.key,
                    store.clone(),
                    audit,
                )
                .spawn(
                    Duration::from_secs(config.pending_deletions_interval_secs.max(1)),
                    stop.clone(),
                    readiness,
                );
            }
            None => readiness(),
        }
        let playback = http::router(
            store,
            http::HttpSettings {
                playback_key: config.playback_key.into_bytes(),
                cors_origin: config.cors_origin,
                cache_max_age_secs: config.cache_max_age_secs,
                clock,
            },
        );
        Ok(Self {
            media,
            host,
            playback,
            stop,
        })
    }

    /// The gRPC service for callers in this process (see [`Host::in_process`]).
    pub fn in_process(&self, timeout: Duration) -> TracedChannel {
        self.host.in_process(timeout)
    }

    /// Serves gRPC on `grpc_listener` and HTTP playback on `http_listener`
    /// until shutdown, or until either fails.
    pub async fn serve(
        self,
        grpc_listener: TcpListener,
        http_listener: TcpListener,
    ) -> Result<(), Error> {
        let Self {
            host,
            playback,
            stop,
            ..
        } = self;
        let http_addr = http_listener.local_addr().ok();
        tracing::info!(addr = ?http_addr, "HTTP playback endpoint listening");
        let http = async {
            let result = http::serve(http_listener, playback, stop.clone()).await;
            stop.cancel();
            result
        };
        let grpc = async {
            let result = host.serve(grpc_listener, stop.clone()).await;
            stop.cancel();
            result
        };
        let (http, grpc) = tokio::join!(http, grpc);
        grpc?;
        http?;
        Ok(())
    }
}
