//! What every test binary of authz-svc shares: the suite's keys (each
//! service's own key, the trust file, and the gateway's key, which is what
//! signs a user's principal), the admin paal, a server started and waited
//! for until SERVING, and the store suite's backends.

// Each test file uses a different part of this.
#![allow(dead_code)]

use std::{net::SocketAddr, sync::LazyLock, time::Duration};

use archive_common::{
    Principal,
    host::wait_serving,
    identity::{IdentityConfig, IdentityKey, testing::TestKeys},
    shutdown::CancellationToken,
};
use archive_proto::v1::authz_service_client::AuthzServiceClient;
use authz_svc::Config;
use tonic::transport::Channel;

/// Kept for the whole test binary: the servers read these files.
static KEYS: LazyLock<TestKeys> = LazyLock::new(TestKeys::new);
/// Loaded once, so it reuses its tokens as the gateway does.
static GATEWAY: LazyLock<IdentityKey> = LazyLock::new(|| KEYS.gateway());

pub(crate) fn keys() -> &'static TestKeys {
    &KEYS
}

/// `holder`'s key file and the trust file (a service's `Config`).
pub(crate) fn identity(holder: &str) -> IdentityConfig {
    KEYS.config(holder)
}

/// What signs users: the gateway's key (a user through the gateway).
pub(crate) fn key() -> IdentityKey {
    GATEWAY.clone()
}

/// Paal, the admin of 10009 the tests' servers bootstrap.
pub(crate) fn paal() -> Principal {
    Principal::new("10009", "paal", "Paal Admin")
}

pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) shutdown: CancellationToken,
    pub(crate) task: tokio::task::JoinHandle<Result<(), authz_svc::Error>>,
}

impl Server {
    /// Starts `run` and waits until health says SERVING (the store is open,
    /// migrated and answering).
    pub(crate) async fn start(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(authz_svc::run(config, listener, shutdown.clone()));
        wait_serving(&format!("http://{addr}"), Duration::from_secs(10))
            .await
            .unwrap();
        Self {
            addr,
            shutdown,
            task,
        }
    }

    pub(crate) async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub(crate) async fn client(&self) -> AuthzServiceClient<Channel> {
        AuthzServiceClient::new(self.channel().await)
    }

    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
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
macro_rules! store_test_suite {
    ($prefix:literal; $($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let dir = tempfile::tempdir().unwrap();
                    let url = format!("sqlite://{}", dir.path().join("store.db").display());
                    super::$scenario(&url).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let test = concat!(module_path!(), "::", stringify!($scenario));
                    let Some(db) = crate::common::scratch_postgres($prefix, test).await else {
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
pub(crate) use store_test_suite;
