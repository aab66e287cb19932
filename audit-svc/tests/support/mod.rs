//! Starting a real audit-svc for a test and talking to it, and running a
//! scenario on each database backend.

// Each test file uses a different part of this.
#![allow(dead_code)]

use std::{net::SocketAddr, sync::LazyLock, time::Duration};

use archive_common::{
    IdentityKey, Principal,
    host::wait_serving,
    identity::{IdentityConfig, testing::TestKeys},
    shutdown::CancellationToken,
};
use archive_proto::v1::{self as pb, AuditEventKind, audit_service_client::AuditServiceClient};
use audit_svc::Config;
use tonic::transport::Channel;

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
        wait_serving(&format!("http://{addr}"), Duration::from_secs(10))
            .await
            .unwrap();
        Self {
            addr,
            shutdown,
            task,
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

/// A scratch PostgreSQL database for `test`, or `None` (said on stderr)
/// when no server answers; with ARCHIVE_REQUIRE_POSTGRES=1 a missing server
/// fails the test instead.
pub(crate) async fn scratch_postgres(
    prefix: &str,
    test: &str,
) -> Option<archive_common::db::ScratchDatabase> {
    let db = archive_common::db::ScratchDatabase::create(prefix).await;
    if db.is_none() {
        let url = std::env::var(archive_common::db::TEST_PG_ENV).unwrap_or_default();
        eprintln!("SKIPPED {test}: no PostgreSQL at {url}");
    }
    db
}

/// One `#[tokio::test]` per scenario and backend: `sqlite::<scenario>` on a
/// fresh file, `postgres::<scenario>` on a scratch database named after
/// `$prefix`. Each scenario is an `async fn(url: &str)`.
#[allow(unused_macros)]
macro_rules! backend_suite {
    ($prefix:literal; $($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let dir = tempfile::tempdir().unwrap();
                    super::$scenario(&crate::support::sqlite_url(&dir)).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let test = concat!(module_path!(), "::", stringify!($scenario));
                    let Some(db) = crate::support::scratch_postgres($prefix, test).await else {
                        return;
                    };
                    super::$scenario(&db.url).await;
                    db.drop_database().await;
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use backend_suite;
