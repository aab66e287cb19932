//! Connecting a service's store by URL (`sqlite://…` for the embedded default,
//! `postgres://…` in production), the schema step every service shares
//! (`<service> migrate` as the owner role, then a runtime role with only the
//! grants it needs; a service that does not migrate checks the schema is
//! current), which failures mean "the database is down" ([`is_unavailable`],
//! the one test every service's error mapping uses). Scratch databases for
//! tests are the `test-support` crate's.

use std::{str::FromStr, time::Duration};

use sqlx::{
    Executor, PgPool, SqlitePool,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

/// An open pool of one of the two supported backends.
#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl From<SqlitePool> for Pool {
    fn from(pool: SqlitePool) -> Self {
        Self::Sqlite(pool)
    }
}

impl From<PgPool> for Pool {
    fn from(pool: PgPool) -> Self {
        Self::Postgres(pool)
    }
}

/// How long a request waits for a PostgreSQL connection before it is
/// answered UNAVAILABLE. While the server is down every new connection is
/// refused and sqlx keeps trying until this passes, so it bounds how long a
/// request hangs in an outage; a healthy pool hands out a connection in
/// microseconds, and one whose 16 connections stay busy for seconds is
/// overloaded and better shed than queued.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether `e` says the database cannot be reached now (down, restarting,
/// unreachable, out of connections) rather than that the statement is wrong:
/// the services answer these UNAVAILABLE with a retry hint, everything else
/// INTERNAL.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| is_unavailable_sqlstate(&code)),
        _ => false,
    }
}

/// PostgreSQL's SQLSTATEs for a server that is shutting down or starting
/// (`57P01` admin_shutdown, `57P02` crash_shutdown, `57P03`
/// cannot_connect_now), out of connections (`53300`), or a connection
/// failure (class `08`).
fn is_unavailable_sqlstate(code: &str) -> bool {
    matches!(code, "57P01" | "57P02" | "57P03" | "53300") || code.starts_with("08")
}

/// Opens `url`: `sqlite://path` (created if missing, WAL) or `postgres://…`.
pub async fn connect(url: &str) -> Result<Pool, sqlx::Error> {
    if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL is durable across process crashes; only an OS crash
            // may lose the last commits. Audit uses FULL (see audit-svc).
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Ok(Pool::Sqlite(pool))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // Tenants differ in size by orders of magnitude, so one generic
            // plan per prepared statement fits none of them: plan each
            // execution with its actual parameters (cheap next to a bad plan).
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET plan_cache_mode = force_custom_plan")
                        .await?;
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        Ok(Pool::Postgres(pool))
    } else {
        Err(sqlx::Error::Configuration(
            format!("unsupported database URL {url:?}: use sqlite:// or postgres://").into(),
        ))
    }
}

/// Why a service's schema is not ready.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The service runs without migrating and the schema is behind.
    #[error(
        "the {service} database schema is not up to date (migration {missing} is not applied): \
         run `{service} migrate` as the database owner first"
    )]
    Behind { service: String, missing: i64 },
    #[error("invalid role name {0:?}: letters, digits and _ only, not starting with a digit")]
    RoleName(String),
}

/// Applies `migrator` when `migrate` is set (the owner's `migrate` step, or
/// the embedded suite, which runs as one role); otherwise only checks that
/// every migration is applied, so a runtime role without DDL rights can start.
pub async fn prepare_schema(
    pool: &Pool,
    migrator: &sqlx::migrate::Migrator,
    migrate: bool,
    service: &str,
) -> Result<(), SchemaError> {
    if migrate {
        match pool {
            Pool::Sqlite(p) => migrator.run(p).await?,
            Pool::Postgres(p) => migrator.run(p).await?,
        }
        return Ok(());
    }
    let query = "SELECT version FROM _sqlx_migrations WHERE success";
    let applied: Vec<(i64,)> = match match pool {
        Pool::Sqlite(p) => sqlx::query_as(query).fetch_all(p).await,
        Pool::Postgres(p) => sqlx::query_as(query).fetch_all(p).await,
    } {
        Ok(applied) => applied,
        // No migrations table at all: nothing is applied.
        Err(sqlx::Error::Database(e)) if is_undefined_table(e.as_ref()) => Vec::new(),
        // Anything else (no permission to read it, no connection) is not
        // "behind": running the migrations would not help.
        Err(e) => return Err(e.into()),
    };
    let applied: std::collections::HashSet<i64> = applied.into_iter().map(|(v,)| v).collect();
    match migrator
        .iter()
        .map(|m| m.version)
        .find(|v| !applied.contains(v))
    {
        Some(missing) => Err(SchemaError::Behind {
            service: service.to_owned(),
            missing,
        }),
        None => Ok(()),
    }
}

/// Whether `e` says the table does not exist (PostgreSQL's `undefined_table`,
/// SQLite's "no such table").
fn is_undefined_table(e: &dyn sqlx::error::DatabaseError) -> bool {
    e.code().as_deref() == Some("42P01") || e.message().starts_with("no such table")
}

/// Grants `role` exactly `privileges` (each e.g. `SELECT, INSERT ON audit_events`),
/// plus what every runtime role needs: the schema and reading which
/// migrations are applied. PostgreSQL only; the role must exist.
pub async fn grant_runtime_role(
    pool: &PgPool,
    role: &str,
    privileges: &[&str],
) -> Result<(), SchemaError> {
    let valid = role
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && role.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(SchemaError::RoleName(role.to_owned()));
    }
    let mut tx = pool.begin().await?;
    for grant in ["USAGE ON SCHEMA public", "SELECT ON _sqlx_migrations"]
        .iter()
        .chain(privileges)
    {
        tx.execute(format!("GRANT {grant} TO \"{role}\"").as_str())
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::{borrow::Cow, error::Error as StdError, fmt};

    use sqlx::error::{DatabaseError, ErrorKind};

    /// A database error with only a SQLSTATE, as a server would send it.
    #[derive(Debug)]
    struct Sqlstate(&'static str);

    impl fmt::Display for Sqlstate {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl StdError for Sqlstate {}

    impl DatabaseError for Sqlstate {
        fn message(&self) -> &str {
            self.0
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn StdError + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn StdError + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    fn database(code: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(Sqlstate(code)))
    }

    #[test]
    fn outages_are_unavailable_and_mistakes_are_not() {
        use std::io::{Error, ErrorKind::ConnectionRefused};
        for down in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(Error::new(ConnectionRefused, "refused")),
            sqlx::Error::Tls("handshake".into()),
            database("57P01"),
            database("57P03"),
            database("53300"),
            database("08006"),
        ] {
            assert!(super::is_unavailable(&down), "{down}");
        }
        for mistake in [
            sqlx::Error::RowNotFound,
            sqlx::Error::Protocol("odd".into()),
            sqlx::Error::ColumnNotFound("x".into()),
            // unique_violation, undefined_table, insufficient_privilege
            database("23505"),
            database("42P01"),
            database("42501"),
        ] {
            assert!(!super::is_unavailable(&mistake), "{mistake}");
        }
    }
}
