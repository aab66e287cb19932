//! Embedded mode on PostgreSQL: one database per service on the given server.

use sqlx::{Connection, Executor, PgConnection};

/// `server/database`, creating the database when it does not exist yet.
pub(crate) async fn ensure_database(server: &str, database: &str) -> Result<String, sqlx::Error> {
    let server = server.trim_end_matches('/');
    let mut admin = PgConnection::connect(&format!("{server}/postgres")).await?;
    let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(database)
        .fetch_optional(&mut admin)
        .await?;
    if exists.is_none() {
        // Identifiers cannot be bound; `database` is one of our own fixed names.
        admin
            .execute(format!("CREATE DATABASE \"{database}\"").as_str())
            .await?;
    }
    Ok(format!("{server}/{database}"))
}
