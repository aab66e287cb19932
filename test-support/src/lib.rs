//! What the workspace's tests share, once: the call most of them ingest
//! ([`calls`]), throw-away PostgreSQL databases
//! and roles that are dropped even when a test fails ([`postgres`]), the
//! demo tenant's principals ([`principals`]), a service started on an
//! ephemeral port and awaited until SERVING ([`server`]), a raw HTTP/1.1
//! client that sends exactly what a test writes ([`http`]), a stand-in OpenID
//! Connect provider ([`oidc`]), a service binary
//! run as a process and its schema step ([`schema_step`]), and one key set
//! per test binary ([`keys`]).

pub mod calls;
pub mod http;
pub mod oidc;
pub mod postgres;
pub mod principals;
pub mod schema_step;
pub mod server;

use std::sync::LazyLock;

pub use archive_common::identity::testing::TestKeys;

/// The test binary's keys and trust file: every server and caller in it
/// shares them, as a deployed suite shares one trust file.
pub fn keys() -> &'static TestKeys {
    static KEYS: LazyLock<TestKeys> = LazyLock::new(TestKeys::new);
    &KEYS
}

/// One `#[tokio::test]` per scenario and backend: `sqlite::<scenario>` on a
/// fresh file, `postgres::<scenario>` on a scratch database named after
/// `$prefix` (skipped, saying so, without a server; failing instead under
/// `ARCHIVE_REQUIRE_POSTGRES=1`). Each scenario is an `async fn(url: &str)`
/// beside the macro's call.
#[macro_export]
macro_rules! backend_suite {
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
                    let db = $crate::postgres::ScratchDatabase::create($prefix).await;
                    if let Some(db) = db {
                        super::$scenario(&db.url).await;
                    }
                }
            )*
        }
    };
}
