//! Starting a real audit-svc for a test and talking to it.

// Each test file uses a different part of this.
#![allow(dead_code)]

use std::{
    net::SocketAddr,
    sync::LazyLock,
    time::{Duration, Instant},
};

use archive_common::{
    IdentityKey, Principal,
    identity::{IdentityConfig, testing::TestKeys},
    shutdown::CancellationToken,
};
use archive_proto::v1::{self as pb, AuditEventKind, audit_service_client::AuditServiceClient};
use audit_svc::Config;
use tonic::transport::Channel;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// The suite's keys and trust file, for every server and caller of a test binary.
static KEYS: LazyLock<TestKeys> = LazyLock::new(TestKeys::new);
/// The gateway's signer (users' principals), loaded once: it reuses its tokens.
static GATEWAY: LazyLock<IdentityKey> = LazyLock::new(|| KEYS.gateway());

pub(crate) fn keys() -> &'static TestKeys {
    &KEYS
}

/// audit-svc's own key and the trust file.
pub(crate) fn identity() -> IdentityConfig {
    KEYS.config("audit-svc")
}

pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), audit_svc::Error>>,
}

impl Server {
    /// Starts `run` and waits until health says SERVING.
    pub(crate) async fn start(database_url: &str) -> Self {
        Self::start_with(Config::new(database_url, identity())).await
    }

    pub(crate) async fn start_with(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(audit_svc::run(config, listener, shutdown.clone()));
        let server = Self {
            addr,
            shutdown,
            task,
        };
        let mut health = HealthClient::new(server.channel().await);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            assert!(
                !server.task.is_finished(),
                "the server stopped while starting"
            );
            let status = health
                .check(HealthCheckRequest {
                    service: audit_svc::SERVICE_NAME.into(),
                })
                .await
                .map(|r| r.into_inner().status);
            if matches!(status, Ok(s) if s == ServingStatus::Serving as i32) {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "never became SERVING: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) async fn channel(&self) -> Channel {
        Channel::from_shared(self.url())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub(crate) async fn client(&self) -> AuditServiceClient<Channel> {
        AuditServiceClient::new(self.channel().await)
    }

    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

/// What users are signed with: the gateway's key.
pub(crate) fn key() -> IdentityKey {
    GATEWAY.clone()
}

/// The key a test's caller signs with: a user through the gateway; a
/// `system:…` principal as a service that records what it does
/// (archive-svc's outbox relay).
pub(crate) fn key_for(who: &Principal) -> IdentityKey {
    static RELAY: LazyLock<IdentityKey> = LazyLock::new(|| KEYS.signer("archive-svc"));
    if who.is_system() {
        RELAY.clone()
    } else {
        key()
    }
}

pub(crate) fn paal() -> Principal {
    Principal::new("10009", "paal", "Paal Admin")
}

pub(crate) fn event(kind: AuditEventKind, recording: &str, reason: &str) -> pb::AuditEvent {
    pb::AuditEvent {
        kind: kind as i32,
        call_id: format!("call-{recording}"),
        recording_id: recording.into(),
        reason: reason.into(),
        client_address: "192.0.2.7".into(),
        user_agent: "Mozilla/5.0 (X11; Linux x86_64)".into(),
        ..Default::default()
    }
}

pub(crate) async fn append(
    c: &mut AuditServiceClient<Channel>,
    as_: &Principal,
    e: pb::AuditEvent,
) -> pb::AppendEventResponse {
    c.append_event(key_for(as_).request(
        pb::AppendEventRequest {
            commit_deadline: Default::default(),
            event: Some(e),
        },
        as_,
    ))
    .await
    .unwrap()
    .into_inner()
}

pub(crate) async fn verify_chain(
    c: &mut AuditServiceClient<Channel>,
    as_: &Principal,
) -> pb::VerifyChainResponse {
    c.verify_chain(key().request(pb::VerifyChainRequest::default(), as_))
        .await
        .unwrap()
        .into_inner()
}

pub(crate) fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("audit.db").display())
}
