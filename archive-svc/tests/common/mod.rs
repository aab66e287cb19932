//! The suite's keys for a test binary and the callers archive-svc admits:
//! users through the gateway (signed with its key) and the recording
//! platform (with a credential from the operator's authority); the
//! [`Harness`] of the tests over real gRPC.

// Each test file uses a different part of this.
#![allow(dead_code)]

pub(crate) mod legacy;
pub(crate) mod media;

use std::{sync::LazyLock, time::Duration};

use archive_common::{
    Principal,
    identity::{Caller, IdentityConfig, IdentityKey, PlatformCredential},
    shutdown::CancellationToken,
};
use archive_proto::v1::{self as pb, call_service_client::CallServiceClient};
use audit_svc::testing::FakeTrail;
use tokio::net::TcpListener;
use tonic::{Request, Response, Status, service::Routes, transport::Channel};

use self::media::StandInMedia;

/// The tenants the tests' recording platform ingests for.
pub(crate) const PLATFORM_TENANTS: [&str; 3] = ["10009", "20001", "20002"];

pub(crate) use test_support::keys;

/// Loaded once, so it reuses its tokens as the gateway does.
static GATEWAY: LazyLock<IdentityKey> = LazyLock::new(|| keys().gateway());
static PLATFORM: LazyLock<PlatformCredential> =
    LazyLock::new(|| keys().platform("recording-platform", &PLATFORM_TENANTS));

/// `holder`'s key file and the trust file (a service's `Config`).
pub(crate) fn identity(holder: &str) -> IdentityConfig {
    keys().config(holder)
}

/// What signs users: the gateway's key.
pub(crate) fn gateway() -> IdentityKey {
    GATEWAY.clone()
}

/// The recording platform's credential ([`PLATFORM_TENANTS`]).
pub(crate) fn platform() -> PlatformCredential {
    PLATFORM.clone()
}

/// Paal, an admin of `tenant`, through the gateway.
pub(crate) fn as_user<T>(tenant: &str, message: T) -> Request<T> {
    GATEWAY.request(message, &Principal::new(tenant, "paal", "Paal Admin"))
}

/// The recording platform, acting for `tenant`.
pub(crate) fn as_platform<T>(tenant: &str, message: T) -> Request<T> {
    PLATFORM.request(message, tenant)
}

/// Serves `routes` (a stand-in service) until `stop` is cancelled; its URL.
pub(crate) async fn serve(routes: Routes, stop: &CancellationToken) -> String {
    test_support::server::serve_routes(routes, stop.clone()).await
}

/// archive-svc from `run` with `config` on an ephemeral port until
/// `shutdown`, once it serves: a client of it.
pub(crate) async fn run_archive(
    config: archive_svc::Config,
    shutdown: &CancellationToken,
) -> CallServiceClient<Channel> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(archive_svc::run(config, listener, shutdown.clone()));
    archive_common::host::wait_serving(&url, Duration::from_secs(10))
        .await
        .unwrap();
    CallServiceClient::connect(url).await.unwrap()
}

/// The caller archive-svc's identity token on `request` names, checked as a
/// service receiving it (a stand-in media-svc) checks it.
pub(crate) fn verified<T>(request: &Request<T>) -> Result<Caller, Status> {
    let token = request
        .metadata()
        .get("x-archive-identity")
        .expect("identity forwarded")
        .to_str()
        .unwrap();
    Ok(keys().trust().verify(token, None, chrono::Utc::now())?)
}

/// Call `call_id` of tenant 10009, as Paal reads it.
pub(crate) async fn call_of(
    client: &mut CallServiceClient<Channel>,
    call_id: impl Into<String>,
) -> archive_proto::v1::Call {
    let request = archive_proto::v1::GetCallRequest {
        call_id: call_id.into(),
    };
    let found = client.get_call(as_user("10009", request)).await.unwrap();
    found.into_inner().call.unwrap()
}

/// archive-svc from `run` over a SQLite file, with a stand-in media-svc and
/// a stand-in audit-svc its audit relay delivers to; stopped when dropped.
pub(crate) struct Harness {
    pub(crate) client: CallServiceClient<Channel>,
    pub(crate) media: StandInMedia,
    pub(crate) trail: FakeTrail,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The URL of `dir`'s database `a.db`.
pub(crate) fn db_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("a.db").display())
}

impl Harness {
    /// archive-svc over `dir`'s `a.db` (prepared by the test, or new) and `media`.
    pub(crate) async fn start_in(dir: tempfile::TempDir, media: StandInMedia) -> Self {
        let shutdown = CancellationToken::new();
        let trail = FakeTrail::default();
        let mut config = archive_svc::Config::new(db_url(&dir), identity("archive-svc"));
        config.media_url = Some(media.serve(&shutdown).await);
        config.audit_url = Some(trail.serve(keys().trust(), shutdown.clone()).await);
        config.outbox_interval = Duration::from_millis(50);
        Self {
            client: run_archive(config, &shutdown).await,
            media,
            trail,
            shutdown,
            _dir: dir,
        }
    }

    /// `request` ingested by the recording platform for `tenant`: the call.
    pub(crate) async fn ingest(
        &mut self,
        tenant: &str,
        request: pb::IngestCallRequest,
    ) -> pb::Call {
        let response = self.client.ingest_call(as_platform(tenant, request));
        response.await.unwrap().into_inner().call.unwrap()
    }

    /// Paal of `tenant` deleting the recordings `ids`, with `context`.
    pub(crate) async fn delete(
        &mut self,
        tenant: &str,
        ids: &[&str],
        context: Option<pb::ActionContext>,
    ) -> Result<pb::MarkRecordingsDeletedResponse, Status> {
        let request = pb::MarkRecordingsDeletedRequest {
            recording_ids: ids.iter().map(|id| id.to_string()).collect(),
            context,
        };
        let response = self
            .client
            .mark_recordings_deleted(as_user(tenant, request));
        response.await.map(Response::into_inner)
    }
}
