//! The schema step, apart from serving: `audit-svc migrate [--database-url
//! URL] [--grant-to ROLE]` runs the migrations as the database owner and
//! grants ROLE what the service needs at run time (SELECT and INSERT on
//! `audit_events`, see [`RUNTIME_GRANTS`]), so audit-svc can serve as a role
//! that cannot alter, update, delete or truncate the trail. Its arguments are
//! parsed apart from [`Config`](crate::Config)'s, so it needs no identity
//! secret.

use archive_common::schema_step::SchemaStepOf;

pub use crate::store::RUNTIME_GRANTS;
use crate::{
    Error,
    store::{PostgresStore, SqliteStore},
};

/// `audit-svc migrate`: the URL from `--database-url` or `AUDIT_DATABASE_URL`.
pub const SCHEMA_STEP: SchemaStepOf = SchemaStepOf {
    service: "audit-svc",
    url_env: "AUDIT_DATABASE_URL",
    default_url: "sqlite://audit.db",
};

/// Migrates the database at `database_url` and, with `grant_to`, grants that
/// role audit-svc's runtime privileges (PostgreSQL only).
pub async fn run(database_url: &str, grant_to: Option<&str>) -> Result<(), Error> {
    if database_url.starts_with("sqlite:") {
        if grant_to.is_some() {
            return Err(Error::Usage(
                "--grant-to needs PostgreSQL: SQLite has no roles".into(),
            ));
        }
        SqliteStore::open(database_url, true).await?;
    } else {
        let store = PostgresStore::open(database_url, true).await?;
        if let Some(role) = grant_to {
            store.grant_runtime_role(role).await?;
        }
    }
    Ok(())
}
