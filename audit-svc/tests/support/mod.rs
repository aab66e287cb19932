//! Starting a real audit-svc for a test and talking to it, and running a
//! scenario on each database backend.

// Each test file uses a different part of this.
#![allow(dead_code)]

use std::sync::LazyLock;

use archive_common::{IdentityKey, Principal, identity::IdentityConfig};
use archive_proto::v1::{self as pb, AuditEventKind, audit_service_client::AuditServiceClient};
use audit_svc::Config;
use test_support::server::Running;
use tonic::transport::Channel;

#[allow(unused_imports)]
pub(crate) use test_support::{keys, principals::paal};

/// The gateway's signer (users' principals), loaded once: it reuses its tokens.
static GATEWAY: LazyLock<IdentityKey> = LazyLock::new(|| keys().gateway());

/// audit-svc's own key and the trust file.
pub(crate) fn identity() -> IdentityConfig {
    keys().config("audit-svc")
}

/// audit-svc under test.
pub(crate) type Server = Running<audit_svc::Error>;

/// Starts `run` on `database_url` and waits until health says SERVING.
pub(crate) async fn start(database_url: &str) -> Server {
    start_with(Config::new(database_url, identity())).await
}

pub(crate) async fn start_with(config: Config) -> Server {
    Running::start(|listener, shutdown| audit_svc::run(config, listener, shutdown)).await
}

pub(crate) async fn client(server: &Server) -> AuditServiceClient<Channel> {
    AuditServiceClient::new(server.channel().await)
}

/// What users are signed with: the gateway's key.
pub(crate) fn key() -> IdentityKey {
    GATEWAY.clone()
}

/// The key a test's caller signs with: a user through the gateway; a
/// `system:…` principal as a service that records what it does
/// (archive-svc's outbox relay).
pub(crate) fn key_for(who: &Principal) -> IdentityKey {
    static RELAY: LazyLock<IdentityKey> = LazyLock::new(|| keys().signer("archive-svc"));
    if who.is_system() {
        RELAY.clone()
    } else {
        key()
    }
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

/// audit-svc on a fresh SQLite file (kept until the directory is dropped),
/// and a client of it.
pub(crate) async fn on_sqlite() -> (tempfile::TempDir, Server, AuditServiceClient<Channel>) {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&sqlite_url(&dir)).await;
    let c = client(&server).await;
    (dir, server, c)
}

pub(crate) fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("audit.db").display())
}
