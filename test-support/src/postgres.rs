//! Throw-away PostgreSQL databases and roles on the test server
//! (`ARCHIVE_TEST_POSTGRES_URL`, default the local server). Each is dropped
//! when its value is, so a failing test leaves nothing behind. Without a
//! server a test's PostgreSQL half says it was skipped (one `SKIPPED` line on
//! stderr), unless `ARCHIVE_REQUIRE_POSTGRES=1` (CI), where it fails.

use sqlx::{Connection, Executor, postgres::PgConnection};

/// Environment variable naming the PostgreSQL server the tests use.
pub const TEST_PG_ENV: &str = "ARCHIVE_TEST_POSTGRES_URL";
/// When set to `1`, a missing PostgreSQL fails the tests instead of skipping them.
pub const REQUIRE_PG_ENV: &str = "ARCHIVE_REQUIRE_POSTGRES";
const DEFAULT_TEST_PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn admin_url() -> String {
    std::env::var(TEST_PG_ENV).unwrap_or_else(|_| DEFAULT_TEST_PG.to_owned())
}

/// A throw-away database, created for one test, dropped with the value.
#[derive(Debug)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl ScratchDatabase {
    /// Creates `<prefix>_<random>`, or returns `None` after printing
    /// `SKIPPED <test name>: …` when no PostgreSQL answers and
    /// `ARCHIVE_REQUIRE_POSTGRES` is not `1`.
    pub async fn create(prefix: &str) -> Option<Self> {
        let admin_url = admin_url();
        let mut admin = match PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) if std::env::var(REQUIRE_PG_ENV).is_ok_and(|v| v == "1") => {
                panic!("{REQUIRE_PG_ENV}=1 but PostgreSQL at {admin_url} is unreachable: {e}")
            }
            Err(e) => {
                // The test harness names each test's thread after the test;
                // a multi-threaded runtime runs it on a worker named for
                // tokio, where the database prefix names the test instead.
                let thread = std::thread::current();
                let test = match thread.name() {
                    Some(name) if name != "tokio-runtime-worker" => name,
                    _ => prefix,
                };
                eprintln!("SKIPPED {test}: no PostgreSQL at {admin_url}: {e}");
                return None;
            }
        };
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .expect("create scratch database");
        let url = with_database(&admin_url, &name);
        Some(Self {
            admin_url,
            name,
            url,
        })
    }
}

impl ScratchDatabase {
    /// Keeps the database past this value (a benchmark's `--keep`, for
    /// inspection); its URL.
    pub fn keep(self) -> String {
        let this = std::mem::ManuallyDrop::new(self);
        this.url.clone()
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        on_admin(&self.admin_url, sql);
    }
}

/// A throw-away LOGIN role on the test server, for the tests of a service's
/// runtime role: roles belong to the server, so it is created and dropped
/// from the admin database.
#[derive(Debug)]
pub struct ScratchRole {
    admin_url: String,
    pub name: String,
}

impl ScratchRole {
    /// Creates `<prefix>_<random>` with LOGIN and no other right.
    pub async fn create(prefix: &str) -> Self {
        let admin_url = admin_url();
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect to the test PostgreSQL");
        admin
            .execute(format!("CREATE ROLE \"{name}\" LOGIN").as_str())
            .await
            .expect("create a scratch role");
        Self { admin_url, name }
    }

    /// `url` (any database of the server) connecting as this role.
    pub fn url_for(&self, url: &str) -> String {
        as_user(url, &self.name)
    }

    /// Runs every one of `statements` as this role on `url`'s database and
    /// panics unless each is refused for want of a privilege.
    pub async fn assert_refused(&self, url: &str, statements: &[&str]) {
        let mut conn = PgConnection::connect(&self.url_for(url))
            .await
            .expect("connect as the scratch role");
        for sql in statements {
            let err = conn.execute(*sql).await.expect_err(sql).to_string();
            assert!(
                err.contains("permission denied") || err.contains("must be owner"),
                "{sql}: {err}"
            );
        }
    }
}

impl Drop for ScratchRole {
    fn drop(&mut self) {
        on_admin(
            &self.admin_url,
            format!("DROP ROLE IF EXISTS \"{}\"", self.name),
        );
    }
}

/// Runs `sql` on the admin database from a thread of its own: `Drop` cannot
/// await, and may run inside a runtime that must not be blocked.
fn on_admin(admin_url: &str, sql: String) {
    let admin_url = admin_url.to_owned();
    let dropped = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the drop");
        runtime.block_on(async {
            if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                let _ = admin.execute(sql.as_str()).await;
            }
        });
    });
    let _ = dropped.join();
}

/// `scheme://user@host/db` with the user replaced by `user` (any password dropped).
fn as_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}@{host}")
}

/// `postgres://u@h:p/old?x=y` with the database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let prefix = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, postgres::PgConnection};

    use super::{ScratchDatabase, admin_url};

    #[test]
    fn user_is_replaced() {
        assert_eq!(
            super::as_user("postgres://postgres:pw@127.0.0.1:5432/db", "rt"),
            "postgres://rt@127.0.0.1:5432/db"
        );
        assert_eq!(
            super::as_user("postgres://h/db", "rt"),
            "postgres://rt@h/db"
        );
    }

    #[test]
    fn database_is_replaced() {
        assert_eq!(
            super::with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            super::with_database("postgres://h/db?sslmode=disable", "t2"),
            "postgres://h/t2?sslmode=disable"
        );
        assert_eq!(
            super::with_database("postgres://h", "t3"),
            "postgres://h/t3"
        );
    }

    #[tokio::test]
    async fn a_scratch_database_is_gone_once_dropped() {
        let Some(db) = ScratchDatabase::create("dropped").await else {
            return;
        };
        let name = db.name.clone();
        let exists = |name: String| async move {
            let mut admin = PgConnection::connect(&admin_url()).await.unwrap();
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_database WHERE datname = $1")
                .bind(name)
                .fetch_one(&mut admin)
                .await
                .unwrap()
                == 1
        };
        assert!(exists(name.clone()).await);
        drop(db);
        assert!(!exists(name).await, "the database outlived its value");
    }
}
